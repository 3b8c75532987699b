"""Shared fixtures of the template tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import Render, copy_project, example_answers


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
