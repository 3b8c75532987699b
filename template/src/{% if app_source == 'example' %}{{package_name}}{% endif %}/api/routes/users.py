"""The current user, and the user list for admins."""

from __future__ import annotations

from fastapi import APIRouter

from ...models.schemas import Page, UserRead
from ...services import users as user_service
from ..deps import AdminUser, CurrentUser, PageDep, SessionDep

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserRead)
async def me(user: CurrentUser) -> UserRead:
    """Return the authenticated user."""
    return UserRead.model_validate(user)


@router.get("", response_model=Page[UserRead])
async def list_users(_: AdminUser, session: SessionDep, page: PageDep) -> Page[UserRead]:
    """List every user (admin role only)."""
    users, total = await user_service.list_users(session, page.limit, page.offset)
    return Page[UserRead](
        items=[UserRead.model_validate(u) for u in users], total=total, limit=page.limit, offset=page.offset
    )
