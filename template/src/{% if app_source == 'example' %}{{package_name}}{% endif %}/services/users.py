"""Registration, login and user look-ups."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..core.errors import AppError, AuthenticationError, ConflictError, NotFoundError
from ..core.policies import PasswordPolicy, password_problems
from ..core.security import hash_password, in_hashing_thread, verify_password
from ..models.schemas import UserCreate
from ..models.tables import User


class WeakPasswordError(AppError):
    """The password breaks the password policy."""

    status_code = 422
    code = "weak_password"


def normalize_email(email: str) -> str:
    """Lowercase an email so look-ups are case-insensitive."""
    return email.strip().lower()


async def register(session: AsyncSession, data: UserCreate, policy: PasswordPolicy, role: str = "user") -> User:
    """Create a user after checking the password policy and that the email is free.

    Raises:
        WeakPasswordError: the password breaks the policy (the message lists the rules).
        ConflictError: the email is already registered.
    """
    problems = password_problems(data.password, policy)
    if problems:
        raise WeakPasswordError("the password needs " + ", ".join(problems))
    email = normalize_email(str(data.email))
    if await get_by_email(session, email) is not None:
        raise ConflictError("this email is already registered")
    password_hash = await in_hashing_thread(hash_password, data.password)
    user = User(email=email, full_name=data.full_name, password_hash=password_hash, role=role)
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as exc:
        # Two registrations raced past the look-up above; the unique index decided.
        await session.rollback()
        raise ConflictError("this email is already registered") from exc
    return user


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    """Return the user with ``email``, or None."""
    result = await session.execute(select(User).where(User.email == normalize_email(email)))
    return result.scalar_one_or_none()


async def get(session: AsyncSession, user_id: uuid.UUID) -> User:
    """Return the user with ``user_id``.

    Raises:
        NotFoundError: there is no such user.
    """
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError("user not found")
    return user


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    """Return the active user whose credentials these are.

    Raises:
        AuthenticationError: unknown email, wrong password or inactive user (one message for
            all three, so the answer does not reveal which emails exist).
    """
    user = await get_by_email(session, email)
    valid = await in_hashing_thread(verify_password, password, user.password_hash if user else None)
    if not valid or user is None or not user.is_active:
        raise AuthenticationError("incorrect email or password")
    return user


async def list_users(session: AsyncSession, limit: int, offset: int) -> tuple[list[User], int]:
    """Return one page of users, oldest first, and the total count."""
    total = await session.scalar(select(func.count()).select_from(User))
    result = await session.execute(select(User).order_by(User.created_at, User.id).limit(limit).offset(offset))
    return list(result.scalars()), int(total or 0)


async def promote(session: AsyncSession, email: str) -> User:
    """Give the user with ``email`` the admin role (already an admin: nothing changes).

    Raises:
        NotFoundError: no user has this email.
    """
    user = await get_by_email(session, email)
    if user is None:
        raise NotFoundError("user not found")
    if user.role != "admin":
        user.role = "admin"
        await session.commit()
    return user
