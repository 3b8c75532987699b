"""Run a project's test suite once, with coverage, and read what happened.

``prodready check --run-tests`` uses this: pytest writes a JUnit XML file and a coverage JSON file
into a temporary folder, and :func:`run` reads the tests per tier (from the test's module
path: ``tests.unit…``, ``tests.integration…``, ``tests.e2e…``) and the total coverage.
Standard library only; the runner is the project's own (``uv run`` for a uv project,
``poetry run`` for a Poetry project, else the project's ``.venv`` or this interpreter).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TIERS = ("unit", "integration", "e2e")
# A whole suite against real servers takes minutes; an hour means something hangs.
TIMEOUT_SECONDS = 3600
_OUTPUT_TAIL_LINES = 15


@dataclass
class TestRun:
    """What one run of the suite produced.

    ``ran`` is False when pytest could not be started or wrote no JUnit file; ``reason`` then
    says why. ``counts`` maps a tier (``unit``, ``integration``, ``e2e`` or ``other``) to its
    ``passed``, ``failed`` and ``skipped`` counts; ``coverage`` is the total percentage, None
    when coverage was not measured (``coverage_reason`` says why).
    """

    # pytest would collect a class named Test* from a module that imports this one.
    __test__ = False

    ran: bool
    reason: str = ""
    command: list[str] = field(default_factory=list)
    exit_code: int | None = None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    coverage: float | None = None
    coverage_reason: str = ""
    seconds: float = 0.0
    output_tail: str = ""

    @property
    def total(self) -> dict[str, int]:
        """Counts summed over the tiers."""
        return {
            state: sum(tier.get(state, 0) for tier in self.counts.values()) for state in ("passed", "failed", "skipped")
        }

    def as_dict(self) -> dict[str, Any]:
        """The run as JSON-ready data (the ``tests`` member of ``prodready check --json``)."""
        return {
            "ran": self.ran,
            "reason": self.reason,
            "command": self.command,
            "exit_code": self.exit_code,
            "counts": self.counts,
            "total": self.total,
            "coverage": None if self.coverage is None else round(self.coverage, 1),
            "coverage_reason": self.coverage_reason,
            "seconds": round(self.seconds, 1),
        }


def python(root: Path) -> list[str] | None:
    """Return the command prefix that runs the project's own Python, or None when it has none.

    ``uv run`` for a uv project, ``poetry run`` for a Poetry project, else the interpreter of
    the project's ``.venv`` or ``venv``.
    """
    uv = shutil.which("uv")
    if uv and ((root / "uv.lock").is_file() or "[tool.uv]" in _read(root / "pyproject.toml")):
        # --frozen: use the lock as it is; a check must never rewrite uv.lock.
        return [uv, "run", "--frozen", "python"]
    poetry = shutil.which("poetry")
    if poetry and (root / "poetry.lock").is_file():
        return [poetry, "run", "python"]
    for venv in (".venv", "venv"):
        interpreter = root / venv / "bin" / "python"
        if interpreter.is_file():
            return [str(interpreter)]
    return None


def runner(root: Path) -> list[str] | None:
    """Return the command prefix that runs the project's own pytest (this interpreter's when it has none)."""
    return [*(python(root) or [sys.executable]), "-m", "pytest"]


def clean_environment() -> dict[str, str]:
    """The caller's environment without its interpreter and coverage session, for the project's processes."""
    env = dict(os.environ)
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "COVERAGE_PROCESS_START"):
        env.pop(name, None)
    return env


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _cov_target(root: Path) -> str:
    # A project that configures coverage's `source` knows best; else measure src/ if any.
    pyproject = _read(root / "pyproject.toml")
    configured = "[tool.coverage.run]" in pyproject or (root / ".coveragerc").is_file()
    if configured or not (root / "src").is_dir():
        return "--cov"
    return "--cov=src"


def _execute(command: list[str], root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # A fixed argument list without a shell; the runner comes from PATH or the project.
    return subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )


def run(root: Path) -> TestRun:
    """Run the test suite of the project at ``root`` with coverage; never raises for a failing suite."""
    prefix = runner(root)
    if prefix is None:
        return TestRun(ran=False, reason="no Python test runner found")
    with tempfile.TemporaryDirectory(prefix="readiness-tests-") as tmp:
        junit = Path(tmp) / "junit.xml"
        coverage_json = Path(tmp) / "coverage.json"
        base = [*prefix, "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
        with_cov = [*base, _cov_target(root), f"--cov-report=json:{coverage_json}"]
        # The caller's interpreter and coverage session must not leak into the project's run.
        env = clean_environment()
        # Coverage data files go to the temporary folder, not the project; a server the tests
        # start in a subprocess measures itself when the project sets COVERAGE_PROCESS_START up.
        env["COVERAGE_FILE"] = str(Path(tmp) / ".coverage")
        if "[tool.coverage.run]" in _read(root / "pyproject.toml"):
            env["COVERAGE_PROCESS_START"] = str(root / "pyproject.toml")
        started = time.monotonic()
        try:
            result = _execute(with_cov, root, env)
            command, coverage_reason = with_cov, ""
            if result.returncode == 4 and "--cov" in result.stderr:
                # pytest-cov is not installed: run the tests anyway, without coverage.
                result = _execute(base, root, env)
                command, coverage_reason = base, "pytest-cov is not installed"
        except subprocess.TimeoutExpired:
            return TestRun(ran=False, reason=f"the test run took longer than {TIMEOUT_SECONDS} s")
        except OSError as exc:
            return TestRun(ran=False, reason=f"cannot start {prefix[0]}: {exc.strerror}")
        seconds = time.monotonic() - started
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-_OUTPUT_TAIL_LINES:])
        if not junit.is_file():
            return TestRun(
                ran=False,
                reason=f"pytest exited {result.returncode} without a report: {_last_line(tail)}",
                command=command,
                exit_code=result.returncode,
                seconds=seconds,
                output_tail=tail,
            )
        try:
            counts = tier_counts(junit)
        except ET.ParseError as exc:
            return TestRun(ran=False, reason=f"unreadable JUnit report: {exc}", command=command, output_tail=tail)
        coverage = _coverage(coverage_json) if not coverage_reason else None
        if coverage is None and not coverage_reason:
            coverage_reason = "pytest wrote no coverage report"
        return TestRun(
            ran=True,
            command=command,
            exit_code=result.returncode,
            counts=counts,
            coverage=coverage,
            coverage_reason=coverage_reason,
            seconds=seconds,
            output_tail=tail,
        )


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no output"


def tier_of(classname: str) -> str:
    """Return the tier of a JUnit ``classname`` (``tests.unit.api.test_x`` → ``unit``)."""
    parts = classname.replace("/", ".").split(".")
    for part in parts:
        if part in TIERS:
            return part
    return "other"


def tier_counts(junit: Path) -> dict[str, dict[str, int]]:
    """Count passed, failed (failures and errors) and skipped tests per tier in a JUnit file."""
    counts: dict[str, dict[str, int]] = {}
    # The file was written by the pytest run just made, not by an untrusted party.
    tree = ET.parse(junit)  # nosec B314
    for case in tree.iter("testcase"):
        tier = counts.setdefault(tier_of(case.get("classname", "")), {"passed": 0, "failed": 0, "skipped": 0})
        if case.find("failure") is not None or case.find("error") is not None:
            tier["failed"] += 1
        elif case.find("skipped") is not None:
            tier["skipped"] += 1
        else:
            tier["passed"] += 1
    return counts


def _coverage(path: Path) -> float | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return float(data["totals"]["percent_covered"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
