"""Security policies (``security/policies/*.json``) as typed objects the service enforces.

The models are the policies' one definition: the JSON Schemas beside the files
(``security/policies/schemas/``) are generated from them (:func:`schema_documents`), a test
fails when a committed schema drifts, and prodready validates the files against those schemas.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["user", "admin"]
POLICY_NAMES = ("password", "access", "encryption")
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _Policy(BaseModel):
    # A misspelt key is an error, not a silently ignored rule; `$schema` points at the schema.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_pointer: str | None = Field(default=None, alias="$schema", description="Path of this file's JSON Schema.")


class HashingMinimum(BaseModel):
    """The weakest argon2id costs staging and production accept (OWASP: 19 MiB, 2 passes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_kib: int = Field(ge=8, description="Least memory per hash, in KiB.")
    time_cost: int = Field(ge=1, description="Least number of passes.")


class PasswordPolicy(_Policy):
    """Rules a new password must meet, and how strongly it is hashed when deployed."""

    min_length: int = Field(ge=8, le=1024, description="Shortest password accepted (NIST SP 800-63B: at least 8).")
    max_length: int = Field(ge=64, le=1024, description="Longest password accepted; at least 64 so passphrases fit.")
    require_lowercase: bool
    require_uppercase: bool
    require_digit: bool
    require_symbol: bool
    hashing_minimum: HashingMinimum = Field(
        default=HashingMinimum(memory_kib=19_456, time_cost=2),
        description="Weakest password_hashing settings staging and production start with.",
    )

    @model_validator(mode="after")
    def _lengths_ordered(self) -> PasswordPolicy:
        if self.max_length < self.min_length:
            raise ValueError("max_length must not be below min_length")
        return self


class AccessPolicy(_Policy):
    """Token lifetimes and which roles may do what."""

    access_token_expire_minutes: int = Field(ge=1, le=1440, description="Lifetime of an access token.")
    jwt_algorithm: Literal["HS256", "HS384", "HS512"]
    previous_jwt_key_grace_minutes: int = Field(
        default=1440,
        ge=0,
        le=43_200,
        description=(
            "Minutes after `keys rotate JWT_SECRET_KEY` (JWT_SECRET_KEY_ROTATED_AT) during which tokens signed "
            "with JWT_SECRET_KEY_PREVIOUS are still accepted; at least access_token_expire_minutes plus the time "
            "a deployment takes, or sessions end early."
        ),
    )
    default_role: Role = Field(description="Role of a new sign-up.")
    roles: dict[Role, list[str]] = Field(description="Permissions of each role.")

    @model_validator(mode="after")
    def _default_role_defined(self) -> AccessPolicy:
        if self.default_role not in self.roles:
            raise ValueError("default_role must be one of the roles defined under roles")
        return self


class EncryptionPolicy(_Policy):
    """Key length and rotation rules."""

    min_key_length: int = Field(ge=32, le=1024, description="Shortest key accepted, in characters.")
    max_key_age_days: int = Field(ge=1, le=3650, description="Days a key may live before `keys rotate`.")
    field_encryption: Literal["AES-256-GCM"]


class Policies(BaseModel):
    """All three policies."""

    model_config = ConfigDict(frozen=True)

    password: PasswordPolicy
    access: AccessPolicy
    encryption: EncryptionPolicy


MODELS: dict[str, type[_Policy]] = {
    "password": PasswordPolicy,
    "access": AccessPolicy,
    "encryption": EncryptionPolicy,
}


def policy_dir() -> Path:
    """Return the policy folder: ``$POLICY_DIR`` or ``./security/policies``."""
    return Path(os.environ.get("POLICY_DIR", "security/policies"))


def schema_documents() -> dict[str, dict[str, Any]]:
    """Return each policy's JSON Schema, by file name under ``schemas/``, as generated from its model."""
    documents = {}
    for name, model in MODELS.items():
        file_name = f"{name}_policy.schema.json"
        schema = model.model_json_schema(by_alias=True)
        documents[file_name] = {"$schema": JSON_SCHEMA_DIALECT, "$id": file_name, **schema}
    return documents


def write_schemas() -> None:
    """Write ``security/policies/schemas/*.schema.json`` from the models (after changing one)."""
    for file_name, document in schema_documents().items():
        path = policy_dir() / "schemas" / file_name
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


@lru_cache
def get_policies() -> Policies:
    """Load the three policy files once per process."""
    root = policy_dir()
    data = {name: json.loads((root / f"{name}_policy.json").read_text(encoding="utf-8")) for name in POLICY_NAMES}
    return Policies.model_validate(data)


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
