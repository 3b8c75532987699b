"""What every readiness check shares: the repository under inspection, the registry, helpers.

A check is a function decorated with :func:`check`: it reads the :class:`Project` (any
repository; files are found by convention) through its :class:`Context` and returns a
:class:`~..report.Finding` whose status is ``pass``, ``fail`` or ``not run``. A check that
cannot decide (no git, no uv, no network, no Docker engine, no test run) says ``not run`` and
why; it never passes by default.

Standard library and PyYAML only, and Python 3.9+: the post-generation hook runs this with
Copier's own interpreter.
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from .. import layers, testrun
from ..report import Finding

# Folders that hold tools' state or other people's code, never the project's own files.
_SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".tox",
        ".nox",
        ".eggs",
        "build",
        "dist",
        "htmlcov",
        "site-packages",
    }
)

# Seconds a local tool (git, uv, poetry) may take before its check is reported as not run.
_SUBPROCESS_TIMEOUT = 120
# Variable names that say they hold a secret; KEY only as the last word (not key_prefix).
_SECRET_NAME = re.compile(
    r"SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE_KEY|CREDENTIAL|(^|_)KEY(_PREVIOUS)?$", re.IGNORECASE
)
# Words that mark a dotenv file as a committed template (.env.example, .env.production.template).
_TEMPLATE_WORDS = frozenset({"example", "sample", "template", "dist", "tmpl", "defaults"})
# Where repositories keep configuration files, by convention.
CONFIG_DIRS = ("config", "configs", "conf", "settings", "environments", "envs")
# Vulnerability and code scanners, as they appear in CI files, Makefiles and pre-commit configs.
SCANNERS = re.compile(r"pip-audit|bandit|semgrep|safety\s+(check|scan)|trivy|osv-scanner|grype|snyk|codeql")


def passed(message: str, where: str = "") -> Finding:
    """A passing outcome."""
    return Finding("", "pass", message, where)


def failed(message: str, fix: str, where: str = "") -> Finding:
    """A failing outcome with the fix in one line."""
    return Finding("", "fail", message, where, fix)


def not_run(message: str, fix: str = "") -> Finding:
    """An outcome for a check that could not decide; ``fix`` says how to make it run."""
    return Finding("", "not run", message, "", fix)


def short_list(items: list[str], limit: int = 4) -> str:
    """Join the first ``limit`` items with commas and say how many more there are."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def run_command(
    args: list[str], cwd: Path, timeout: float = _SUBPROCESS_TIMEOUT
) -> subprocess.CompletedProcess[str] | None:
    """Run a fixed argument list; None when the program cannot be started or times out."""
    try:
        # A fixed argument list without a shell; programs are resolved with shutil.which.
        return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def last_line(result: subprocess.CompletedProcess[str] | None) -> str:
    """The last line a command printed: usually the error that matters."""
    if result is None:
        return "could not be started or timed out"
    lines = (result.stdout + result.stderr).strip().splitlines()
    return lines[-1] if lines else f"exit {result.returncode}"


def has_tomllib() -> bool:
    """Whether the standard library reads TOML (Python 3.11+); ``deps check`` needs it."""
    return importlib.util.find_spec("tomllib") is not None


def load_toml(text: str) -> dict[str, Any] | None:
    """Parse TOML with ``tomllib`` (3.11+) or ``tomli``; None when neither exists or it does not parse."""
    for name in ("tomllib", "tomli"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        try:
            data: dict[str, Any] = module.loads(text)
        except ValueError:
            return None
        return data
    return None


class Project:
    """A repository found by convention: its files, git's view of them, parsed manifests."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = self._walk()
        self._texts: dict[str, str] = {}
        self._tomls: dict[str, dict[str, Any]] = {}
        self._tracked: set[str] | None = None
        self._tracked_known = False

    def _walk(self) -> list[str]:
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            here = Path(dirpath)
            # Virtual environments may have any name; pyvenv.cfg gives them away.
            dirnames[:] = sorted(
                d for d in dirnames if d not in _SKIPPED_DIRS and not (here / d / "pyvenv.cfg").exists()
            )
            relative = here.relative_to(self.root)
            found.extend((relative / name).as_posix() for name in sorted(filenames))
        return found

    def text(self, relative: str) -> str:
        """Return a file's text ("" when missing or unreadable)."""
        if relative not in self._texts:
            try:
                self._texts[relative] = (self.root / relative).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                self._texts[relative] = ""
        return self._texts[relative]

    def exists(self, relative: str) -> bool:
        """Whether the file exists."""
        return (self.root / relative).is_file()

    def named(self, *patterns: str) -> list[str]:
        """Files whose name (not path) matches one of the glob ``patterns``."""
        return [f for f in self.files if any(fnmatch.fnmatchcase(f.rsplit("/", 1)[-1], p) for p in patterns)]

    def under(self, folder: str) -> list[str]:
        """Files below ``folder``."""
        prefix = folder.rstrip("/") + "/"
        return [f for f in self.files if f.startswith(prefix)]

    @property
    def tracked(self) -> set[str] | None:
        """Paths git tracks (relative to the root); None outside a repository or without git."""
        if not self._tracked_known:
            self._tracked_known = True
            git = shutil.which("git")
            result = run_command([git, "ls-files", "-z"], self.root) if git else None
            if result is not None and result.returncode == 0:
                self._tracked = {p for p in result.stdout.split("\0") if p}
        return self._tracked

    def git_ignores(self, relative: str) -> bool | None:
        """Whether git's ignore rules cover ``relative`` (tracked or not); None outside a repository."""
        git = shutil.which("git")
        if git is None or self.tracked is None:
            return None
        result = run_command([git, "check-ignore", "-q", "--no-index", "--", relative], self.root)
        if result is None or result.returncode not in (0, 1):
            return None
        return result.returncode == 0

    def toml(self, relative: str) -> dict[str, Any]:
        """A TOML file's data ({} when missing, unparseable or no TOML parser)."""
        if relative not in self._tomls:
            self._tomls[relative] = (load_toml(self.text(relative)) or {}) if self.exists(relative) else {}
        return self._tomls[relative]

    @property
    def has_ops_layout(self) -> bool:
        """Whether the repository has this template's config layout, so the config and security validators apply."""
        return self.exists("config/schema.json") and (self.root / "config" / "environments").is_dir()

    @property
    def has_security_layout(self) -> bool:
        """Whether the repository also has this template's security policies."""
        return self.has_ops_layout and (self.root / "security" / "policies").is_dir()

    def source_files(self) -> list[str]:
        """Python files that are not tests, migrations or tool configuration."""
        return [
            f
            for f in self.files
            if f.endswith(".py")
            and not is_test_path(f)
            and not any(part in ("migrations", "alembic", "docs", "scripts") for part in f.split("/")[:-1])
            and f.rsplit("/", 1)[-1] not in ("setup.py", "conftest.py", "noxfile.py")
        ]

    def environment(self) -> Path | None:
        """The project's installed virtual environment (``.venv`` or ``venv``), or None.

        prodready runs in an environment of its own (uvx), so what the project installed is
        inspected there, never in the interpreter running the checks.
        """
        for name in (".venv", "venv"):
            folder = self.root / name
            if (folder / "pyvenv.cfg").is_file():
                return folder
        return None


def is_test_path(path: str) -> bool:
    """Whether a relative path is a test module or lies under a ``tests``/``test`` folder."""
    parts = path.split("/")
    return any(p in ("tests", "test") for p in parts[:-1]) or is_test_file(parts[-1])


def is_test_file(name: str) -> bool:
    """Whether ``name`` is a pytest test module by the default naming rules."""
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


@contextlib.contextmanager
def inside(root: Path) -> Iterator[None]:
    """Run prodready's validators against ``root``: they read the working directory and three variables."""
    saved_cwd = Path.cwd()
    saved = {name: os.environ.get(name) for name in ("CONFIG_DIR", "POLICY_DIR", "KEYS_FILE")}
    os.chdir(root)
    os.environ["CONFIG_DIR"] = str(root / "config")
    os.environ["POLICY_DIR"] = str(root / "security" / "policies")
    os.environ["KEYS_FILE"] = str(root / "security" / "keys.json")
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class Context:
    """What the checks share: the project, the switches of this run, results computed once."""

    project: Project
    run_tests: bool = False
    audit: bool = False
    build: bool = False
    # The ASGI app's import path given on the command line (``--app``), if any.
    app: str | None = None
    _test_run: testrun.TestRun | None = None
    _deps_report: dict[str, Finding] | None = None

    def test_run(self) -> testrun.TestRun:
        """Run the test suite once (``--run-tests``) and share the result between checks."""
        if self._test_run is None:
            self._test_run = testrun.run(self.project.root)
        return self._test_run


@dataclass(frozen=True)
class Check:
    """One readiness check: where it scores, how much, and the function that decides.

    ``gate`` checks are the validation the post-generation hook enforces: a generated
    project always passes them, and ``check --validate`` exits 1 when one fails. ``needs`` names
    the option that runs the check (``--run-tests``, ``--audit``, ``--build``); without it
    the check is ``not run``. ``cap`` is the highest overall score a repository can have
    while the check fails, whatever else passes (a service that does not start is not ready).
    """

    id: str
    area: str
    weight: int
    title: str
    decide: Callable[[Context], Finding]
    gate: bool = False
    needs: str = ""
    cap: int | None = None


CHECKS: list[Check] = []


def check(
    id: str,
    area: str,
    weight: int,
    title: str,
    gate: bool = False,
    needs: str = "",
    cap: int | None = None,
) -> Callable[[Callable[[Context], Finding]], Callable[[Context], Finding]]:
    """Register the decorated function as a check."""

    def register(decide: Callable[[Context], Finding]) -> Callable[[Context], Finding]:
        CHECKS.append(Check(id, area, weight, title, decide, gate, needs, cap))
        return decide

    return register


def evaluate(item: Check, context: Context) -> Finding:
    """Run one check; an option it needs and was not given makes it ``not run``."""
    enabled = {"": True, "--run-tests": context.run_tests, "--audit": context.audit, "--build": context.build}
    if not enabled[item.needs]:
        return replace(not_run(f"runs with {item.needs}", fix=f"prodready check {item.needs}"), check=item.id)
    return replace(item.decide(context), check=item.id)


def requirement_files(project: Project) -> list[str]:
    """``requirements*.txt``, ``constraints*.txt`` and every ``.txt`` under a ``requirements/`` folder."""
    found = project.named("requirements*.txt", "constraints*.txt")
    found += [f for f in project.files if f.endswith(".txt") and "requirements" in f.split("/")[:-1]]
    return sorted({f for f in found if not is_test_path(f)})


def logical_lines(text: str) -> list[str]:
    """Lines of a requirements file with backslash continuations joined."""
    return text.replace("\\\n", " ").splitlines()


def env_files(project: Project) -> list[str]:
    """Dotenv files: ``.env``, ``.env.*`` and ``*.env``."""
    return [
        f
        for f in project.files
        if (name := f.rsplit("/", 1)[-1]) == ".env" or name.startswith(".env.") or name.endswith(".env")
    ]


def is_env_template(path: str) -> bool:
    """Whether a dotenv file is a committed template (``.env.example``, ``.env.production.template``)."""
    return any(part in _TEMPLATE_WORDS for part in path.rsplit("/", 1)[-1].lower().split("."))


def is_secret_name(name: str) -> bool:
    """Whether a variable name says it holds a secret."""
    return _SECRET_NAME.search(name) is not None


def ignored_by_patterns(lines: list[str], path: str, anywhere: bool) -> bool:
    """Whether ignore-file ``lines`` exclude ``path``; the last matching pattern wins, ``!`` re-includes.

    Matching is pathspec's gitignore implementation. ``anywhere`` keeps gitignore's meaning of a
    slash-less pattern (any folder level); without it such patterns are anchored at the root, as
    in ``.dockerignore``.
    """
    import pathspec  # Copier's environment has it; imported here, as few checks need it

    if not anywhere:
        lines = [_anchored(line) for line in lines]
    return pathspec.GitIgnoreSpec.from_lines(lines).match_file(path)


def _anchored(line: str) -> str:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return stripped
    negated = stripped.startswith("!")
    pattern = stripped[1:] if negated else stripped
    if "/" not in pattern.rstrip("/"):
        pattern = "/" + pattern
    return ("!" if negated else "") + pattern


def makefile_targets(project: Project) -> dict[str, tuple[list[str], list[str]]]:
    """Makefile targets: name → (prerequisites, recipe lines)."""
    targets: dict[str, tuple[list[str], list[str]]] = {}
    current: list[str] = []
    for line in project.text("Makefile").splitlines():
        rule = re.match(r"^([A-Za-z0-9_.-]+(?:\s+[A-Za-z0-9_.-]+)*)\s*:(?!=)([^#]*)", line)
        if rule and not line.startswith("\t"):
            current = rule.group(1).split()
            for name in current:
                targets[name] = (rule.group(2).split(), [])
        elif line.startswith("\t") and current:
            for name in current:
                targets[name][1].append(line.strip())
        elif line.strip() and not line.startswith("\t"):
            current = []
    return targets


def expand_make(text: str, project: Project, depth: int = 3) -> str:
    """Append the recipes of the ``make`` targets that ``text`` calls, so checks see what CI runs."""
    targets = makefile_targets(project)
    seen: set[str] = set()
    pending = re.findall(r"(?:\bmake|\$\(MAKE\))\s+(?:-{1,2}[\w-]+\s+)*([a-z][\w-]*)", text)
    extra: list[str] = []
    for _ in range(depth):
        following: list[str] = []
        for name in pending:
            if name in seen or name not in targets:
                continue
            seen.add(name)
            prerequisites, recipe = targets[name]
            extra.extend(recipe)
            following += prerequisites
            following += re.findall(r"\$\(MAKE\)\s+(?:-{1,2}[\w-]+\s+)*([a-z][\w-]*)", "\n".join(recipe))
        pending = following
    return text + "\n" + "\n".join(extra)


def ci_files(project: Project) -> list[str]:
    """CI definitions: GitHub Actions workflows, GitLab CI and other common services."""
    workflows = [f for f in project.under(".github/workflows") if f.endswith((".yml", ".yaml"))]
    gitlab = [
        f
        for f in (".gitlab-ci.yml", *project.under(".gitlab/ci"))
        if project.exists(f) and f.endswith((".yml", ".yaml"))
    ]
    others = [
        f
        for f in (
            ".circleci/config.yml",
            "Jenkinsfile",
            "azure-pipelines.yml",
            "bitbucket-pipelines.yml",
            ".travis.yml",
        )
        if project.exists(f)
    ]
    return workflows + gitlab + others


def load_mapping(path: str, text: str) -> Any:
    """Parse JSON or YAML by the file's extension; None when it does not parse."""
    try:
        return json.loads(text) if path.endswith(".json") else layers.parse_yaml(text)
    except (ValueError, yaml.YAMLError):
        return None


def image_pinned(image: str) -> bool:
    """Whether a container image names a digest or an explicit tag other than ``latest``."""
    if "@sha256:" in image:
        return True
    name = image.rsplit("/", 1)[-1]
    return ":" in name and name.rsplit(":", 1)[1] not in ("", "latest") and "$" not in name
