"""The service and prodready read the same rule files with code of their own: they must agree.

A generated service may not import tooling, and prodready checks repositories whose code it
cannot import, so each has a small reader of the shared data (the key list and its rules, the
configuration layers). These tests feed both the same files and values and compare what they
decide, so the two readers cannot drift apart unnoticed.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import secrets
import sys
from pathlib import Path
from types import ModuleType

import pytest
from helpers import Render, example_answers

from prodready import auditlog, keyrules, keys
from prodready import layers as prodready_layers

PACKAGE = example_answers()["package_name"]
# Values a key may hold: fresh keys of each encoding, placeholders, defaults and near-misses.
VALUES = [
    "",
    "CHANGE_ME",
    "change-me-please-0123456789abcdefghij",
    "${SECRET_KEY}",
    "<generated-by-keys-ensure>",
    "secret",
    "password123",
    "todo-" + "a1b2c3d4" * 6,
    "x" * 64,
    "abcabcabc" * 8,
    "0" * 64,
    secrets.token_hex(32),
    secrets.token_hex(31),
    secrets.token_urlsafe(64),
    secrets.token_urlsafe(16),
    "your_secret_" + secrets.token_urlsafe(40),
    "Tr0ub4dor&3-correct-horse-battery-staple!",
]


def load_module(path: Path, name: str) -> ModuleType:
    """Import one module of the rendered service from its file (it imports no sibling module)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # pydantic resolves the models' postponed annotations through the module's entry here.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def project(rendered: Render) -> Path:
    return rendered()


def test_key_rules_agree_on_every_key_and_value(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    service = load_module(project / "src" / PACKAGE / "core" / "keys.py", "service_keys")
    key_list = service.KeyList.model_validate_json((project / "security" / "keys.json").read_text())
    monkeypatch.setenv("KEYS_FILE", str(project / "security" / "keys.json"))
    names = [spec.name for spec in key_list.keys]
    assert names == list(keyrules.KEY_NAMES)
    compared = 0
    for name in [*names, *(n + service.PREVIOUS_SUFFIX for n in names)]:
        for value in VALUES:
            for min_length in (32, 80):
                ours = keyrules.key_problems(name, value, min_length)
                theirs = service.key_problems(name, value, key_list, min_length)
                assert ours == theirs, (name, value, min_length)
                compared += 1
    assert compared == 2 * len(names) * len(VALUES) * 2


def test_placeholder_rules_agree(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    service = load_module(project / "src" / PACKAGE / "core" / "keys.py", "service_keys")
    key_list = service.KeyList.model_validate_json((project / "security" / "keys.json").read_text())
    monkeypatch.setenv("KEYS_FILE", str(project / "security" / "keys.json"))
    decided = {value: keyrules.is_placeholder(value) for value in VALUES if value}
    assert decided == {value: service.is_placeholder(value, key_list) for value in VALUES if value}
    assert True in decided.values() and False in decided.values()


def test_key_lifecycles_agree(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    service = load_module(project / "src" / PACKAGE / "core" / "keys.py", "service_keys")
    key_list = service.KeyList.model_validate_json((project / "security" / "keys.json").read_text())
    monkeypatch.setenv("KEYS_FILE", str(project / "security" / "keys.json"))
    theirs = {spec.name: spec.previous_until for spec in key_list.keys}
    assert {spec.name: spec.previous_until for spec in keyrules.KEYS} == theirs
    assert {"grace_period", "reencryption"} <= set(theirs.values())
    assert (service.PREVIOUS_SUFFIX, service.ROTATED_AT_SUFFIX) == (
        keyrules.PREVIOUS_SUFFIX,
        keyrules.ROTATED_AT_SUFFIX,
    )
    value = secrets.token_hex(32)
    assert service.fingerprint(value) == keyrules.fingerprint(value)


@pytest.mark.parametrize(("remaining", "refused"), [(0, False), (2, True)])
def test_the_service_s_reencryption_record_is_what_keys_rotate_reads(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, remaining: int, refused: bool
) -> None:
    service = load_module(project / "src" / PACKAGE / "core" / "keys.py", "service_keys")
    monkeypatch.setenv("KEYS_FILE", str(project / "security" / "keys.json"))
    monkeypatch.chdir(tmp_path)
    current, previous = keyrules.generate("DB_ENCRYPTION_KEY"), keyrules.generate("DB_ENCRYPTION_KEY")
    counts = {"scanned": 5, "reencrypted": 5 - remaining, "already_current": 0, "failed": remaining, "changed": 0}
    event = service.reencryption_event(
        "production", current, previous, {**counts, "remaining": remaining}, "ops", dt.datetime.now(dt.UTC)
    )
    # Where the service's command appends it is where prodready reads it.
    log = tmp_path / service.KEY_AUDIT_LOG
    assert service.KEY_AUDIT_LOG == auditlog.AUDIT_LOG
    log.parent.mkdir(parents=True)
    log.write_text(json.dumps(event) + "\n", encoding="utf-8")

    values = {"DB_ENCRYPTION_KEY": current, "DB_ENCRYPTION_KEY_PREVIOUS": previous}
    reason = keys.previous_key_in_use("DB_ENCRYPTION_KEY", "production", values)

    assert auditlog.last_reencryption("production") == event
    assert (reason is not None) is refused
    if refused:
        assert f"{remaining} stored values may still be encrypted with it" in str(reason)


@pytest.mark.parametrize("env", ["development", "testing", "staging", "production"])
def test_configuration_layers_merge_the_same(project: Path, env: str) -> None:
    service = load_module(project / "src" / PACKAGE / "core" / "layers.py", "service_layers")
    merged, origins = prodready_layers.load_layers(env, project / "config")
    assert merged == service.load_layers(env, project / "config")
    assert origins, "prodready records where each value came from"
