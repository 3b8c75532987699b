"""``adopt``: bring an existing FastAPI repository under the template without touching its code.

Usage::

    prodready adopt [PATH] [--app package.module:app] [--data NAME=VALUE ...] [--template SRC]
        [--vcs-ref REF]

Everything that can refuse happens first, and nothing is written until all of it passed: the
folder holds a FastAPI app (found by its ``X = FastAPI(...)`` line, or named with ``--app``),
it was not adopted before (no ``.copier-answers.yml``), git does not track ``.env`` (the
commands to untrack it are printed), and Copier accepts the answers. Then:

1. Copier renders the template with ``app_source=existing`` into a temporary folder (its
   post-generation task is not run there).
2. Each rendered file that the repository lacks is written; one it already has is left alone
   and written beside it (``Dockerfile.prodready``, ``README.prodready.md``,
   ``pyproject.prodready.toml``) for the team to merge. No file of the repository changes, none
   is deleted; ``.copier-answers.yml`` is written so that ``copier update`` works later.
3. ``requirements*.txt`` and ``requirements/*.txt`` (``-r`` includes followed) go into the new
   ``pyproject.toml``: runtime packages to ``dependencies``, test and lint tools to the ``dev``
   group, security scanners to nothing (the Makefile runs them in isolated tool environments).
   Every pin is kept as written; ``uv lock`` then says whether they can all be installed
   together, and a conflict is printed with uv's explanation and the pins to move.
4. In an existing ``.env``, each key of ``security/keys.json`` whose value is a placeholder
   (``CHANGE_ME``, empty, a known default) gets a fresh value in place; real values and every
   other line stay byte for byte. Missing keys are appended (``keys ensure``).
5. The template's post-generation checks run (``hooks/post_gen.py``: ``prodready check``).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from . import auditlog, deps, envfile, keyrules, keys

# The ASGI import path rule, as copier.yml's validator of existing_app states it.
_IMPORT_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")
_FASTAPI_APP = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(?::[^=]*)?=\s*(?:fastapi\.)?FastAPI\(", re.MULTILINE)
# Folders that never hold the application.
_NOT_CODE = {".git", ".venv", "venv", "node_modules", "tests", "test", "migrations", "docs", "build", "dist"}
# Where a file the repository already has is written instead: the name with ".prodready"
# before these suffixes (so editors still know the format), after any other name. A copy of a
# workflow, a Python module or a test keeps a suffix no tool runs (ci.yml.prodready).
_SUFFIX_KEPT = {".md", ".toml"}
BESIDE = ".prodready"
# Test and lint tools: the dev group, not the app's runtime dependencies.
DEV_TOOLS = (
    "black",
    "flake8",
    "isort",
    "mypy",
    "pylint",
    "ruff",
    "coverage",
    "pre-commit",
    "tox",
    "nox",
    "hypothesis",
    "factory-boy",
    "faker",
    "responses",
)
_DEV_FILE = re.compile(r"(^|[-_/])(dev|test|tests|testing|lint|ci)([-_.]|$)", re.IGNORECASE)
COMPROMISED = (
    "a value that was ever committed or shared must be treated as compromised: replace it "
    "where it is used (`prodready keys rotate NAME`), even if it was not a placeholder"
)


class AdoptError(Exception):
    """Adoption cannot start; the message says why and what to do. Nothing was written."""


@dataclass
class Imported:
    """Requirements read from the repository's requirements files, sorted by destination."""

    runtime: list[str] = field(default_factory=list)
    dev: list[str] = field(default_factory=list)
    isolated: list[str] = field(default_factory=list)
    where: dict[str, str] = field(default_factory=dict)  # requirement -> file:line
    skipped: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def register(groups: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``adopt`` command."""
    parser = groups.add_parser(
        "adopt",
        help="render the template around an existing FastAPI app; never over or inside its files",
    )
    parser.add_argument("path", nargs="?", type=Path, default=Path("."), help="the repository (default: .)")
    parser.add_argument("--app", help="the app's ASGI import path, package.module:app (default: found in the code)")
    parser.add_argument(
        "--data", action="append", default=[], metavar="NAME=VALUE", help="a template answer (repeatable)"
    )
    parser.add_argument("--template", help="the template: a path or git URL (default: this prodready's checkout)")
    parser.add_argument("--vcs-ref", help="the template's git reference (default: its newest release tag)")
    parser.set_defaults(handler=adopt_command)


# --- finding the app ---------------------------------------------------------------------


def _python_files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _NOT_CODE and not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield Path(dirpath, name)


def _module_of(root: Path, path: Path) -> tuple[str, str] | None:
    """Return (import path of ``path``, folder: src or root), None when it is not importable."""
    relative = path.relative_to(root).with_suffix("")
    parts = list(relative.parts)
    folder = "root"
    if parts[0] == "src":
        parts, folder = parts[1:], "src"
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or not all(part.isidentifier() for part in parts):
        return None
    return ".".join(parts), folder


def find_app(root: Path) -> tuple[str, str]:
    """Return the import path (``package.module:app``) and folder of the repository's FastAPI app.

    Raises:
        AdoptError: no FastAPI app, or several.
    """
    found: list[tuple[str, str]] = []
    for path in _python_files(root):
        text = path.read_text(encoding="utf-8", errors="replace")
        module = _module_of(root, path)
        if module is None or "FastAPI(" not in text:
            continue
        found.extend((f"{module[0]}:{name}", module[1]) for name in _FASTAPI_APP.findall(text))
    if not found:
        raise AdoptError(
            f"{root} holds no FastAPI app (no `app = FastAPI(...)` line in its Python files): "
            "adopt is for FastAPI services; name the app with --app package.module:app if it is built elsewhere"
        )
    if len(found) > 1:
        raise AdoptError(
            f"{root} holds {len(found)} FastAPI apps ({', '.join(app for app, _ in found)}): "
            "choose the one to serve with --app"
        )
    return found[0]


def check_app(root: Path, app: str) -> str:
    """Check ``--app`` against the rule and the files; return its folder (src or root).

    Raises:
        AdoptError: not an import path, or no module file for it.
    """
    if not _IMPORT_PATH.fullmatch(app):
        raise AdoptError(
            f'"{app}" is not an ASGI import path: use package.module:app '
            "(dotted Python names, a colon, the name of the app object)"
        )
    module = app.split(":")[0].replace(".", "/")
    for folder, base in (("src", root / "src"), ("root", root)):
        if (base / f"{module}.py").is_file() or (base / module / "__init__.py").is_file():
            return folder
    raise AdoptError(f'"{app}": neither src/{module}.py nor {module}.py (nor a package of that name) exists in {root}')


# --- preflight ---------------------------------------------------------------------------


def untrack_commands(root: Path) -> str:
    """The exact commands that stop git tracking ``.env`` and keep it out from then on."""
    ignored = keys.is_ignored(root / ".env")
    lines = [f"cd {root}", "git rm --cached .env"]
    if not ignored:
        lines.append("echo .env >> .gitignore && git add .gitignore")
    lines.append('git commit -m "Stop tracking .env"')
    return "\n".join(f"  {line}" for line in lines)


def preflight(root: Path) -> None:
    """Refuse what adoption must not start on; writes nothing.

    Raises:
        AdoptError: not a folder, already adopted, a tracked ``.env``, or an ``.env`` git
            would not ignore.
    """
    if not root.is_dir():
        raise AdoptError(f"{root} is not a folder")
    if (root / ".copier-answers.yml").exists():
        raise AdoptError(
            f"{root} already has .copier-answers.yml: it was generated or adopted before; "
            "use `copier update --trust --defaults` there"
        )
    env = root / ".env"
    if env.exists() and keys.is_tracked(env):
        raise AdoptError(
            f"{env} is tracked by git: keys written there would be committed. Untrack it, then run "
            f"adopt again (and treat every value it ever held as compromised):\n{untrack_commands(root)}"
        )
    if env.exists() and keys.is_ignored(env) is False:
        raise AdoptError(
            f"git does not ignore {env}: keys written there could be committed. Ignore it, then run adopt again:\n"
            f"  cd {root}\n  echo .env >> .gitignore && git add .gitignore && git commit -m 'Ignore .env'"
        )


# --- rendering and placing ---------------------------------------------------------------


def default_template() -> str:
    """The template repository this prodready comes from, when it runs from a checkout."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "copier.yml").is_file():
        return str(checkout)
    raise AdoptError("this prodready was not run from the template's checkout: name the template with --template")


def render(template: str, target: Path, data: dict[str, str], vcs_ref: str | None) -> None:
    """Render the template into ``target`` with Copier, without its post-generation task.

    Raises:
        AdoptError: Copier is not installed, or refused an answer (its message is kept).
    """
    if importlib.util.find_spec("copier") is None:
        raise AdoptError("Copier is not installed beside prodready: `uv tool install copier` or `pip install copier`")
    command = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--skip-tasks", "--quiet"]
    command += [f"--data={name}={value}" for name, value in data.items()]
    if vcs_ref:
        command.append(f"--vcs-ref={vcs_ref}")
    result = subprocess.run(
        [*command, template, str(target)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ, NO_COLOR="1"),
        check=False,
    )
    if result.returncode != 0:
        message = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise AdoptError(f"the template refused the answers: {message[-1] if message else 'copier failed'}")


def beside(relative: Path) -> Path:
    """Where a rendered file goes when the repository has its own: ``README.prodready.md``.

    An env file loses its leading dot (``env.example.prodready``): tools and checks read every
    ``.env*`` file as settings, and this copy is only there to be merged.
    """
    if relative.suffix in _SUFFIX_KEPT and not relative.name.startswith("."):
        return relative.with_name(f"{relative.stem}{BESIDE}{relative.suffix}")
    name = relative.name[1:] if relative.name.startswith(".env") else relative.name
    return relative.with_name(name + BESIDE)


def plan(rendered: Path, root: Path) -> tuple[list[Path], list[tuple[Path, Path]], list[Path]]:
    """Sort the rendered files: new ones, collisions (with their name beside), identical ones.

    Raises:
        AdoptError: a collision's name beside is taken by a different file.
    """
    new: list[Path] = []
    collisions: list[tuple[Path, Path]] = []
    same: list[Path] = []
    for path in sorted(p for p in rendered.rglob("*") if p.is_file() and ".git" not in p.parts):
        relative = path.relative_to(rendered)
        existing = root / relative
        if not existing.exists() and not existing.is_symlink():
            new.append(relative)
        elif existing.is_file() and existing.read_bytes() == path.read_bytes():
            same.append(relative)
        else:
            other = beside(relative)
            if (root / other).exists() and (root / other).read_bytes() != path.read_bytes():
                raise AdoptError(f"{relative} exists and so does {other}: move {other} away, then run adopt again")
            collisions.append((relative, other))
    return new, collisions, same


def place(rendered: Path, root: Path, files: Sequence[tuple[Path, Path]]) -> None:
    """Copy rendered files to their places in ``root`` (mode kept); no existing file is replaced."""
    for source, target in files:
        destination = root / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.exists():
            continue
        shutil.copy2(rendered / source, destination)


# --- dependencies ------------------------------------------------------------------------


def requirement_files(root: Path) -> list[Path]:
    """``requirements*.txt`` at the root and every ``requirements/*.txt``, in a stable order."""
    found = sorted(root.glob("requirements*.txt")) + sorted((root / "requirements").glob("*.txt"))
    return [path for path in found if path.is_file()]


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield start, pending + line
        pending = ""


def import_requirements(root: Path) -> Imported:
    """Read every requirements file; sort each requirement into runtime, dev or isolated tools.

    A file named like ``requirements-dev.txt`` or ``requirements/test.txt`` is dev as a whole;
    ``-r`` includes are followed (a file is read once); options (``--index-url``, ``-c``,
    ``-e``) are listed as skipped, never guessed at.
    """
    imported = Imported()
    seen: set[Path] = set()
    pending = [(path, bool(_DEV_FILE.search(path.relative_to(root).as_posix()))) for path in requirement_files(root)]
    while pending:
        path, dev_file = pending.pop(0)
        if path.resolve() in seen or not path.is_file():
            continue
        seen.add(path.resolve())
        relative = path.relative_to(root).as_posix()
        imported.files.append(relative)
        for number, raw in _logical_lines(path.read_text(encoding="utf-8", errors="replace")):
            line = re.sub(r"(^|\s)#.*$", "", raw).strip()
            line = re.sub(r"\s--hash=\S+", "", line).strip()
            if not line:
                continue
            include = re.match(r"^(?:-r|--requirement)\s*=?\s*(\S+)$", line)
            if include:
                target = (path.parent / include.group(1)).resolve()
                pending.insert(0, (target, dev_file or bool(_DEV_FILE.search(include.group(1)))))
                continue
            if line.startswith("-"):
                imported.skipped.append(f"{relative}:{number}: {line} (an option: set it in pyproject.toml by hand)")
                continue
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                imported.skipped.append(f"{relative}:{number}: {line} (not a requirement uv can read)")
                continue
            name = deps._normalize(requirement.name)
            text = str(requirement)
            imported.where[text] = f"{relative}:{number}"
            if name in deps.ISOLATED_TOOLS:
                imported.isolated.append(text)
            elif dev_file or name in DEV_TOOLS or name.startswith("pytest") or name.startswith("types-"):
                imported.dev.append(text)
            else:
                imported.runtime.append(text)
    return imported


def _names(requirements: Sequence[str]) -> set[str]:
    return {_name(text) for text in requirements}


def _name(requirement: str) -> str:
    return deps._normalize(Requirement(requirement).name)


def _array_items(text: str, header: str) -> tuple[int, int]:
    """Return the span of the lines inside the TOML array opened by ``header``."""
    start = text.index(header) + len(header)
    end = text.index("\n]", start)
    return start, end


def merge_requirements(pyproject: str, imported: Imported) -> tuple[str, list[str]]:
    """Put the imported requirements into ``pyproject``'s arrays; return it and what was replaced.

    Where the team pins a package the template also lists, the team's line wins and the
    template's goes (the template only states a floor); each such case is reported.
    """
    replaced: list[str] = []
    for header, requirements in (("dependencies = [", imported.runtime), ("dev = [", imported.dev)):
        if not requirements:
            continue
        start, end = _array_items(pyproject, header)
        body = pyproject[start:end]
        theirs = {_name(text): index for index, text in enumerate(requirements)}
        requirements = list(requirements)
        kept = []
        for line in body.splitlines(keepends=True):
            item = re.match(r'\s*"([^"]+)",', line)
            if not item or _name(item.group(1)) not in theirs:
                kept.append(line)
                continue
            ours = Requirement(item.group(1))
            index = theirs[_name(item.group(1))]
            team = Requirement(requirements[index])
            note = f"{requirements[index]} kept"
            if ours.extras - team.extras:
                # The extras add packages (uvicorn[standard]: uvloop, python-dotenv); the pin stays.
                team.extras |= ours.extras
                imported.where[str(team)] = imported.where[requirements[index]]
                requirements[index] = str(team)
                note = f"{requirements[index]} kept, with the template's extras [{','.join(sorted(ours.extras))}]"
            replaced.append(f"{note} (the template asked {item.group(1)})")
        sources = sorted({imported.where[r].split(":")[0] for r in requirements})
        added = f"\n    # From {', '.join(sources)}, as written there." + "".join(
            f'\n    "{requirement}",' for requirement in requirements
        )
        pyproject = pyproject[:start] + "".join(kept).rstrip("\n") + added + pyproject[end:]
    return pyproject, replaced


def lock(root: Path, imported: Imported) -> tuple[str, str]:
    """Run ``uv lock``; return (state, message): pass, fail (uv's explanation) or not run."""
    uv = shutil.which("uv")
    if uv is None:
        return "not run", "uv is not installed: install it, then `make lock`"
    result = subprocess.run([uv, "lock"], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return "pass", "uv.lock written: every requirement resolves together"
    # uv's own lines about which interpreter it found say nothing about the conflict.
    explanation = "\n".join(line for line in result.stderr.strip().splitlines() if not line.startswith("Using "))
    if "unsatisfiable" not in explanation and "No solution found" not in explanation:
        return "not run", f"uv lock could not run: {explanation.splitlines()[-1] if explanation else 'no output'}"
    # The pins uv's explanation names, as the repository wrote them, with where they came from.
    named = [text for text in imported.where if re.search(rf"\b{re.escape(text)}\b", explanation)]
    pins = [f"{text} ({imported.where[text]})" for text in named]
    advice = (
        f"\n  pins to move: {', '.join(pins)}: change one of them in pyproject.toml "
        "(to a version the other allows), then `make lock`"
        if pins
        else "\n  change one of the pins uv names in pyproject.toml, then `make lock`"
    )
    return "fail", f"your requirements cannot be installed together; uv says:\n{explanation}{advice}"


# --- keys --------------------------------------------------------------------------------


def replace_placeholder_keys(env_path: Path, rules: keyrules.Rules) -> tuple[list[str], list[str]]:
    """Give each key of ``rules`` whose value in ``env_path`` is a placeholder a fresh value, in place.

    Returns:
        The keys replaced, and the other variables that still hold a placeholder (not keys of
        the service: their real value is not this program's to make up).
    """
    if not env_path.is_file():
        return [], []
    # Bytes, not text mode: a CRLF line must come back as CRLF.
    try:
        text = env_path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise envfile.EnvFileError(f"{env_path} cannot be read as UTF-8 text ({exc})") from None
    specs = {spec.name: spec for spec in rules.keys}
    lines = text.splitlines(keepends=True)
    replaced: list[str] = []
    others: list[str] = []
    for index, line in enumerate(lines):
        match = keys._ASSIGNMENT.match(line)
        if not match:
            continue
        name = match.group("name")
        value = envfile.parse(line).get(name, "")
        if name in specs and (not value or keyrules.is_placeholder(value)):
            fresh = keyrules.fresh_value(specs[name])
            lines[index] = keys._assign(line, name, fresh)
            replaced.append(name)
            auditlog.record("generate", "development", name, fresh)
        elif name not in specs and value and keyrules.is_unfilled(value):
            others.append(name)
    if replaced:
        keys.write_secret_file(env_path, "".join(lines))
    return replaced, others


# --- the command -------------------------------------------------------------------------


def _parse_data(items: Sequence[str]) -> dict[str, str]:
    data = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise AdoptError(f'--data "{item}" is not NAME=VALUE')
        data[name] = value
    return data


def _project_name(root: Path) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", " ", root.resolve().name).strip()
    return words.title() if words else "My Service"


def adopt(root: Path, app: str | None, data: dict[str, str], template: str, vcs_ref: str | None) -> int:
    """Adopt ``root``; print what was done and what to do next; return the exit code."""
    preflight(root)
    if app is None:
        app, folder = find_app(root)
    else:
        folder = check_app(root, app)
    answers = {
        "project_name": _project_name(root),
        # The team's app brings its own storage: no database or cache of the template's unless asked.
        "use_postgres": "false",
        "use_redis": "false",
        **data,
        "app_source": "existing",
        "existing_app": app,
        "existing_app_folder": folder,
    }
    with tempfile.TemporaryDirectory(prefix="prodready-adopt-") as scratch:
        rendered = Path(scratch) / "project"
        render(template, rendered, answers, vcs_ref)
        new, collisions, same = plan(rendered, root)
        imported = import_requirements(root)
        pyproject = rendered / "pyproject.toml"
        replaced: list[str] = []
        if imported.runtime or imported.dev:
            text, replaced = merge_requirements(pyproject.read_text(encoding="utf-8"), imported)
            pyproject.write_text(text, encoding="utf-8")
        # Everything that could refuse has run: from here on files are written.
        place(rendered, root, [(path, path) for path in new] + collisions)
    print(f"prodready adopt: {app} ({'src/' if folder == 'src' else ''}{app.split('.')[0].split(':')[0]}/) in {root}")
    print(f"  ✓ {len(new)} files added (tests/unit, tests/integration, tests/e2e, config/, security/, CI, …)")
    if same:
        print(f"  ✓ {len(same)} already identical: {', '.join(p.as_posix() for p in same)}")
    if collisions:
        print(f"  ! {len(collisions)} of your files kept as they are; the template's version is beside each, to merge:")
        for mine, other in collisions:
            print(f"      {mine.as_posix()}  ->  {other.as_posix()}")
    code = 0
    own_pyproject = any(mine == Path("pyproject.toml") for mine, _ in collisions)
    code |= _report_dependencies(root, imported, replaced, own_pyproject)
    code |= _report_keys(root)
    code |= _post_generation(root, template)
    print("\nNext: docs/adopting.md in the template repository walks from here to grade A.")
    return code


def _report_dependencies(root: Path, imported: Imported, replaced: list[str], own_pyproject: bool) -> int:
    if not imported.files:
        print("  - no requirements file: dependencies are the template's only; add yours with `uv add`")
        return 0
    target = "pyproject.prodready.toml (merge it into yours)" if own_pyproject else "pyproject.toml"
    print(
        f"  ✓ {', '.join(imported.files)} imported into {target}: {len(imported.runtime)} runtime, "
        f"{len(imported.dev)} dev; every pin as written"
    )
    for line in replaced:
        print(f"      {line}")
    if imported.isolated:
        print(
            f"  ✓ left out of the app's dependencies: {', '.join(imported.isolated)} "
            "(`make security-scan` runs the scanners in isolated tool environments)"
        )
    for line in imported.skipped:
        print(f"  ! skipped {line}")
    if own_pyproject:
        print("  - uv lock not run: your pyproject.toml is yours; merge, then `make lock`")
        return 0
    state, message = lock(root, imported)
    mark = {"pass": "✓", "fail": "✗", "not run": "-"}[state]
    print(f"  {mark} dependency lock: {message}")
    return 1 if state == "fail" else 0


def _report_keys(root: Path) -> int:
    env = root / ".env"
    previous = Path.cwd()
    os.chdir(root)
    try:
        rules = keyrules.load(Path("security/keys.json"))
        existed = env.exists()
        replaced, others = replace_placeholder_keys(Path(".env"), rules)
        added = keys.ensure(Path(".env"))
    except (keys.KeysError, keyrules.KeyRulesError, envfile.EnvFileError) as exc:
        print(f"  ✗ keys: {exc}")
        return 1
    finally:
        os.chdir(previous)
    if replaced:
        print(f"  ✓ .env: placeholder values replaced in place by fresh keys: {', '.join(replaced)}")
        print(f"      {COMPROMISED}")
    added_keys = [name for name in added if name in {spec.name for spec in rules.keys}]
    if added_keys:
        print(f"  ✓ .env: {'appended' if existed else 'created (mode 0600) with'} {', '.join(added_keys)}")
    if others:
        print(f"  ! .env: still placeholders, not keys of the service (set them yourself): {', '.join(others)}")
    return 0


def _post_generation(root: Path, template: str) -> int:
    hook = Path(template) / "hooks" / "post_gen.py"
    if not hook.is_file():
        print("  - post-generation checks not run (the template is not a local folder): run `make setup`")
        return 0
    result = subprocess.run(
        [
            sys.executable,
            str(hook),
            "--operation=copy",
            f"--source={Path(template) / 'src'}",
            "--git-init=False",
            # adopt ran `uv lock` itself and reported the outcome, a conflict with uv's words.
            "--lock=False",
            f"--destination={root}",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    print((result.stdout + result.stderr).rstrip())
    return 0 if result.returncode == 0 else 1


def adopt_command(args: argparse.Namespace) -> int:
    """Run ``adopt``; a refusal is one message and exit 2, with nothing written."""
    try:
        data = _parse_data(args.data)
        template = args.template or default_template()
        return adopt(args.path, args.app, data, template, args.vcs_ref)
    except AdoptError as exc:
        print(f"prodready adopt: {exc}", file=sys.stderr)
        print("nothing was written", file=sys.stderr)
        return 2
