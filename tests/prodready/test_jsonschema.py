"""``prodready.jsonschema``: the project's schemas applied, each error as a key path and a rule in words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from prodready import jsonschema


@pytest.fixture(scope="module")
def config_schema(rendered_project: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((rendered_project / "config" / "schema.json").read_text(encoding="utf-8"))
    return schema


@pytest.mark.parametrize(
    ("document", "path", "rule"),
    [
        ({"app": {"debug": "yes"}}, "app.debug", "must be of type boolean"),
        ({"app": {"log_level": "LOUD"}}, "app.log_level", "must be one of DEBUG, INFO, WARNING, ERROR"),
        ({"server": {"port": 70000}}, "server.port", "must be at most 65535"),
        ({"server": {"workers": 0}}, "server.workers", "must be at least 1"),
        ({"app": {"debgu": True}}, "app.debgu", "is not a known key"),
        ({"nonsense": {}}, "nonsense", "is not a known key"),
        ({"app": {"public_url": "ftp://x"}}, "app.public_url", "must match "),
        ({"app": {"allowed_hosts": [1]}}, "app.allowed_hosts.0", "must be of type string"),
        ({"app": {"allowed_hosts": ["api.*.example.com"]}}, "app.allowed_hosts.0", "must match "),
        ({"app": {"access_log_flush_seconds": 11}}, "app.access_log_flush_seconds", "must be at most 10"),
        ({"password_hashing": {"memory_kib": 4}}, "password_hashing.memory_kib", "must be at least 8"),
    ],
)
def test_the_config_schema_rejects_bad_values_naming_the_key(
    config_schema: dict[str, Any], document: dict[str, Any], path: str, rule: str
) -> None:
    errors = jsonschema.validate(document, config_schema)

    assert [key for key, _ in errors] == [path], errors
    # A pattern rule goes on with the pattern itself; every other rule is the whole message.
    assert errors[0][1].startswith(rule), errors


def test_errors_come_in_document_order_with_the_top_level_named() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {"b": {"type": "integer"}, "c": {"type": "string", "minLength": 2}},
    }

    assert jsonschema.validate({"b": "x", "c": "y"}, schema) == [
        ("a", "is required"),
        ("b", "must be of type integer"),
        ("c", "must be at least 2 characters"),
    ]
    assert jsonschema.validate([], schema) == [("(top level)", "must be of type object")]


def test_an_invalid_schema_is_an_error_not_a_silent_pass() -> None:
    with pytest.raises(jsonschema.SchemaError, match="not a valid JSON Schema"):
        jsonschema.validate(1, {"type": "integr"})


def test_keywords_beyond_the_common_ones_are_enforced_in_the_librarys_words() -> None:
    assert jsonschema.validate(12, {"multipleOf": 7}) == [("(top level)", "12 is not a multiple of 7")]
    # oneOf means exactly one: an integer is a number too.
    [(where, rule)] = jsonschema.validate(1, {"oneOf": [{"type": "integer"}, {"type": "number"}]})
    assert where == "(top level)"
    assert "is valid under each of" in rule


def test_any_of_and_local_refs() -> None:
    schema = {"$defs": {"n": {"type": "integer"}}, "anyOf": [{"$ref": "#/$defs/n"}, {"type": "null"}]}

    assert jsonschema.validate(None, schema) == []
    assert jsonschema.validate(3, schema) == []
    assert jsonschema.validate("x", schema) == [("(top level)", "matches none of the allowed forms")]


@pytest.mark.parametrize("reference", ["http://example.com/schema", "#/$defs/missing"])
def test_a_ref_outside_the_schema_is_a_schema_error_and_never_fetched(reference: str) -> None:
    with pytest.raises(jsonschema.SchemaError, match="does not resolve"):
        jsonschema.validate(1, {"$ref": reference})


def test_bool_is_not_an_integer_and_the_other_rules_in_words() -> None:
    assert jsonschema.validate(True, {"type": "integer"}) == [("(top level)", "must be of type integer")]
    assert jsonschema.validate("ab", {"type": "string", "minLength": 3}) == [
        ("(top level)", "must be at least 3 characters")
    ]
    assert jsonschema.validate(1, {"const": 2}) == [("(top level)", "must be 2")]
    assert jsonschema.validate(0, {"type": "number", "exclusiveMinimum": 0}) == [
        ("(top level)", "must be greater than 0")
    ]
    assert jsonschema.validate([], {"type": "array", "minItems": 1}) == [("(top level)", "must have at least 1 items")]


def test_a_key_whose_name_breaks_property_names_is_named() -> None:
    schema = {"type": "object", "properties": {"roles": {"type": "object", "propertyNames": {"enum": ["user"]}}}}

    assert jsonschema.validate({"roles": {"user": [], "root": []}}, schema) == [("roles.root", "is not a known key")]
