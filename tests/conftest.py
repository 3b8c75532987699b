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

# `make test` gives whole files to its two workers (--dist loadfile) in collection order
# (--no-loadscope-reorder; xdist would otherwise start the files with the most tests first, and a
# file of three project runs, minutes each, would start last and run alone). The longest files,
# as CI's --durations measure them, go first; the others follow in their usual order.
LONGEST_FIRST = (
    "test_update.py",
    "test_project.py",
    "test_adoption.py",
    "test_readiness_template.py",
    "test_answers_robust.py",
    "test_delivery.py",
    "test_kubernetes.py",
    "test_render.py",
    "test_package.py",
    "test_config_deps.py",
    "test_keys_template.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the files of :data:`LONGEST_FIRST` first, in that order (a stable sort: tests keep theirs)."""
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


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
