"""A generated service's layers: api → services → models/core, no tooling, no import cycles.

Read from the rendered source with ``ast`` (nothing is imported), for the answer combinations
that change which modules exist.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from helpers import Render, example_answers

PACKAGE = example_answers()["package_name"]
# Which layer may import which (besides itself); modules at the package root are layers too.
ALLOWED = {
    "core": set(),
    "utils": set(),
    "models": {"core"},
    "cache": {"core"},
    "db": {"core"},
    "services": {"core", "models", "cache", "utils"},
    "api": {"core", "models", "cache", "services", "db", "utils"},
    "main": {"core", "models", "cache", "services", "db", "api", "utils", "about"},
    "serve": {"core"},
    "about": set(),
    "admin": {"core", "models", "cache", "services", "db"},
}


def _layer(module: str) -> str:
    return module.split(".")[0]


def internal_imports(source_root: Path) -> dict[str, set[str]]:
    """Layer → the other layers its modules import (relative and absolute imports of the package)."""
    edges: dict[str, set[str]] = {}
    for path in sorted(source_root.rglob("*.py")):
        relative = path.relative_to(source_root).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not parts:
            continue
        layer = parts[0]
        package_parts = parts if path.name == "__init__.py" else parts[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                module = [*base, *(node.module.split(".") if node.module else [])]
                # `from . import x` at the package root names a module, or an attribute of __init__.
                submodules = [
                    a.name
                    for a in node.names
                    if (source_root / a.name).exists() or (source_root / f"{a.name}.py").exists()
                ]
                targets = [".".join(module)] if module else submodules
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(f"{PACKAGE}."):
                targets = [node.module.removeprefix(f"{PACKAGE}.")]
            elif isinstance(node, ast.Import):
                targets = [a.name.removeprefix(f"{PACKAGE}.") for a in node.names if a.name.startswith(f"{PACKAGE}.")]
            for target in targets:
                if _layer(target) != layer:
                    edges.setdefault(layer, set()).add(_layer(target))
    return edges


@pytest.mark.parametrize(
    "answers",
    [{}, pytest.param({"use_postgres": False, "use_redis": False}, marks=pytest.mark.slow)],
    ids=["defaults", "no-servers"],
)
def test_layers_import_only_downwards(rendered: Render, answers: dict[str, bool]) -> None:
    source_root = rendered(**answers) / "src" / PACKAGE
    edges = internal_imports(source_root)
    assert edges, "no internal import found: the parser is broken"
    for layer, targets in edges.items():
        assert layer in ALLOWED, f"{layer} is a layer the test does not know: place it in ALLOWED"
        assert targets <= ALLOWED[layer], f"{layer} imports {sorted(targets - ALLOWED[layer])}"


def test_no_tooling_package_and_nothing_imports_prodready(rendered: Render) -> None:
    source_root = rendered() / "src" / PACKAGE
    assert not (source_root / "ops").exists()
    for path in source_root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names] + [
            n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
        ]
        assert not [name for name in names if name.split(".")[0] == "prodready"], path


def test_the_layer_check_sees_a_cycle(tmp_path: Path) -> None:
    # The parser itself: a core module importing the cache is reported as such.
    (tmp_path / "core").mkdir()
    (tmp_path / "cache").mkdir()
    (tmp_path / "core" / "a.py").write_text("from ..cache import thing\n")
    (tmp_path / "cache" / "__init__.py").write_text("from ..core.a import x\n")
    edges = internal_imports(tmp_path)
    assert edges == {"core": {"cache"}, "cache": {"core"}}
