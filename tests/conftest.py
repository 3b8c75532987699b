"""Shared fixtures of the template tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from helpers import BIN, Render, copy_project, example_answers

# Generated projects run prodready through `uvx --from <template repository>@<commit>`; a
# project rendered from this working tree (uncommitted changes included) has no such commit,
# so their Makefiles run this working tree's prodready, installed in the tool environment.
# tests/test_package.py runs the uvx forms themselves.
os.environ.setdefault("PRODREADY", str(BIN / "prodready"))


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Render:
    """Render a project once per distinct set of answers and share it across tests.

    Tests that use it must treat the project as read-only (ruff with ``--no-cache``, parsing
    and compiling in memory); a test that changes files renders its own with ``copy_project``.
    """
    cache: dict[tuple[tuple[str, Any], ...], Path] = {}

    def render(**answers: Any) -> Path:
        # Keyed by the complete answers, so render() and render(**same_as_the_examples) share.
        key = tuple(sorted({**example_answers(), **answers}.items()))
        if key not in cache:
            cache[key] = copy_project(tmp_path_factory.mktemp("render") / "project", **answers)
        return cache[key]

    return render
