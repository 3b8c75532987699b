"""Start a repository's ASGI app under uvicorn, in its development environment, and ask it whether it is up.

``prodready check --run-tests`` uses this (the ``tests.service_starts`` check). The app is the
first of:

1. ``--app package.module:app`` on the command line;
2. ``[tool.prodready] app = "package.module:app"`` in ``pyproject.toml``;
3. in a project made by this template, its answers (``.copier-answers.yml``): the adopted app
   (``existing_app``) or the rendered ``<package_name>.main:create_app`` factory;
4. the ``uvicorn`` command of the Makefile's ``dev``/``run``/``serve``/``start`` targets, a
   ``Procfile`` or the Dockerfile (``--factory`` and ``--app-dir`` included), when the module
   it names is in the repository;
5. a ``FastAPI(...)`` assigned at the top of ``main.py`` or ``app.py`` in the root, ``app/``,
   ``src/`` or a package under ``src/``.

A trailing ``()`` (``package.main:create_app()``) marks an app factory. The server listens on a
free port of 127.0.0.1; the first of ``/health/live``, ``/health``, ``/healthz`` and
``/openapi.json`` to answer 2xx proves it started. The server is always stopped, its whole
process group. Its output is shown with every value of the project's ``.env`` masked.
Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import envfile, testrun

ANSWERS_FILE = ".copier-answers.yml"
PROBES = ("/health/live", "/health", "/healthz", "/openapi.json")
# Importing a data-science stack takes seconds; a minute without an answer means it hangs.
START_TIMEOUT_SECONDS = 60.0
_STOP_SECONDS = 10
_POLL_SECONDS = 0.25
# How long a server that answers, but never 2xx, is given before it fails.
_ANSWERING_SECONDS = 5.0
_IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?:\(\))?$")
_FASTAPI_ASSIGNMENT = re.compile(r"^([A-Za-z_]\w*)\s*(?::[^=\n]+)?=\s*(?:fastapi\.)?FastAPI\(", re.MULTILINE)
_MAKE_VARIABLE = re.compile(r"^([A-Za-z_][\w]*)\s*(?::=|\?=|=)\s*(.*?)\s*$", re.MULTILINE)
_RUN_TARGETS = ("dev", "run", "serve", "start", "server", "up")
_OUTPUT_LINES = 3


class AppPathError(ValueError):
    """An import path that is not ``package.module:attribute``."""


@dataclass(frozen=True)
class App:
    """Where the ASGI app is: its import path, the folder put on ``sys.path``, where this was found."""

    path: str
    app_dir: str = ""
    factory: bool = False
    source: str = ""

    @property
    def module(self) -> str:
        """The module to import (``package.main``)."""
        return self.path.split(":", 1)[0]

    def describe(self) -> str:
        """``package.main:create_app (factory, from Makefile)``."""
        notes = [
            n for n in ("factory" if self.factory else "", f"--app-dir {self.app_dir}" if self.app_dir else "") if n
        ]
        notes.append(f"from {self.source}")
        return f"{self.path} ({', '.join(notes)})"


@dataclass(frozen=True)
class Start:
    """What happened: ``state`` is ``pass``, ``fail`` or ``not run``; ``detail`` says what was seen."""

    state: str
    detail: str


def parse_app(text: str, source: str, app_dir: str = "", factory: bool = False) -> App:
    """Parse ``package.module:attribute`` (``attribute()`` for a factory).

    Raises:
        AppPathError: ``text`` is not such a path; the message names it and the rule.
    """
    text = text.strip()
    if not _IMPORT_PATH.match(text):
        raise AppPathError(
            f"{text!r} is not an ASGI import path: use package.module:attribute (attribute() for a factory)"
        )
    if text.endswith("()"):
        text, factory = text[:-2], True
    return App(text, app_dir, factory, source)


def module_file(root: Path, app: App) -> Path | None:
    """The file that holds ``app``'s module inside the repository, or None."""
    relative = Path(*app.module.split("."))
    for base in (root / app.app_dir if app.app_dir else root, root / "src"):
        for candidate in (base / relative.with_suffix(".py"), base / relative / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def find_app(
    root: Path,
    configured: str | None,
    pyproject: dict[str, Any],
    answers: dict[str, Any],
    texts: dict[str, str],
    recipes: dict[str, list[str]],
) -> App | None:
    """The app to start (see the module docstring for the order); None when nothing names one.

    ``answers`` is the project's ``.copier-answers.yml`` ({} when there is none). ``texts`` maps
    relative paths to the repository's file texts (``Makefile``, ``Procfile``, ``Dockerfile`` and
    the ``main.py``/``app.py`` candidates); missing files map to "".
    ``recipes`` maps the Makefile's targets to their recipe lines.

    Raises:
        AppPathError: ``configured`` or ``[tool.prodready] app`` is not an import path.
    """
    if configured:
        return _located(root, parse_app(configured, "--app"))
    setting = pyproject.get("tool", {}).get("prodready", {}).get("app")
    if setting is not None:
        return _located(root, parse_app(str(setting), "pyproject.toml [tool.prodready] app"))
    from_answers = _from_answers(root, answers)
    if from_answers is not None:
        return from_answers
    for source in ("Makefile", "Procfile", "Dockerfile"):
        for app in _commands(texts.get(source, ""), source, recipes):
            located = module_file(root, app)
            if located is not None:
                return _with_app_dir(root, app, located)
    for relative, text in sorted(texts.items(), key=lambda item: _discovery_rank(item[0])):
        if not relative.endswith(("main.py", "app.py")):
            continue
        match = _FASTAPI_ASSIGNMENT.search(text)
        if match:
            app_dir, module = (
                ("src", relative[len("src/") : -3]) if relative.startswith("src/") else ("", relative[:-3])
            )
            return App(f"{module.replace('/', '.')}:{match.group(1)}", app_dir, False, relative)
    return None


def _from_answers(root: Path, answers: dict[str, Any]) -> App | None:
    # A project made by this template: the team's own app when it was adopted, else the factory
    # the template renders. Only when the module is there (answers can outlive a refactoring).
    existing = answers.get("existing_app")
    package = answers.get("package_name")
    if answers.get("app_source") == "existing" and isinstance(existing, str):
        try:
            app = parse_app(existing, ANSWERS_FILE)
        except AppPathError:
            return None
    elif isinstance(package, str) and package.isidentifier():
        app = App(f"{package}.main:create_app", "", True, ANSWERS_FILE)
    else:
        return None
    located = module_file(root, app)
    return _with_app_dir(root, app, located) if located is not None else None


def discovery_candidates(files: list[str]) -> list[str]:
    """The files :func:`find_app` looks into for a ``FastAPI(...)``: ``main.py``/``app.py`` by convention."""
    pattern = re.compile(r"^(?:(?:app|src)/)?(?:main|app)\.py$|^src/[A-Za-z_]\w*/(?:main|app)\.py$")
    return [f for f in files if pattern.match(f)]


def _discovery_rank(relative: str) -> tuple[int, str]:
    return (relative.count("/"), relative)


def _located(root: Path, app: App) -> App:
    # A named app whose module sits under src/ of a project that is not installed (an adopted
    # src layout runs with PYTHONPATH=src) is started with --app-dir src, as its Makefile does.
    located = module_file(root, app)
    return _with_app_dir(root, app, located) if located is not None else app


def _with_app_dir(root: Path, app: App, located: Path) -> App:
    if app.app_dir or not located.is_relative_to(root / "src"):
        return app
    return App(app.path, "src", app.factory, app.source)


def _commands(text: str, source: str, recipes: dict[str, list[str]]) -> list[App]:
    if source == "Makefile":
        variables = {name: value for name, value in _MAKE_VARIABLE.findall(text)}
        lines = [line for target in _RUN_TARGETS for line in recipes.get(target, [])]
        lines = [
            re.sub(r"\$\((\w+)\)|\$\{(\w+)\}", lambda m: variables.get(m[1] or m[2], m[0]), line) for line in lines
        ]
    else:
        # A Dockerfile's exec form ["uvicorn", "main:app", ...] reads as words once unquoted.
        lines = [re.sub(r'[\[\]",]', " ", line) for line in text.splitlines()]
    found = []
    for line in lines:
        words = line.split()
        if "uvicorn" not in words:
            continue
        after = words[words.index("uvicorn") + 1 :]
        factory = "--factory" in after
        app_dir = after[after.index("--app-dir") + 1] if "--app-dir" in after[:-1] else ""
        for word in after:
            if _IMPORT_PATH.match(word):
                found.append(App(word, app_dir, factory, source))
                break
    return found


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _masked(text: str, root: Path) -> str:
    # The server's errors may quote a setting's value (pydantic's input_value=…): mask every value
    # of the project's .env files, whatever its name, before any of it is shown.
    values: set[str] = set()
    for path in root.glob(".env*"):
        with contextlib.suppress(envfile.EnvFileError, OSError):
            values |= {v for v in envfile.read(path).values() if len(v) >= 4}
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, "***")
    return re.sub(r"(input_value=)('[^']*'|\"[^\"]*\"|\S+)", r"\1***", text)


def _reason(output: str, root: Path) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    # The exception line says what failed; the traceback above it says where.
    errors = [line for line in lines if re.match(r"^[\w.]*(Error|Exception|Exit)\b|^ERROR:", line)]
    shown = errors[-_OUTPUT_LINES:] if errors else lines[-_OUTPUT_LINES:]
    return _masked(" | ".join(shown), root) if shown else "no output"


def _import_check(prefix: list[str], root: Path, app: App, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    attribute = app.path.split(":", 1)[1]
    code = (
        "import functools, importlib, sys\n"
        f"sys.path.insert(0, {str(root / app.app_dir) if app.app_dir else str(root)!r})\n"
        f"module = importlib.import_module({app.module!r})\n"
        f"functools.reduce(getattr, {attribute!r}.split('.'), module)\n"
    )
    try:
        # A fixed argument list without a shell: the project's own interpreter.
        return subprocess.run(
            [*prefix, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=START_TIMEOUT_SECONDS
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(prefix, -1, "", f"Error: {exc}")


def _probe(port: int) -> tuple[bool, str] | None:
    """Ask each probe path once: (True, "GET /health answered 200") at the first 2xx, (False, what the
    paths answered) when the server answers but none with 2xx, None when it does not listen yet."""
    answers = []
    for path in PROBES:
        try:
            # Loopback only: the server this module just started.
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:  # nosec B310
                if 200 <= answer.status < 300:
                    return True, f"GET {path} answered {answer.status}"
                answers.append(f"{path} {answer.status}")
        except urllib.error.HTTPError as error:
            answers.append(f"{path} {error.code}")
        except (urllib.error.URLError, OSError):
            return None
    return False, ", ".join(answers)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def start(root: Path, app: App, timeout: float = START_TIMEOUT_SECONDS) -> Start:
    """Start ``app`` under uvicorn in the project's environment, probe it, stop it."""
    prefix = testrun.python(root)
    if prefix is None:
        return Start("not run", "the project's environment is not installed (no .venv, uv or Poetry project)")
    env = testrun.clean_environment()
    env["PYTHONUNBUFFERED"] = "1"
    port = free_port()
    command = [*prefix, "-m", "uvicorn", app.path, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--factory"] if app.factory else []
    command += ["--app-dir", app.app_dir] if app.app_dir else []
    with tempfile.TemporaryFile() as log:
        started, exited, answered = time.monotonic(), False, ""
        first_answer: float | None = None
        # A fixed argument list without a shell; its own session, so stopping it stops uv's child too.
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            while time.monotonic() - started < timeout:
                if process.poll() is not None:
                    exited = True
                    break
                answer = _probe(port)
                if answer is not None and answer[0]:
                    return Start("pass", f"{answer[1]} {time.monotonic() - started:.1f} s after start")
                if answer is not None:
                    # Up, but no probe answers 2xx: a lifespan still starting gets a few seconds.
                    answered = answer[1]
                    first_answer = first_answer or time.monotonic()
                    if time.monotonic() - first_answer >= _ANSWERING_SECONDS:
                        break
                time.sleep(_POLL_SECONDS)
        finally:
            _stop(process)
        log.seek(0)
        output = log.read().decode("utf-8", errors="replace")
    if "No module named uvicorn" in output:
        # Without uvicorn the app can still be imported: an app that does not is a failure.
        imported = _import_check(prefix, root, app, env)
        if imported.returncode != 0:
            return Start("fail", f"{app.path} does not import: {_reason(imported.stdout + imported.stderr, root)}")
        return Start("not run", f"{app.path} imports, but uvicorn is not installed in the project's environment")
    if exited:
        return Start("fail", f"uvicorn {app.path} exited {process.returncode}: {_reason(output, root)}")
    if answered:
        return Start("fail", f"it listens, but none of {', '.join(PROBES)} answers 2xx ({answered})")
    return Start(
        "fail",
        f"no 2xx answer from {', '.join(PROBES)} within {timeout:.0f} s: {_reason(output, root)}",
    )
