"""The template tests' harness: render a project from this working tree, run commands in it.

Every test renders through ``copy_project`` (or ``copier_cli`` when the command line itself is
under test) so that all of them see the same template: the working tree of this repository,
uncommitted changes included (Copier adds them to its temporary clone when the reference is
``HEAD``). Without ``vcs_ref="HEAD"`` Copier would render the newest release tag instead.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_ANSWERS_FILE = ROOT / "tests" / "example-answers.yml"
# Template files of the example service (app_source=example), switched off by their names otherwise.
EXAMPLE_PYPROJECT = "{% if app_source == 'example' %}pyproject.toml{% endif %}.jinja"
EXAMPLE_PACKAGE = "src/{% if app_source == 'example' %}{{package_name}}{% endif %}"
# The tool environment's bin folder: copier, ruff and uv of the template repository.
BIN = Path(sys.executable).parent

# A fixture's signature: render(**answers) -> the rendered project (see conftest.py).
Render = Callable[..., Path]

# Folders a rendered project may grow that are not output of the template.
NOT_RENDERED = {".git", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__"}

# Output of a failed command kept in the assertion message (its tail: the end is what failed).
_SHOWN_CHARS = 20_000


def example_answers() -> dict[str, Any]:
    """Return the committed example answers (``tests/example-answers.yml``)."""
    answers = yaml.safe_load(EXAMPLE_ANSWERS_FILE.read_text(encoding="utf-8"))
    assert isinstance(answers, dict), f"{EXAMPLE_ANSWERS_FILE} must hold a mapping"
    return answers


def copy_project(dst: Path | str, *, skip_tasks: bool = False, **answers: Any) -> Path:
    """Render the working tree into ``dst`` with the example answers overridden by ``answers``.

    Same as ``copier copy --defaults --trust --vcs-ref=HEAD --data ... ROOT dst``, including the
    post-generation hook unless ``skip_tasks``; a failing hook raises. Returns the project's path.
    """
    from copier import run_copy  # imported late: it takes about a second

    data = {**example_answers(), **answers}
    with warnings.catch_warnings():
        # "Dirty template changes included automatically" is exactly what the tests want.
        warnings.simplefilter("ignore")
        run_copy(
            str(ROOT),
            str(dst),
            data=data,
            defaults=True,
            unsafe=True,
            quiet=True,
            vcs_ref="HEAD",
            skip_tasks=skip_tasks,
        )
    return Path(dst)


def _tail(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else "[…]" + text[-_SHOWN_CHARS:]


def run(
    cmd: Sequence[str | os.PathLike[str]],
    cwd: Path | str,
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in ``cwd``; fail the test with its stdout and stderr unless it exits 0."""
    args = [os.fspath(part) for part in cmd]
    result = subprocess.run(
        args,
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"`{shlex.join(args)}` in {cwd} exited {result.returncode}\n"
        f"--- stdout ---\n{_tail(result.stdout)}\n--- stderr ---\n{_tail(result.stderr)}"
    )
    return result


def copier_cli(*args: str, cwd: Path | str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``copier ARGS`` with the tool environment's Python; return the result unchecked."""
    return subprocess.run(
        [sys.executable, "-m", "copier", *args],
        cwd=cwd,
        env=dict(os.environ, NO_COLOR="1"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def project_files(project: Path) -> Iterator[Path]:
    """Yield every rendered file of ``project`` (not .git, virtualenvs or tool caches)."""
    for dirpath, dirnames, filenames in os.walk(project):
        dirnames[:] = sorted(d for d in dirnames if d not in NOT_RENDERED)
        for name in sorted(filenames):
            yield Path(dirpath, name)


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Map every path under ``folder`` (relative, folders included) to its bytes (None: a folder)."""
    if not folder.exists():
        return {}
    result: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        result[path.relative_to(folder).as_posix()] = None if path.is_dir() else path.read_bytes()
    return result


def project_env(**extra: str) -> dict[str, str]:
    """Environment for commands run inside a generated project.

    The template's own virtualenv must not leak into the project's ``uv run``; the tool
    environment's bin stays on PATH so the project's Makefile finds ``uv``. TEST_DATABASE_URL
    and TEST_REDIS_URL pass through when set; otherwise the project's documented defaults apply.
    """
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH"}}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.update(extra)
    return env


def prodready(
    project: Path | str, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``prodready ARGS`` from this working tree in ``project``; return the result unchecked."""
    return subprocess.run(
        [sys.executable, "-m", "prodready", *args],
        cwd=project,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        check=False,
    )


def states(document: dict[str, Any], state: str) -> dict[str, str]:
    """Check id → message of the checks in ``state`` of a ``prodready check --json`` document."""
    return {c["id"]: c["message"] for c in document["checks"] if c["state"] == state}
