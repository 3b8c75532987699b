"""Whether a repository's requirements can be installed together: uv's resolver decides.

A pin list can look consistent and still be impossible to install: ``great-expectations==1.5.11``
requires ``pandas<2.2``, so it cannot be installed beside ``pandas==2.2.3`` although no file
says so. Only a resolver knows what each package requires in turn. :func:`resolve` asks uv's
for each set of requirements the repository declares, writing only into a temporary folder and
installing nothing:

* each requirements file that no other file includes (``requirements.txt``, a
  ``requirements/`` folder's files; their ``-r``/``-c`` includes are followed by uv), with
  ``uv pip compile``;
* the ``pyproject.toml`` dependencies (``[project]``, optional dependencies, dependency
  groups): when a ``uv.lock`` is consistent with them (``uv lock --check``), the lock already
  is their resolution; otherwise they are resolved with ``uv pip compile`` too.

Files exported from ``uv.lock`` (``uv export``) are the lock's business (``deps.export``).
uv reads the machine's own configuration (``uv.toml``, ``UV_INDEX_URL`` and the like) and the
repository's ``[tool.uv]`` settings: no index is named here. Without the index
(``UV_OFFLINE``, a network error) a set is *unknown*, never resolved.

Standard library only, Python 3.9+ (the post-generation hook imports the checks).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A cold cache resolves a data-science stack in tens of seconds; minutes means the index hangs.
TIMEOUT_SECONDS = 180
# Lines of uv's explanation kept in the report: the chain that names the packages.
_EXPLANATION_LINES = 4
# How uv says it needed the package index and could not reach it.
_NO_INDEX = re.compile(
    r"network (was|is) disabled|not found in the cache|failed to fetch|error sending request|dns error"
    r"|tcp connect|connection (refused|reset|closed)|could not connect|operation timed out|request failed after"
    r"|offline mode",
    re.IGNORECASE,
)
_INCLUDE = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)[\s=]+(\S+)", re.MULTILINE)
_UV_EXPORT = re.compile(r"^#\s+uv export\b", re.MULTILINE)
_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class Outcome:
    """What the resolver said about one set of requirements.

    ``state`` is ``resolved``, ``conflict`` (no version of the packages fits together, or uv
    cannot read the file) or ``unknown`` (the index was unreachable, uv missing or it failed
    for another reason); ``detail`` is uv's explanation or the reason, without values of
    anything but package requirements.
    """

    target: str
    state: str
    detail: str = ""


def uv_binary() -> str | None:
    """uv beside prodready's interpreter (a tool environment with uv), else the one on PATH."""
    beside = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("uv")


def offline() -> bool:
    """Whether uv is told not to use the network (``UV_OFFLINE``)."""
    return os.environ.get("UV_OFFLINE", "").strip().lower() in _TRUE


def root_requirement_files(root: Path, files: list[str], has_lock: bool) -> list[str]:
    """The requirements files to resolve: those no other file includes, without constraints files.

    A file exported from ``uv.lock`` is left out when the lock is there: it is the lock's
    resolution already (``deps.export`` checks that it still matches).
    """
    included: set[str] = set()
    texts = {}
    for relative in files:
        texts[relative] = _read(root / relative)
        folder = (root / relative).parent
        for target in _INCLUDE.findall(texts[relative]):
            path = (folder / target).resolve()
            if path.is_relative_to(root.resolve()):
                included.add(path.relative_to(root.resolve()).as_posix())
    candidates = [
        f
        for f in files
        if not f.rsplit("/", 1)[-1].startswith("constraints") and not (has_lock and _UV_EXPORT.search(texts[f]))
    ]
    # Files that include each other in a circle have no top: each is resolved then.
    return [f for f in candidates if f not in included] or candidates


def pyproject_requirements(data: dict[str, Any]) -> list[str]:
    """The requirement strings of ``pyproject.toml``: dependencies, every extra and every group.

    The project's own name (``myapp[dev]`` in an extra) and packages that ``[tool.uv.sources]``
    takes from elsewhere (a path, git) are left out: the index cannot have them.
    """
    project = data.get("project", {})
    if not isinstance(project, dict):
        return []
    lists: list[Any] = [project.get("dependencies", [])]
    extras = project.get("optional-dependencies", {})
    lists += list(extras.values()) if isinstance(extras, dict) else []
    groups = data.get("dependency-groups", {})
    lists += list(groups.values()) if isinstance(groups, dict) else []
    sources = data.get("tool", {}).get("uv", {}).get("sources", {})
    skipped = {_normal(str(project.get("name", "")))} | {_normal(str(n)) for n in sources or {}}
    found = []
    for items in lists:
        for item in items if isinstance(items, list) else []:
            # Dependency groups may hold {include-group = "…"} tables: that group is read anyway.
            if isinstance(item, str) and _normal(_name(item)) not in skipped:
                found.append(item)
    return found


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return match.group(1) if match else ""


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def python_version(root: Path, data: dict[str, Any]) -> str | None:
    """The Python version the requirements are for.

    The first that says: ``.python-version``, ``requires-python``'s floor, ``runtime.txt``, the
    Dockerfile's ``python:3.X`` base image. None when none does; uv then resolves for the
    interpreter it finds.
    """
    requires = str(data.get("project", {}).get("requires-python", ""))
    sources = (
        (_read(root / ".python-version"), r"(?:^|[^\d.])(3\.\d+)"),
        (requires, r"(?:>=|~=|==)\s*(3\.\d+)"),
        (_read(root / "runtime.txt"), r"python-(3\.\d+)"),
        (_read(root / "Dockerfile"), r"(?im)^FROM\s+(?:--\S+\s+)*(?:\S+/)?python:(3\.\d+)"),
    )
    for text, pattern in sources:
        match = re.search(pattern, text)
        if match:
            return match.group(1)
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _run(args: list[str], root: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        # A fixed argument list without a shell; uv is prodready's own or the one on PATH.
        return subprocess.run(
            args, cwd=root, input=stdin, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason = "timed out" if isinstance(exc, subprocess.TimeoutExpired) else exc.strerror
        return subprocess.CompletedProcess(args, -1, "", f"error: uv {reason}")


def explanation(output: str) -> str:
    """uv's reason, trimmed: the ``Because …`` chain on a few lines, without hints and markup."""
    lines = []
    for raw in output.splitlines():
        line = re.sub(r"^\s*(?:error:|cause:|╰─▶|[│├└─▶ ]+)\s*", "", raw).strip()
        if not line or line.lower().startswith(("hint:", "no solution found", "help:")):
            continue
        lines.append(line)
    return " ".join(lines[:_EXPLANATION_LINES])


def classify(target: str, result: subprocess.CompletedProcess[str]) -> Outcome:
    """Turn uv's exit code and output into an :class:`Outcome`."""
    output = (result.stdout + "\n" + result.stderr).strip()
    if result.returncode == 0:
        return Outcome(target, "resolved")
    if _NO_INDEX.search(output):
        return Outcome(target, "unknown", "the package index could not be reached")
    if "No solution found" in output or "unsatisfiable" in output:
        return Outcome(target, "conflict", explanation(output))
    if "parse" in output.lower():
        return Outcome(target, "conflict", "uv cannot read it: " + explanation(output))
    return Outcome(target, "unknown", explanation(output) or f"uv exited {result.returncode}")


def compile_requirements(
    uv: str, root: Path, target: str, version: str | None, requirements: list[str] | None = None
) -> Outcome:
    """Resolve one requirements file (``target``), or the ``requirements`` strings, into a temporary file."""
    if offline():
        return Outcome(target, "unknown", "uv is offline (UV_OFFLINE)")
    with tempfile.TemporaryDirectory(prefix="prodready-resolve-") as tmp:
        args = [uv, "pip", "compile", "--quiet", "--no-header", "-o", str(Path(tmp) / "resolved.txt")]
        args += ["--python-version", version] if version else []
        args.append("-" if requirements is not None else target)
        stdin = "\n".join(requirements) + "\n" if requirements is not None else None
        result = _run(args, root, stdin)
    return classify(target, result)


def lock_consistent(uv: str, root: Path) -> bool:
    """Whether ``uv.lock`` is consistent with ``pyproject.toml`` (``uv lock --check``: nothing written)."""
    return _run([uv, "lock", "--check"], root).returncode == 0


def resolve(
    root: Path, requirement_files: list[str], pyproject: dict[str, Any], lock_fresh: bool | None = None
) -> list[Outcome]:
    """Resolve every requirement set of the repository at ``root`` (see the module docstring).

    ``lock_fresh`` is what ``uv lock --check`` said, when the caller already asked; None runs it
    here if there is a ``uv.lock``. An empty list means there is nothing to resolve.
    """
    uv = uv_binary()
    has_lock = (root / "uv.lock").is_file()
    files = root_requirement_files(root, requirement_files, has_lock)
    from_pyproject = pyproject_requirements(pyproject)
    if not files and not from_pyproject:
        return []
    if uv is None:
        targets = files + (["pyproject.toml"] if from_pyproject else [])
        return [Outcome(t, "unknown", "uv is not installed") for t in targets]
    version = python_version(root, pyproject)
    jobs: list[tuple[str, list[str] | None]] = [(f, None) for f in files]
    outcomes: list[Outcome] = []
    if from_pyproject:
        if has_lock and (lock_consistent(uv, root) if lock_fresh is None else lock_fresh):
            outcomes.append(Outcome("pyproject.toml", "resolved", "uv.lock is its resolution"))
        else:
            jobs.append(("pyproject.toml", from_pyproject))
    # One uv process per set, side by side: each waits on the index more than on the CPU.
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes += pool.map(lambda job: compile_requirements(uv, root, job[0], version, job[1]), jobs)
    return outcomes
