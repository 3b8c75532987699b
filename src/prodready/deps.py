"""``deps`` group: the lock, the exported requirements and the installed packages agree.

Conflicting pins are the commonest way a service stops installing. ``deps check`` fails on
lock drift, on an exported ``requirements/production.txt`` that no longer matches the lock and
on broken requirements in the project's environment (``.venv``), and prints the dependency
matrix: each direct dependency, its locked version, the constraint that admits it and who
requires it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .report import Report

REQUIREMENTS = Path("requirements/production.txt")
EXPORT_ARGS = ("export", "--frozen", "--no-dev", "--no-emit-project", "--format", "requirements-txt")
# Tools whose pins fight applications' (semgrep's rich and urllib3 pins, for one): they run in
# isolated environments (`uvx`) and must never enter the application's lock.
ISOLATED_TOOLS = ("semgrep", "bandit", "pip-audit", "safety")


def register(groups: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``deps`` commands."""
    parser = groups.add_parser("deps", help="check dependencies: lock, exports, conflicts")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="lock in sync, requirements exported, no conflicts, matrix")
    check.add_argument("--json", action="store_true", help="print JSON (findings and matrix)")
    check.set_defaults(handler=check_command)


def _uv() -> str | None:
    return shutil.which("uv")


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    # A fixed argument list without a shell; uv is found on PATH like `make` finds it.
    return subprocess.run(args, capture_output=True, text=True, check=False)


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stdout + result.stderr).strip().splitlines()
    return lines[-1] if lines else f"exit {result.returncode}"


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return _normalize(match.group(1)) if match else requirement


def _load_toml(path: Path) -> dict[str, Any]:
    import tomllib  # Python 3.11+: the project's own interpreter, not necessarily Copier's.

    with path.open("rb") as handle:
        data: dict[str, Any] = tomllib.load(handle)
    return data


def matrix(pyproject: Path = Path("pyproject.toml"), lock: Path = Path("uv.lock")) -> list[dict[str, Any]]:
    """Build the dependency matrix: direct dependency → locked version → constraint → required by."""
    project = _load_toml(pyproject)["project"]
    packages = _load_toml(lock).get("package", [])
    locked = {_normalize(p["name"]): p.get("version", "") for p in packages}
    required_by: dict[str, list[str]] = {}
    for package in packages:
        for dependency in package.get("dependencies", []):
            required_by.setdefault(_normalize(dependency["name"]), []).append(package["name"])
    rows = []
    for requirement in project.get("dependencies", []):
        name = _requirement_name(requirement)
        rows.append(
            {
                "package": name,
                "locked": locked.get(name, "(not locked)"),
                "constraint": requirement[len(name) :].strip() or "(any)",
                "required_by": sorted(set(required_by.get(name, []))),
            }
        )
    return rows


def check(requirements: Path = REQUIREMENTS) -> tuple[Report, list[dict[str, Any]]]:
    """Run every dependency check; return the report and the matrix."""
    report = Report("deps check")
    uv = _uv()
    if uv is None:
        report.add("uv", "fail", "uv is not installed", fix="install uv: https://docs.astral.sh/uv/")
        return report, []
    if not Path("uv.lock").exists():
        report.add("lock", "fail", "uv.lock is missing", fix="make lock")
        return report, []
    result = _run([uv, "lock", "--check"])
    if result.returncode == 0:
        report.add("lock", "pass", "uv.lock matches pyproject.toml")
    else:
        report.add("lock", "fail", f"uv.lock is out of date: {_last_line(result)}", fix="make lock")
    with tempfile.TemporaryDirectory() as tmp:
        exported = Path(tmp) / "production.txt"
        result = _run([uv, *EXPORT_ARGS, "-o", str(exported)])
        if result.returncode != 0:
            report.add("requirements", "fail", f"uv export failed: {_last_line(result)}", fix="make lock")
        elif not requirements.exists():
            report.add("requirements", "fail", f"{requirements} is missing", fix="make lock")
        elif _body(requirements.read_text()) != _body(exported.read_text()):
            report.add("requirements", "fail", f"{requirements} does not match uv.lock", fix="make lock")
        else:
            report.add("requirements", "pass", f"{requirements} matches uv.lock (with hashes)")
    # The project's own environment, not prodready's (which runs in a tool environment of its own).
    environment = Path(os.environ.get("UV_PROJECT_ENVIRONMENT", ".venv"))
    if not environment.is_dir():
        report.add("conflicts", "not run", f"no {environment} to inspect", fix="make setup (uv sync)")
    else:
        result = _run([uv, "pip", "check", "--python", str(environment)])
        if result.returncode == 0:
            report.add("conflicts", "pass", f"installed packages in {environment} have compatible requirements")
        else:
            report.add("conflicts", "fail", _last_line(result), fix="make lock && uv sync")
    rows = matrix()
    locked_names = {_normalize(p["name"]) for p in _load_toml(Path("uv.lock")).get("package", [])}
    leaked = sorted(locked_names & set(ISOLATED_TOOLS))
    if leaked:
        report.add("isolation", "fail", f"{', '.join(leaked)} in the app's lock", fix="run them with uvx instead")
    else:
        report.add("isolation", "pass", "no security scanner in the app's lock (they run via uvx)")
    return report, rows


def _body(text: str) -> str:
    # The export header names the output path, which differs between runs.
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def check_command(args: argparse.Namespace) -> int:
    """Run ``deps check`` and print the report and the matrix."""
    report, rows = check()
    if args.json:
        payload = {"ok": not report.failed, "findings": [vars(f) for f in report.findings], "matrix": rows}
        print(json.dumps(payload, indent=2))
        return 1 if report.failed else 0
    code = report.emit()
    if rows:
        print("\ndependency matrix")
        print(f"  {'package':<22} {'locked':<12} {'constraint':<14} required by")
        for row in rows:
            print(f"  {row['package']:<22} {row['locked']:<12} {row['constraint']:<14} {', '.join(row['required_by'])}")
    return code
