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


@router.post(
    "/register",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "the email is already registered"}, 429: {"description": "too many attempts"}},
)
async def register(
    request: Request,
    data: UserCreate,
    session: SessionDep,
    settings: SettingsDep,
    policies: PoliciesDep,
    cache: CacheDep,
) -> UserRead:
    """Create an account; the password must meet the password policy.

    A taken email answers 409: a sign-up has to tell its user that the address already has an
    account, so it also tells anyone asking. The attempts per client address
    (``rate_limit.register_attempts``) bound how fast emails can be tried that way; the login
    answers the same for unknown emails and wrong passwords.
    """
    limits = settings.rate_limit
    await ratelimit.hit(cache, limits, "register", _client(request), limits.register_attempts)
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

    Attempts are limited per client address and per account (``rate_limit`` in the config)
    before the password is checked, so guessing costs the attacker the window, not the server a
    hash; the account's limit holds however many addresses the guesses come from.
    """
    limits = settings.rate_limit
    await ratelimit.hit(cache, limits, "login", _client(request), limits.login_attempts)
    account = user_service.normalize_email(form.username)
    await ratelimit.hit(cache, limits, "login-account", account, limits.login_attempts_per_account)
    user = await user_service.authenticate(session, form.username, form.password)
    token = create_access_token(str(user.id), user.role, settings, policies.access)
    return Token(access_token=token, expires_in=policies.access.access_token_expire_minutes * 60)


def _client(request: Request) -> str:
    """Return the client's address: the peer's, or what a trusted proxy forwarded (``server.forwarded_allow_ips``)."""
    return request.client.host if request.client else "unknown"
