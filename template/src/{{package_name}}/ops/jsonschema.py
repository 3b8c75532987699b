"""A small JSON Schema validator for the subset of the specification this project's schemas use.

The ops CLI is standard library + PyYAML only, so it cannot depend on the ``jsonschema``
package. Supported keywords: ``type``, ``properties``, ``additionalProperties`` (boolean or
schema), ``required``, ``enum``, ``const``, ``minimum``, ``maximum``, ``exclusiveMinimum``,
``minLength``, ``pattern``, ``items``, ``anyOf``, ``$ref`` to ``#/$defs/…``. Annotations
(``description``, ``default``, ``title``, ``$schema``, ``$id``) are ignored. A schema using any
other keyword is rejected, so an unsupported rule is never silently skipped.
"""

from __future__ import annotations

import re
from typing import Any

_ANNOTATIONS = {"description", "default", "title", "$schema", "$id", "$defs", "$comment", "examples"}
_SUPPORTED = _ANNOTATIONS | {
    "type",
    "properties",
    "additionalProperties",
    "required",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "minLength",
    "pattern",
    "items",
    "anyOf",
    "$ref",
}
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


class SchemaError(Exception):
    """The schema itself uses a keyword this validator does not implement."""


def _type_ok(value: Any, name: str) -> bool:
    # bool is a subclass of int in Python, but not an integer in JSON.
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[name])


def _path(parts: tuple[str, ...]) -> str:
    return ".".join(parts) or "(top level)"


def validate(value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """Validate ``value`` against ``schema``.

    Returns:
        ``(key path, broken rule)`` pairs; empty when the value is valid.

    Raises:
        SchemaError: the schema uses an unsupported keyword.
    """
    return _validate(value, schema, root or schema, ())


def _validate(value: Any, schema: dict[str, Any], root: dict[str, Any], at: tuple[str, ...]) -> list[tuple[str, str]]:
    unknown = set(schema) - _SUPPORTED
    if unknown:
        raise SchemaError(f"unsupported JSON Schema keywords at {_path(at)}: {', '.join(sorted(unknown))}")
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/"):
            raise SchemaError(f"only local #/$defs references are supported, not {ref!r}")
        return _validate(value, root["$defs"][ref.removeprefix("#/$defs/")], root, at)
    if "anyOf" in schema:
        if any(not _validate(value, option, root, at) for option in schema["anyOf"]):
            return []
        return [(_path(at), "matches none of the allowed forms")]
    errors: list[tuple[str, str]] = []
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(_type_ok(value, name) for name in names):
            return [(_path(at), f"must be of type {' or '.join(names)}, not {type(value).__name__}")]
    if "enum" in schema and value not in schema["enum"]:
        errors.append((_path(at), f"must be one of {', '.join(map(str, schema['enum']))}"))
    if "const" in schema and value != schema["const"]:
        errors.append((_path(at), f"must be {schema['const']!r}"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append((_path(at), f"must be at least {schema['minimum']}"))
        if "maximum" in schema and value > schema["maximum"]:
            errors.append((_path(at), f"must be at most {schema['maximum']}"))
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append((_path(at), f"must be greater than {schema['exclusiveMinimum']}"))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append((_path(at), f"must be at least {schema['minLength']} characters"))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append((_path(at), f"must match {schema['pattern']}"))
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors.extend(_validate(item, schema["items"], root, (*at, str(index))))
    if isinstance(value, dict):
        properties: dict[str, Any] = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append((_path((*at, name)), "is required"))
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                errors.extend(_validate(item, properties[key], root, (*at, str(key))))
            elif extra is False:
                errors.append((_path((*at, str(key))), "is not a known key"))
            elif isinstance(extra, dict):
                errors.extend(_validate(item, extra, root, (*at, str(key))))
    return errors
