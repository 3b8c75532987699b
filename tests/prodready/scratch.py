"""Helpers of prodready's tests: small repositories in tmp_path, one check run on them, tools on PATH."""

from __future__ import annotations

import secrets
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml
from legacy import git as git  # the one git helper of the tests, re-exported

from prodready import keyrules
from prodready.checks import CHECKS, Context, Project, evaluate
from prodready.report import Finding

CHECKS_BY_ID = {item.id: item for item in CHECKS}


def write(root: Path, files: dict[str, str]) -> Path:
    """Create ``root`` holding ``files`` (relative path → text, dedented)."""
    root.mkdir(parents=True, exist_ok=True)
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def outcome(root: Path, check_id: str, **mode: bool) -> Finding:
    """Run one check on ``root``."""
    return evaluate(CHECKS_BY_ID[check_id], Context(Project(root), **mode))


def installed(monkeypatch: pytest.MonkeyPatch, *tools: str) -> None:
    """Make ``shutil.which`` find exactly ``tools``."""
    monkeypatch.setattr(shutil, "which", lambda name: f"/opt/bin/{name}" if name in tools else None)


def strong_key(name: str) -> str:
    """Return a value for ``name`` that meets the key rules of the working directory's key list."""
    for _ in range(100):
        value = keyrules.generate(name) if name in keyrules.KEY_NAMES else secrets.token_urlsafe(48)
        if not keyrules.key_problems(name, value):
            return value
    raise AssertionError(f"no strong value for {name}")


def random_value() -> str:
    """Return a random 64-character value that no placeholder rule matches (needs no key list)."""
    while True:
        value = secrets.token_urlsafe(48)
        if not keyrules.is_placeholder(value):
            return value


def set_yaml(path: Path, dotted: str, value: object) -> None:
    """Set ``section.key`` in the YAML file at ``path`` (comments are not kept)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    section, _, key = dotted.partition(".")
    data.setdefault(section, {})[key] = value
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
