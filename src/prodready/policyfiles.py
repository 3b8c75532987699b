"""A project's security policy files (``security/policies/*.json``) and their JSON Schemas.

The service reads the policies into typed models and generates the schemas from them; this
module validates the files against those schemas and reads the numbers the key commands need
(minimum key length, maximum key age).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from . import jsonschema, keyrules

POLICY_NAMES = ("password", "access", "encryption")


class PolicyError(ValueError):
    """A policy or schema file cannot be read or is not a JSON object."""


def policy_dir() -> Path:
    """Return the policy folder: ``$POLICY_DIR`` or ``./security/policies``."""
    return Path(os.environ.get("POLICY_DIR", "security/policies"))


def policy_path(name: str, directory: Path | None = None) -> Path:
    """Return the file of the policy ``name`` (``password``, ``access`` or ``encryption``)."""
    return (directory or policy_dir()) / f"{name}_policy.json"


def _read_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot be read ({exc.strerror})") from exc
    except ValueError as exc:
        raise PolicyError(f"{path}: is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: must hold a JSON object, not {type(data).__name__}")
    return data


def load(name: str, directory: Path | None = None) -> dict[str, Any]:
    """Read one policy file.

    Raises:
        PolicyError: the file is missing, unreadable or not a JSON object.
    """
    return _read_object(policy_path(name, directory))


def schema_path(name: str, directory: Path | None = None) -> Path:
    """Return the project's own schema of a policy: ``schemas/<name>_policy.schema.json``.

    A policy's ``$schema`` pointer is not followed: a file that points at a permissive schema
    of its own choosing must not validate itself.
    """
    return (directory or policy_dir()) / "schemas" / f"{name}_policy.schema.json"


def _cross_field_problems(name: str, policy: dict[str, Any]) -> list[tuple[str, str]]:
    # Rules between fields, which the schemas' per-field subset cannot say.
    problems: list[tuple[str, str]] = []
    shortest, longest = policy.get("min_length"), policy.get("max_length")
    if name == "password" and isinstance(shortest, int) and isinstance(longest, int) and longest < shortest:
        problems.append(("max_length", "must not be below min_length"))
    roles = policy.get("roles")
    if name == "access" and isinstance(roles, dict) and policy.get("default_role") not in roles:
        problems.append(("default_role", "must be one of the roles defined under roles"))
    return problems


def validate(name: str, directory: Path | None = None) -> list[tuple[str, str]]:
    """Check one policy against its JSON Schema and the rules between its fields.

    Returns:
        ``(key path, broken rule)`` pairs; empty when the policy is valid.

    Raises:
        PolicyError: the policy or its schema cannot be read.
        jsonschema.SchemaError: the schema uses a keyword the validator does not implement.
    """
    policy = load(name, directory)
    schema = _read_object(schema_path(name, directory))
    return jsonschema.validate(policy, schema) + _cross_field_problems(name, policy)


def _number(name: str, key: str, directory: Path | None) -> int | None:
    path = policy_path(name, directory)
    if not path.exists():
        return None
    value = load(name, directory).get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise PolicyError(f"{path}: {key} must be a whole number")
    return value


def min_key_length(directory: Path | None = None) -> int:
    """Return the minimum key length the encryption policy sets.

    The policy may raise the floor (:data:`.keyrules.MIN_KEY_LENGTH`), never lower it; without
    a policy file the floor applies.

    Raises:
        PolicyError: the policy file exists but is unreadable or ``min_key_length`` is not a number.
    """
    value = _number("encryption", "min_key_length", directory)
    return max(value or 0, keyrules.MIN_KEY_LENGTH)


def max_key_age_days(directory: Path | None = None) -> int | None:
    """Return how many days a key may live before rotation, or None without a policy file.

    Raises:
        PolicyError: the policy file exists but is unreadable or ``max_key_age_days`` is not a number.
    """
    return _number("encryption", "max_key_age_days", directory)
