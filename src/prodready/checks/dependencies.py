"""Dependency checks: a manifest, a lock, requirements that resolve, scanners kept apart.

Two checks look for conflicts. ``deps.resolve`` asks uv's resolver whether each requirement set
can be installed at all (:mod:`..resolution`): it knows what every package requires in turn
(``great-expectations==1.5.11`` needs ``pandas<2.2``), and says *not run* without the package
index. ``deps.conflicts`` is fast and offline but only compares what the files write down: a
pin conflicts when another file (``requirements*.txt``, ``requirements/*.txt``, the
``pyproject.toml`` tables, the lock files) pins another version or writes a range that excludes
it; its pass says no more than that.
Where the project is a uv project, ``deps check`` decides lock freshness and the export.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, replace
from typing import Any

from .. import deps, resolution
from ..report import Finding
from .base import (
    Context,
    Project,
    check,
    failed,
    has_tomllib,
    inside,
    last_line,
    logical_lines,
    not_run,
    passed,
    requirement_files,
    run_command,
    short_list,
)

_LOCK_FILES = ("uv.lock", "poetry.lock", "Pipfile.lock", "pdm.lock", "pylock.toml")


@dataclass(frozen=True)
class Requirement:
    """One requirement as written in a file: normalised name, specifiers, marker, where."""

    name: str
    specifiers: tuple[tuple[str, str], ...]
    marker: str
    source: str


_REQUIREMENT = re.compile(
    r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(\([^)]*\)|[^;@]*)?\s*(?:@[^;]*)?(;.*)?$"
)

# A link pip installs without a name (https://…, git+https://…, file:…): PEP 508 wants a name
# first, so there is no package to compare.
_BARE_LINK = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

# How uv says it needed the package index and could not reach it.
_OFFLINE = re.compile(r"network|connect|failed to fetch|offline|timed out|dns", re.IGNORECASE)
# A requirement as uv's explanation writes it: `great-expectations==1.5.11`, `pandas>=1.3.0,<2.2`.
_NAMED_IN_EXPLANATION = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?(?====|==|!=|~=|<=|>=|<|>)")
_SPECIFIER = re.compile(r"(===|==|!=|~=|<=|>=|<|>)\s*([^\s,;)]+)")


def parse_requirement(text: str, source: str) -> Requirement | None:
    """Parse a PEP 508 requirement string; None for options, links alone and blank lines."""
    text = re.sub(r"\s--hash=\S+", "", text.split(" #", 1)[0]).strip()
    if not text or text.startswith(("-", "#")) or _BARE_LINK.match(text):
        return None
    match = _REQUIREMENT.match(text)
    if not match:
        return None
    specifiers = tuple(_SPECIFIER.findall(match.group(3) or ""))
    marker = (match.group(4) or "").lstrip(";").strip()
    return Requirement(deps._normalize(match.group(1)), specifiers, marker, source)


def declared_requirements(project: Project) -> list[Requirement]:
    """Every requirement the repository declares: requirements files and pyproject tables."""
    found: list[Requirement] = []
    for path in requirement_files(project):
        for line in logical_lines(project.text(path)):
            requirement = parse_requirement(line, path)
            if requirement:
                found.append(requirement)
    pyproject = project.toml("pyproject.toml")
    tables: list[tuple[str, Any]] = [("pyproject.toml [project]", pyproject.get("project", {}).get("dependencies", []))]
    for extra, items in pyproject.get("project", {}).get("optional-dependencies", {}).items():
        tables.append((f"pyproject.toml [optional: {extra}]", items))
    for group, items in pyproject.get("dependency-groups", {}).items():
        tables.append((f"pyproject.toml [group: {group}]", items))
    for where, items in tables:
        for item in items if isinstance(items, list) else []:
            requirement = parse_requirement(item, where) if isinstance(item, str) else None
            if requirement:
                found.append(requirement)
    poetry = pyproject.get("tool", {}).get("poetry", {}).get("dependencies", {})
    for name, spec in poetry.items() if isinstance(poetry, dict) else []:
        version = spec.get("version", "") if isinstance(spec, dict) else spec
        # Poetry's bare version is an exact pin; ^ and ~ ranges are left to Poetry itself.
        if name != "python" and isinstance(version, str) and re.fullmatch(r"==?\s*\d[\w.]*|\d[\w.]*", version):
            found.append(Requirement(deps._normalize(name), (("==", version.lstrip("= ")),), "", "pyproject.toml"))
    return found


def locked_versions(project: Project) -> dict[str, dict[str, set[str]]]:
    """Versions per package in each lock file (``uv.lock``, ``poetry.lock``, ``pdm.lock``)."""
    locks: dict[str, dict[str, set[str]]] = {}
    for name in ("uv.lock", "poetry.lock", "pdm.lock"):
        packages = project.toml(name).get("package", [])
        versions: dict[str, set[str]] = {}
        for package in packages if isinstance(packages, list) else []:
            if isinstance(package, dict) and "name" in package and "version" in package:
                versions.setdefault(deps._normalize(str(package["name"])), set()).add(str(package["version"]))
        if versions:
            locks[name] = versions
    return locks


def _release(version: str) -> tuple[int, ...]:
    match = re.match(r"v?(\d+(?:\.\d+)*)", version)
    return tuple(int(p) for p in match.group(1).split(".")) if match else ()


def _compare(a: str, b: str) -> int:
    left, right = _release(a), _release(b)
    width = max(len(left), len(right))
    left, right = left + (0,) * (width - len(left)), right + (0,) * (width - len(right))
    return (left > right) - (left < right)


def satisfies(version: str, operator: str, wanted: str) -> bool:
    """Whether ``version`` meets one specifier (release numbers only; pre-releases compare as releases)."""
    if operator == "===":
        return version == wanted
    if wanted.endswith(".*"):
        prefix = _release(wanted[:-2])
        equal = _release(version)[: len(prefix)] == prefix
        return equal if operator == "==" else not equal
    order = _compare(version, wanted)
    if operator == "~=":
        prefix = _release(wanted)[:-1]
        return order >= 0 and _release(version)[: len(prefix)] == prefix
    return {
        "==": order == 0,
        "!=": order != 0,
        "<": order < 0,
        "<=": order <= 0,
        ">": order > 0,
        ">=": order >= 0,
    }[operator]


def find_conflicts(requirements: list[Requirement], locks: dict[str, dict[str, set[str]]]) -> list[str]:
    """Describe every package whose pins disagree, or whose pin another file's range excludes."""
    by_name: dict[str, list[Requirement]] = {}
    for requirement in requirements:
        by_name.setdefault(requirement.name, []).append(requirement)
    for lock, versions in locks.items():
        for name, found in versions.items():
            if name in by_name:
                # Several versions in one lock are forks for different platforms: any one may be used.
                pins = tuple(("==", v) for v in sorted(found))
                by_name[name].append(Requirement(name, pins if len(pins) == 1 else (), "", lock))
    conflicts: list[str] = []
    for name, items in sorted(by_name.items()):
        pinned = [(r, v) for r in items for op, v in r.specifiers if op in ("==", "===") and not v.endswith(".*")]
        for requirement, version in pinned:
            for other in items:
                if other is requirement or (requirement.marker and other.marker and requirement.marker != other.marker):
                    continue
                broken = [f"{op}{v}" for op, v in other.specifiers if not satisfies(version, op, v)]
                if broken:
                    conflicts.append(
                        f"{name} =={version} ({requirement.source}) vs {','.join(broken)} ({other.source})"
                    )
    # Each disagreement is found from both sides; report it once.
    unique: list[str] = []
    for text in conflicts:
        if not any(_same_pair(text, seen) for seen in unique):
            unique.append(text)
    return unique


def _same_pair(a: str, b: str) -> bool:
    sources = re.compile(r"\(([^)]*)\)")
    return a.split(" ", 1)[0] == b.split(" ", 1)[0] and set(sources.findall(a)) == set(sources.findall(b))


_DEPS_CHECK_NOT_RUN = "deps check could not run (it needs Python 3.11+ and a [project] table)"


def _deps_findings(context: Context) -> dict[str, Finding]:
    """Run ``deps check`` once for a uv project and key its findings by check name."""
    if context._deps_report is None:
        context._deps_report = {}
        project = context.project
        if project.exists("uv.lock") and shutil.which("uv") and has_tomllib():
            try:
                with inside(project.root):
                    report, _ = deps.check()
            except (KeyError, TypeError, OSError):
                # A pyproject without a [project] table (a uv workspace root): nothing to map.
                return context._deps_report
            context._deps_report = {f.check: f for f in report.findings}
    return context._deps_report


@check("deps.manifest", "dependencies", 2, "dependencies declared in a manifest")
def _deps_manifest(context: Context) -> Finding:
    project = context.project
    pyproject = project.toml("pyproject.toml")
    declared = pyproject.get("project", {}).get("dependencies")
    if isinstance(declared, list):
        return passed(f"pyproject.toml declares {len(declared)} dependencies", "pyproject.toml")
    if pyproject.get("tool", {}).get("poetry", {}).get("dependencies"):
        return passed("pyproject.toml declares Poetry dependencies", "pyproject.toml")
    files = requirement_files(project) + project.named("Pipfile", "setup.py", "setup.cfg")
    if files:
        return passed(f"dependencies in {short_list(files)}")
    return failed("no pyproject.toml, requirements file or Pipfile", "declare dependencies in pyproject.toml")


@check("deps.lockfile", "dependencies", 3, "every dependency locked to an exact version")
def _deps_lockfile(context: Context) -> Finding:
    project = context.project
    locks = [name for name in _LOCK_FILES if project.exists(name)]
    if locks:
        return passed(f"locked in {', '.join(locks)}", locks[0])
    for path in requirement_files(project):
        text = project.text(path)
        if "--hash=" in text or re.search(r"pip-compile|uv (pip compile|export)", text):
            return passed(f"{path} is compiled with every version pinned", path)
    return failed(
        "no lock file: versions resolve differently on every install",
        "uv lock (or pip-compile --generate-hashes) and commit the lock",
    )


@check("deps.conflicts", "dependencies", 2, "dependency files agree on the versions they write down")
def _deps_conflicts(context: Context) -> Finding:
    # Fast and offline, but it only compares what the files write: what each package requires in
    # turn (great-expectations' own pandas<2.2) is deps.resolve's to find.
    project = context.project
    requirements = declared_requirements(project)
    locks = locked_versions(project)
    if not requirements and not locks:
        return not_run("no dependency files to compare", "declare dependencies in pyproject.toml")
    conflicts = find_conflicts(requirements, locks)
    if conflicts:
        return failed(
            f"{len(conflicts)} conflict(s): {'; '.join(conflicts[:3])}",
            "keep one source of versions (pyproject.toml + uv lock) and export the rest from it",
        )
    sources = sorted({r.source.split(" [", 1)[0] for r in requirements} | set(locks))
    return passed(
        f"{len(requirements)} requirements in {short_list(sources)}: no two files pin disagreeing versions "
        "(what the packages require in turn: deps.resolve)"
    )


@check("deps.resolve", "dependencies", 5, "the requirements resolve together (uv's resolver asks the package index)")
def _deps_resolve(context: Context) -> Finding:
    project = context.project
    lock = _deps_findings(context).get("lock") if project.exists("uv.lock") else None
    outcomes = resolution.resolve(
        project.root,
        requirement_files(project),
        project.toml("pyproject.toml"),
        lock_fresh=None if lock is None else lock.status == "pass",
    )
    if not outcomes:
        return not_run("no requirements declared to resolve", "declare dependencies in pyproject.toml")
    conflicts = [o for o in outcomes if o.state == "conflict"]
    if conflicts:
        first = conflicts[0]
        more = (
            f" (+{len(conflicts) - 1} more: {short_list([o.target for o in conflicts[1:]])})" if conflicts[1:] else ""
        )
        # The top file may only include the one that pins: say where the packages uv names are written.
        named = {deps._normalize(n) for n in _NAMED_IN_EXPLANATION.findall(first.detail)}
        pinned_in = sorted({r.source.split(" [", 1)[0] for r in declared_requirements(project) if r.name in named})
        written = f" (written in {short_list(pinned_in)})" if pinned_in and pinned_in != [first.target] else ""
        return failed(
            f"{first.target} cannot be installed{written}: {first.detail}{more}",
            f"move the pins uv names so they fit together (uv pip compile {first.target} shows the whole explanation)",
            pinned_in[0] if pinned_in else first.target,
        )
    unknown = [o for o in outcomes if o.state == "unknown"]
    if unknown:
        return not_run(
            f"{short_list([o.target for o in unknown])}: {unknown[0].detail}",
            "run with access to the package index (uv reads its index from the machine's configuration)",
        )
    resolved = [f"{o.target} ({o.detail})" if o.detail else o.target for o in outcomes]
    return passed(f"uv resolves {short_list(resolved)} without a conflict")


@check("deps.lock_fresh", "dependencies", 3, "lock file matches the manifest")
def _deps_lock_fresh(context: Context) -> Finding:
    project = context.project
    if project.exists("uv.lock"):
        if shutil.which("uv") is None:
            return not_run("uv is not installed", "install uv: https://docs.astral.sh/uv/")
        finding = _deps_findings(context).get("lock")
        if finding is None:
            return not_run(_DEPS_CHECK_NOT_RUN)
        if finding.status == "fail" and _OFFLINE.search(finding.message):
            # uv needed the index to decide and could not reach it: that is no verdict on the lock.
            return not_run(f"uv could not check the lock: {finding.message}", "retry with network access")
        return replace(finding, where="uv.lock")
    if project.exists("poetry.lock"):
        poetry = shutil.which("poetry")
        if poetry is None:
            return not_run("poetry is not installed", "install Poetry to check poetry.lock")
        result = run_command([poetry, "check", "--lock"], project.root)
        if result is not None and result.returncode == 0:
            return passed("poetry.lock matches pyproject.toml", "poetry.lock")
        return failed(f"poetry.lock is stale: {last_line(result)}", "poetry lock", "poetry.lock")
    return not_run("no uv.lock or poetry.lock to check", "uv lock")


@check("deps.export", "dependencies", 2, "exported requirements match the lock")
def _deps_export(context: Context) -> Finding:
    project = context.project
    if not project.exists("uv.lock"):
        return not_run("no uv.lock to export from", "uv lock")
    if not project.exists(str(deps.REQUIREMENTS)) and not project.has_ops_layout:
        return not_run(f"no exported {deps.REQUIREMENTS}", "make lock")
    if shutil.which("uv") is None:
        return not_run("uv is not installed", "install uv: https://docs.astral.sh/uv/")
    finding = _deps_findings(context).get("requirements")
    if finding is None:
        return not_run(_DEPS_CHECK_NOT_RUN)
    return replace(finding, where=str(deps.REQUIREMENTS))


@check("deps.installed", "dependencies", 2, "installed packages have compatible requirements")
def _deps_installed(context: Context) -> Finding:
    project = context.project
    environment = project.environment()
    if environment is None:
        return not_run("the project's environment is not installed (no .venv)", "make setup (uv sync)")
    finding = _deps_findings(context).get("conflicts")
    if finding is not None:
        return finding
    uv = shutil.which("uv")
    if uv is None and not (environment / "bin" / "pip").exists():
        # uv makes environments without pip: with neither, nothing can inspect this one.
        return not_run(f"neither uv nor pip can inspect {environment.name}", "install uv (make setup does)")
    python = environment / "bin" / "python"
    command = [uv, "pip", "check", "--python", str(environment)] if uv else [str(python), "-m", "pip", "check"]
    result = run_command(command, project.root)
    if result is None:
        return not_run("pip check could not be started")
    if result.returncode == 0:
        return passed("installed packages have compatible requirements")
    return failed(last_line(result), "re-lock and reinstall (uv lock && uv sync)")


@check("deps.isolated_tools", "dependencies", 2, "security scanners kept out of the app's dependencies")
def _deps_isolated_tools(context: Context) -> Finding:
    project = context.project
    leaked = sorted(
        {f"{r.name} ({r.source})" for r in declared_requirements(project) if r.name in deps.ISOLATED_TOOLS}
        | {
            f"{name} ({lock})"
            for lock, v in locked_versions(project).items()
            for name in v
            if name in deps.ISOLATED_TOOLS
        }
    )
    if leaked:
        return failed(
            f"{short_list(leaked)}: their pins fight the app's (semgrep pins rich and urllib3, for one)",
            "remove them from the dependencies and run them with uvx or pipx",
        )
    return passed(f"none of {', '.join(deps.ISOLATED_TOOLS)} among the app's dependencies")
