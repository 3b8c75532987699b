"""Validation against a project's JSON Schemas, reported as ``(key path, broken rule)`` pairs.

The validator is the ``jsonschema`` package (Draft 2020-12); this module only words its errors
the way the other reports do: the dotted path of the key, then the rule in plain words.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

# The library is imported on first use: it takes longer to import than a static check of a
# whole project takes to run, and most commands validate nothing.


class SchemaError(Exception):
    """The schema itself is not a valid JSON Schema."""


def _path(parts: Any) -> str:
    return ".".join(str(part) for part in parts) or "(top level)"


def _rule(error: ValidationError) -> tuple[str, str]:
    kind, expected, at = error.validator, error.validator_value, error.absolute_path
    if kind == "additionalProperties":
        known = error.schema.get("properties", {})
        extra = [key for key in error.instance if key not in known] if isinstance(error.instance, dict) else []
        return _path([*at, *extra[:1]]), "is not a known key"
    if "propertyNames" in error.relative_schema_path:
        # The rule is about a key's name: say which key, not only the mapping it sits in.
        return _path([*at, error.instance]), "is not a known key"
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return _path([*at, missing]), "is required"
    words = {
        "type": lambda: f"must be of type {' or '.join(expected) if isinstance(expected, list) else expected}",
        "enum": lambda: f"must be one of {', '.join(map(str, expected))}",
        "const": lambda: f"must be {expected!r}",
        "minimum": lambda: f"must be at least {expected}",
        "maximum": lambda: f"must be at most {expected}",
        "exclusiveMinimum": lambda: f"must be greater than {expected}",
        "exclusiveMaximum": lambda: f"must be less than {expected}",
        "minLength": lambda: f"must be at least {expected} characters",
        "maxLength": lambda: f"must be at most {expected} characters",
        "minItems": lambda: f"must have at least {expected} items",
        "pattern": lambda: f"must match {expected}",
        "anyOf": lambda: "matches none of the allowed forms",
    }
    return _path(at), words[kind]() if kind in words else error.message


@functools.lru_cache(maxsize=32)
def _validator(schema_text: str) -> Draft202012Validator:
    # Checking a schema against the metaschema is the slow part of validation: once per schema.
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError as LibrarySchemaError
    from referencing import Registry

    schema = json.loads(schema_text)
    try:
        Draft202012Validator.check_schema(schema)
    except LibrarySchemaError as exc:
        raise SchemaError(f"not a valid JSON Schema: {exc.message}") from exc
    # An empty registry: only references inside the schema resolve. Without one the library
    # would fetch any http(s) $ref a project's file names, at validation time.
    return Draft202012Validator(schema, registry=Registry())


def validate(value: Any, schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Validate ``value`` against ``schema``.

    Returns:
        ``(key path, broken rule)`` pairs, in document order; empty when the value is valid.

    Raises:
        SchemaError: ``schema`` is not a valid JSON Schema, or a ``$ref`` in it does not resolve.
    """
    from referencing.exceptions import Unresolvable

    validator = _validator(json.dumps(schema, sort_keys=True))
    try:
        errors = sorted(validator.iter_errors(value), key=lambda error: list(error.absolute_path))
    except Unresolvable as exc:
        raise SchemaError(f"a $ref does not resolve to a part of the schema ({exc})") from exc
    return [_rule(error) for error in errors]
