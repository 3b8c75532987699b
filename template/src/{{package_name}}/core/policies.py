"""Security policies (``security/policies/*.json``) as typed objects the service enforces."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..ops import policyfiles

Role = Literal["user", "admin"]


class _Policy(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PasswordPolicy(_Policy):
    """Rules a new password must meet."""

    min_length: int = Field(ge=8)
    max_length: int = Field(le=1024)
    require_lowercase: bool
    require_uppercase: bool
    require_digit: bool
    require_symbol: bool


class AccessPolicy(_Policy):
    """Token lifetimes and which roles may do what."""

    access_token_expire_minutes: int = Field(ge=1, le=1440)
    jwt_algorithm: Literal["HS256", "HS384", "HS512"]
    default_role: Role
    roles: dict[Role, list[str]]


class EncryptionPolicy(_Policy):
    """Key length and rotation rules."""

    min_key_length: int = Field(ge=32)
    max_key_age_days: int = Field(ge=1)
    field_encryption: Literal["AES-256-GCM"]


class Policies(_Policy):
    """All three policies."""

    password: PasswordPolicy
    access: AccessPolicy
    encryption: EncryptionPolicy


def policy_dir() -> Path:
    """Return the policy folder: ``$POLICY_DIR`` or ``./security/policies``."""
    return policyfiles.policy_dir()


@lru_cache
def get_policies() -> Policies:
    """Load the three policy files once per process."""
    root = policy_dir()
    # `$schema` (the pointer to each file's JSON Schema) is ignored like any extra key.
    return Policies.model_validate({name: policyfiles.load(name, root) for name in policyfiles.POLICY_NAMES})


def password_problems(password: str, policy: PasswordPolicy) -> list[str]:
    """List the password policy rules ``password`` breaks."""
    problems = []
    if len(password) < policy.min_length:
        problems.append(f"at least {policy.min_length} characters")
    if len(password) > policy.max_length:
        problems.append(f"at most {policy.max_length} characters")
    if policy.require_lowercase and not any(c.islower() for c in password):
        problems.append("a lowercase letter")
    if policy.require_uppercase and not any(c.isupper() for c in password):
        problems.append("an uppercase letter")
    if policy.require_digit and not any(c.isdigit() for c in password):
        problems.append("a digit")
    if policy.require_symbol and all(c.isalnum() for c in password):
        problems.append("a symbol")
    return problems
