"""Dependency aliases for routes: settings, session, cache, current user.

Every dependency is ``async def``, even those that never await: FastAPI runs a plain ``def``
dependency in a worker thread, a thread hop on every request for what is a dictionary look-up.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from ..cache import SafeCache
from ..core.errors import AuthenticationError, PermissionDeniedError
from ..core.policies import Policies
from ..core.security import decode_access_token
from ..core.settings import Settings
from ..db import Database
from ..services.items import ItemService
from ..services.principals import Principal, PrincipalCache, VerifiedTokens, read_principal

_bearer = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


async def get_settings(request: Request) -> Settings:
    """Return the settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_policies(request: Request) -> Policies:
    """Return the security policies the app enforces."""
    policies: Policies = request.app.state.policies
    return policies


async def get_cache(request: Request) -> SafeCache:
    """Return the app's cache."""
    cache: SafeCache = request.app.state.cache
    return cache


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield a database session for one request."""
    database: Database = request.app.state.database
    async with database.sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
PoliciesDep = Annotated[Policies, Depends(get_policies)]
CacheDep = Annotated[SafeCache, Depends(get_cache)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_current_user(request: Request, token: Annotated[str | None, Depends(_bearer)]) -> Principal:
    """Return the active user the bearer token belongs to.

    A token verified in the last seconds, and its user, come from the worker's memory while
    that is kept true (see ``services/notified.py``); otherwise the token is verified and the
    user read from the database with one statement.

    Raises:
        AuthenticationError: no token, an invalid one, or its user is gone or inactive.
    """
    if not token:
        raise AuthenticationError("not authenticated")
    state = request.app.state
    tokens: VerifiedTokens = state.verified_tokens
    claims = tokens.get(token)
    if claims is None:
        claims = decode_access_token(token, state.settings, state.policies.access)
        tokens.put(token, claims)
    try:
        user_id = uuid.UUID(claims.subject)
    except ValueError as exc:
        raise AuthenticationError("the access token is not valid") from exc
    principals: PrincipalCache = state.principals
    database: Database = state.database
    principal = await principals.fetch(user_id, lambda: read_principal(database.reads, user_id))
    if principal is None or not principal.is_active:
        raise AuthenticationError("the access token is not valid")
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_user)]


async def get_admin_user(user: CurrentUser) -> Principal:
    """Return the current user if it has the admin role.

    Raises:
        PermissionDeniedError: the user is not an admin.
    """
    if user.role != "admin":
        raise PermissionDeniedError("this needs the admin role")
    return user


AdminUser = Annotated[Principal, Depends(get_admin_user)]


async def get_item_service(request: Request) -> ItemService:
    """Return the app's item service (made at start-up; it opens a session per operation)."""
    items: ItemService = request.app.state.items
    return items


ItemServiceDep = Annotated[ItemService, Depends(get_item_service)]


@dataclass(frozen=True)
class PageParams:
    """One page of a list: ``limit`` (at most ``app.max_page_size``) and ``offset``."""

    limit: int
    offset: int


async def get_page(
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="page size")] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="items to skip")] = 0,
) -> PageParams:
    """Read ``limit`` and ``offset``, clamping ``limit`` to the configured maximum."""
    return PageParams(limit=min(limit, settings.app.max_page_size), offset=offset)


PageDep = Annotated[PageParams, Depends(get_page)]
