"""Request and response bodies of the API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

T = TypeVar("T")


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# PostgreSQL text cannot hold NUL: refusing it here answers 422 instead of a database error,
# and keeps stored data the same on every database.
Text = Annotated[str, AfterValidator(_no_nul)]


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(_Schema):
    """Registration: the password is checked against the password policy."""

    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)
    full_name: Text = Field(default="", max_length=200)


class UserRead(_Schema):
    """A user as the API shows it (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: EmailStr
    full_name: str
    role: Literal["user", "admin"]
    is_active: bool
    created_at: datetime


class Token(_Schema):
    """An access token for the ``Authorization: Bearer`` header."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 -- the OAuth2 token type, not a secret
    expires_in: int


class ItemCreate(_Schema):
    """A new item."""

    title: Text = Field(min_length=1, max_length=200)
    description: Text = Field(default="", max_length=10_000)
    secret_note: Text | None = Field(default=None, max_length=10_000)


class ItemUpdate(_Schema):
    """A partial update: only the fields given change."""

    title: Text | None = Field(default=None, min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=10_000)
    secret_note: Text | None = Field(default=None, max_length=10_000)


class ItemRead(_Schema):
    """An item as the API shows it, with its secret note decrypted for the owner."""

    id: uuid.UUID
    owner_id: uuid.UUID
    title: str
    description: str
    secret_note: str | None
    created_at: datetime
    updated_at: datetime


class Page(_Schema, Generic[T]):
    """One page of a list."""

    items: list[T]
    total: int
    limit: int
    offset: int


class Check(_Schema):
    """One dependency's state in the readiness answer."""

    status: Literal["ok", "error"]
    detail: str = ""


class Health(_Schema):
    """Liveness or readiness answer."""

    status: Literal["ok", "degraded", "error"]
    checks: dict[str, Check] = Field(default_factory=dict)
