"""Fixtures of prodready's own tests: one rendered project, and scratch copies of it to work in.

prodready reads a generated project's files (``config/``, ``security/keys.json``,
``security/policies/``, the env templates) from the working directory, so a test that runs a
command first ``chdir``s into a fresh copy of them (``project``) and may change anything there.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import Render

# What prodready reads from a generated project; nothing else is copied into a scratch project.
PROJECT_FILES = ("config", "security", ".env.example", ".env.production.template")
# Variables that point prodready (or git) somewhere other than the working directory.
LOCATION_VARIABLES = ("KEYS_FILE", "CONFIG_DIR", "POLICY_DIR", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")


@pytest.fixture(scope="session")
def rendered_project(rendered: Render) -> Path:
    """The template rendered with the example answers (shared with the template tests); read-only.

    Only its rule files and env templates are copied into each scratch project, so what the
    hook did there (``.env``, git) never reaches these tests: they run those steps themselves.
    """
    return rendered()


@pytest.fixture(scope="session")
def key_names(rendered_project: Path) -> tuple[str, ...]:
    """The names ``security/keys.json`` of the rendered project lists, in file order."""
    data = json.loads((rendered_project / "security" / "keys.json").read_text(encoding="utf-8"))
    return tuple(entry["name"] for entry in data["keys"])


def copy_project_files(source: Path, destination: Path) -> Path:
    """Copy the files prodready reads (:data:`PROJECT_FILES`) from ``source`` into ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, destination / name)
        else:
            shutil.copy2(source / name, destination / name)
    return destination


@pytest.fixture
def project(
    rendered_project: Path, key_names: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A scratch copy of the rendered project's configuration, keys list, policies and env templates.

    It is the working directory for the test, and no variable of the developer's shell (keys,
    ``APP_ENV``, ``APP__DEBUG``-style overrides, ``*_URL``, git's or prodready's locations)
    reaches prodready.
    """
    root = copy_project_files(rendered_project, tmp_path / "project")
    keys = {*key_names, *(name + "_PREVIOUS" for name in key_names)}
    for name in list(os.environ):
        if name in keys or name in LOCATION_VARIABLES or name == "APP_ENV" or "__" in name or name.endswith("_URL"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(root)
    return root
