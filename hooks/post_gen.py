"""Post-generation hook: orchestration over prodready, run from the template source Copier has.

Copier runs this after `copy` and `update` (see `_tasks` in copier.yml) with its own Python,
from the project's root. It holds no checks of its own: every step is a ``prodready`` command,
imported from the template's ``src/`` and run in this process (no network, no install, no
second interpreter), the same code the project's Makefile and CI run later at the same
template version.

* copy: ``keys ensure``; ``git init`` (unless answered off, or already inside a repository);
  ``uv lock`` and the requirements export when uv and the index allow; then the validation.
* update: ``keys ensure`` and the validation (the env templates' check only reported: Copier
  runs this before it applies the project's own changes again), then what changed and what to do
  next.
* ``--lock=False`` (``prodready adopt``, which ran ``uv lock`` and reported it): no lock step.
* validation: ``prodready check --json`` (static). Its gate checks (configuration, keys, env
  templates against the settings, tests tree, Dockerfile and CI policy) are printed ✓/✗ with
  the score; a failed gate check makes the hook exit 1, naming the check.

A step that could not run is shown as not run (``-``), with the command that runs it later,
never as passed. The hook only writes what no template file owns (``.env``, the key audit log,
git metadata, ``uv.lock`` on the first copy), never deletes anything, and does nothing in
Copier's temporary replay folders.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

# Copier replays the old and new template versions in temporary folders during `update`, and
# runs the tasks there too; nothing should happen in those throw-away copies.
_REPLAY_MARKERS = (".old_copy.", ".new_copy.")
_MARKS = {"✓": "32", "✗": "31", "-": "33", "!": "33"}
# Gate checks that read files a team extends and an update renders again: Copier runs this hook
# on `update` before it applies the team's own changes again, so the env templates it sees lack
# the variables the team added for its own settings. On update they are reported, not enforced;
# `make setup` (prodready check --validate) enforces them on the merged files.
_CHECKED_AFTER_MERGE = ("config.env_complete",)
# The import names of prodready's dependencies (pyproject.toml [project] dependencies).
_PRODREADY_MODULES = ("yaml", "packaging", "pathspec", "dotenv", "jsonschema")


def in_replay_folder(path: Path) -> bool:
    """Return True inside one of Copier's temporary update replays."""
    return any(part.startswith("copier") and any(m in part for m in _REPLAY_MARKERS) for part in path.parts)


def inside_git_repo(path: Path) -> bool:
    """Return True when ``path`` is inside a git work tree."""
    if shutil.which("git") is None:
        return False
    result = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"], cwd=path, capture_output=True, text=True, check=False
    )
    return result.returncode == 0 and result.stdout.strip() == "true"


def colour(mark: str, text: str) -> str:
    """Colour ``text`` by its mark on a terminal (never when NO_COLOR is set or output is piped)."""
    if not sys.stdout.isatty() or os.environ.get("NO_COLOR") or mark not in _MARKS:
        return text
    return f"\033[{_MARKS[mark]}m{text}\033[0m"


class Hook:
    """Run the steps, remember their outcomes, print a summary."""

    def __init__(self, root: Path, source: Path, operation: str = "copy") -> None:
        self.root = root
        self.operation = operation
        # (mark, title, detail): ✓ passed, ✗ failed, - not run, ! to improve (not blocking)
        self.results: list[tuple[str, str, str]] = []
        self.failed: list[str] = []
        self.score_line = ""
        self.cli = self._import_prodready(source)

    def _import_prodready(self, source: Path) -> Any:
        # In this process, from the template's src/: no interpreter start and no install. When
        # a dependency beyond Copier's own is missing here, its steps are reported as not run.
        sys.path.insert(0, str(source))
        # prodready imports some of its dependencies only when a check needs them: look for all
        # of them first, so a missing one is "not run" here rather than a crashed check.
        absent = [name for name in _PRODREADY_MODULES if importlib.util.find_spec(name) is None]
        if absent:
            self.missing = f"{', '.join(absent)} not installed beside Copier"
            return None
        try:
            from prodready import cli
        except ImportError as exc:
            self.missing = f"{exc.name or exc} is not installed beside Copier"
            return None
        self.missing = ""
        return cli

    def prodready(self, title: str, *args: str, later: str) -> tuple[int, str] | None:
        """Run ``prodready ARGS`` here; None (the step recorded as not run) when it cannot be imported."""
        if self.cli is None:
            self.results.append(("-", title, f"not run ({self.missing}): run `{later}`"))
            return None
        output = io.StringIO()
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            try:
                code = self.cli.main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
            except Exception as exc:  # a crash is reported as a failed step, not a traceback
                print(f"prodready crashed: {type(exc).__name__}: {exc}")
                code = 2
        return code, output.getvalue()

    def record(self, title: str, ok: bool, detail: str = "", name: str = "") -> None:
        """Remember one step's outcome for the summary; ``name`` is how a failure is listed."""
        self.results.append(("✓" if ok else "✗", title, detail))
        if not ok:
            self.failed.append(name or title)

    def keys(self) -> None:
        """Append the keys ``.env`` lacks (``prodready keys ensure``)."""
        title = "development keys (.env, mode 0600)"
        result = self.prodready(title, "keys", "ensure", later="make setup")
        if result is None:
            return
        code, output = result[0], result[1].strip()
        self.record(title, code == 0, output.splitlines()[-1] if output else "")
        if code != 0:
            print(f"\n--- {title} failed ---\n{output}\n", file=sys.stderr)

    def step(self, title: str, command: list[str]) -> bool:
        """Run an external command (git, uv) and record the outcome."""
        result = subprocess.run(command, cwd=self.root, capture_output=True, text=True, check=False)
        ok = result.returncode == 0
        detail = (result.stdout + result.stderr).strip().splitlines()
        self.record(title, ok, detail[-1] if detail else "")
        return ok

    def lock(self) -> None:
        """Create ``uv.lock`` and ``requirements/production.txt`` when uv and the index allow.

        Tries the index first (newest versions); without a network, uv's cache may still
        resolve (``--offline``). When neither works the step is not run, and ``make setup``
        does it later: a project without a lock still works.
        """
        title = "dependency lock (uv.lock, requirements/production.txt)"
        uv = shutil.which("uv")
        if uv is None:
            self.results.append(("-", title, "not run (uv not found): `make setup` installs uv and locks"))
            return
        env = dict(os.environ, UV_HTTP_TIMEOUT=os.environ.get("UV_HTTP_TIMEOUT", "15"))
        for extra in ([], ["--offline"]):
            result = subprocess.run(
                [uv, "lock", "--quiet", *extra], cwd=self.root, env=env, capture_output=True, check=False
            )
            if result.returncode == 0:
                break
        else:
            self.results.append(("-", title, "not run (package index unreachable): run `make lock`"))
            return
        (self.root / "requirements").mkdir(exist_ok=True)
        export = [uv, "export", "--quiet", "--frozen", "--no-dev", "--no-emit-project", "--format", "requirements-txt"]
        self.step(title, [*export, "-o", "requirements/production.txt"])

    def validate(self) -> None:
        """Run ``prodready check --json`` and record its gate checks; other failures become hints."""
        # Static validation never waits on the network: what needs the index reports "not run".
        os.environ["UV_OFFLINE"] = "1"
        result = self.prodready("validation (prodready check)", "check", "--json", later="make setup")
        if result is None:
            return
        try:
            report = json.loads(result[1])
            checks = report["checks"]
        except (ValueError, KeyError, TypeError):
            output = result[1].strip()
            print(f"\n--- prodready check failed ---\n{output}\n", file=sys.stderr)
            self.record("validation (prodready check)", False, output.splitlines()[-1] if output else "no output")
            return
        hints = []
        for check in checks:
            name = f"{check['id']}: {check['title']}"
            if check["gate"] and check["state"] == "not run":
                self.results.append(("-", name, f"not run: {check['message']}"))
            elif check["gate"] and self.operation == "update" and check["id"] in _CHECKED_AFTER_MERGE:
                if check["state"] == "fail":
                    hints.append(("!", name, f"{check['message']} — checked again by `make setup` after the merge"))
            elif check["gate"]:
                ok = check["state"] == "pass"
                detail = check["message"] if ok else f"{check['message']} — fix: {check['fix']}"
                self.record(name, ok, detail, check["id"])
            elif check["state"] == "fail":
                hints.append(("!", name, f"fix: {check['fix']}"))
        for error in report.get("errors", []):
            self.record(f"check crashed: {error}", False)
        self.results.extend(hints)
        self.score_line = (
            f"readiness {report['score']}/100 (grade {report['grade']}, static checks only, "
            f"{report['measured']:.0%} of the weight measured): `make readiness` for the full report"
        )

    def summary(self) -> bool:
        """Print each step and check with its mark, then the score; return True when nothing failed."""
        print("\n" + colour("!", "prodready: post-generation checks"))
        for mark, title, detail in self.results:
            print(f"  {colour(mark, mark)} {title}" + (f" — {detail}" if detail else ""))
        if self.score_line:
            print(f"\n{self.score_line}")
        if self.failed:
            print(colour("✗", f"\n✗ validation failed: {', '.join(self.failed)}"), file=sys.stderr)
        return not self.failed


def changed_files(root: Path) -> list[str]:
    """Return ``git status --short`` lines of the project (empty outside git)."""
    if not inside_git_repo(root):
        return []
    result = subprocess.run(
        ["git", "status", "--short", "--untracked-files=all", "--", "."],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.splitlines()


def next_steps(operation: str, root: Path, destination: str) -> str:
    """What to do after this copy or update, as exact commands."""
    if operation == "copy":
        steps = [
            f"cd {destination}" if destination not in ("", ".") else "",
            "make setup    # installs uv if missing, the dependencies and your keys",
            "make test     # every test tier, with the coverage gate",
            'git add -A && git commit -m "Generate from the prodready template"   # before any copier update',
        ]
        return "Next steps:\n" + "\n".join(f"  {step}" for step in steps if step)
    changes = changed_files(root)
    listing = "\n".join(f"  {line}" for line in changes[:40])
    more = f"\n  … and {len(changes) - 40} more" if len(changes) > 40 else ""
    pyproject = any(line.endswith("pyproject.toml") for line in changes)
    steps = [
        "git diff     # review the update; resolve any conflict markers",
        "make lock    # pyproject.toml changed: refresh uv.lock" if pyproject else "",
        "make setup && make test",
        'git add -A && git commit -m "Update from the prodready template"',
    ]
    head = f"Files the update changed ({len(changes)}):\n{listing}{more}\n\n" if changes else "No file changed.\n\n"
    return head + "Next steps:\n" + "\n".join(f"  {step}" for step in steps if step)


def main(argv: list[str] | None = None) -> int:
    """Run the hook; non-zero exit when a validation fails."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--operation", default="copy")
    parser.add_argument("--source", type=Path, required=True, help="the template's src/ folder (prodready)")
    parser.add_argument("--git-init", default="True")
    parser.add_argument("--lock", default="True", help="False: no `uv lock` (`prodready adopt` ran it already)")
    parser.add_argument("--destination", default=".", help="the project folder as the user named it")
    args = parser.parse_args(argv)
    root = Path.cwd()
    if in_replay_folder(root):
        return 0

    hook = Hook(root, args.source, args.operation)
    hook.keys()
    if args.operation == "copy" and args.git_init == "True" and not inside_git_repo(root):
        hook.step("git repository", ["git", "init", "--quiet", "--initial-branch=main"])
    if args.operation == "copy" and args.lock == "True" and not (root / "uv.lock").exists():
        hook.lock()
    hook.validate()
    ok = hook.summary()
    if ok:
        print("\n" + next_steps(args.operation, root, args.destination))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
