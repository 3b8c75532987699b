"""Registration and login."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from ...core.security import create_access_token
from ...models.schemas import Token, UserCreate, UserRead
from ...services import ratelimit
from ...services import users as user_service
from ..deps import CacheDep, PoliciesDep, SessionDep, SettingsDep

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", response_model=UserRead, status_code=status.HTTP_201_CREATED)
async def register(data: UserCreate, session: SessionDep, policies: PoliciesDep) -> UserRead:
    """Create an account; the password must meet the password policy."""
    user = await user_service.register(session, data, policies.password, role=policies.access.default_role)
    return UserRead.model_validate(user)


@router.post("/token", response_model=Token, responses={429: {"description": "too many attempts"}})
async def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    policies: PoliciesDep,
    cache: CacheDep,
) -> Token:
    """Exchange email (as ``username``) and password for an access token.

    Attempts are limited per client address (``rate_limit`` in the config) before the
    password is checked, so guessing costs the attacker the window, not the server a hash.
    """
    client = request.client.host if request.client else "unknown"
    await ratelimit.hit(cache, settings.rate_limit, "login", client)
    user = await user_service.authenticate(session, form.username, form.password)
    token = create_access_token(str(user.id), user.role, settings, policies.access)
    return Token(access_token=token, expires_in=policies.access.access_token_expire_minutes * 60)
