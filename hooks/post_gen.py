"""Post-generation hook: orchestration over the generated project's own ops CLI.

Copier runs this after `copy` and `update` (see `_tasks` in copier.yml) with its own Python,
from the project's root. It holds no checks of its own: every step is a command of the
project's ops CLI (``python -m <package>.ops``), the same code its CI and `make setup` run.

* copy: ``keys ensure``; ``git init`` (unless answered off, or already inside a repository);
  ``uv lock`` and the requirements export when uv and the index allow; then the validation.
* update: ``keys ensure`` and the validation only.
* validation: ``readiness --json`` (static mode). Its gate checks (configuration, keys, env
  templates against the settings, tests tree, Dockerfile and CI policy) are printed ✓/✗, with
  the readiness score; a failed gate check makes the hook exit 1, naming the check.

It only writes what no file of the template owns (``.env``, the audit log, git metadata,
``uv.lock`` on the first copy), so an update never conflicts because of it, it never deletes
anything, and nothing runs in Copier's temporary replay folders.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

# Copier replays the old and new template versions in temporary folders during `update`, and
# runs the tasks there too; nothing should happen in those throw-away copies.
_REPLAY_MARKERS = (".old_copy.", ".new_copy.")


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


class Hook:
    """Run the steps, remember their outcomes, print a summary."""

    def __init__(self, package: str, root: Path) -> None:
        self.package = package
        self.root = root
        # (mark, title, detail): ✓ passed, ✗ failed, - could not run, ! to improve (not blocking)
        self.results: list[tuple[str, str, str]] = []
        self.failed: list[str] = []
        self.score_line = ""
        self.env = dict(os.environ, PYTHONPATH=str(root / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def ops(self, title: str, *args: str, required: bool = True) -> bool:
        """Run ``python -m <package>.ops ARGS`` and record the outcome."""
        command = [sys.executable, "-m", f"{self.package}.ops", *args]
        result = subprocess.run(command, cwd=self.root, env=self.env, capture_output=True, text=True, check=False)
        output = (result.stdout + result.stderr).strip()
        ok = result.returncode == 0
        self.record(title, ok or not required, output.splitlines()[-1] if output else "")
        if not ok:
            print(f"\n--- {title} failed ---\n{output}\n", file=sys.stderr)
        return ok

    def record(self, title: str, ok: bool, detail: str = "", name: str = "") -> None:
        """Remember one step's outcome for the summary; ``name`` is how a failure is listed."""
        self.results.append(("✓" if ok else "✗", title, detail))
        if not ok:
            self.failed.append(name or title)

    def step(self, title: str, command: list[str]) -> bool:
        """Run an external command (git) and record the outcome."""
        result = subprocess.run(command, cwd=self.root, capture_output=True, text=True, check=False)
        ok = result.returncode == 0
        detail = (result.stdout + result.stderr).strip().splitlines()
        self.record(title, ok, detail[-1] if detail else "")
        return ok

    def lock(self) -> None:
        """Create ``uv.lock`` and ``requirements/production.txt`` when uv and the index allow.

        Tries the index first (newest versions); without a network, uv's cache may still
        resolve (``--offline``). When neither works the step says so and ``make lock`` does it
        later; it is reported, not failed, because a project without a lock still works.
        """
        uv = shutil.which("uv")
        if uv is None:
            self.record("dependency lock", True, "uv not found: run `make lock` once uv is installed")
            return
        env = dict(os.environ, UV_HTTP_TIMEOUT=os.environ.get("UV_HTTP_TIMEOUT", "15"))
        for extra in ([], ["--offline"]):
            result = subprocess.run(
                [uv, "lock", "--quiet", *extra], cwd=self.root, env=env, capture_output=True, check=False
            )
            if result.returncode == 0:
                break
        else:
            self.record("dependency lock", True, "package index unreachable: run `make lock` later")
            return
        (self.root / "requirements").mkdir(exist_ok=True)
        export = [uv, "export", "--quiet", "--frozen", "--no-dev", "--no-emit-project", "--format", "requirements-txt"]
        self.step(
            "dependency lock (uv.lock, requirements/production.txt)", [*export, "-o", "requirements/production.txt"]
        )

    def validate(self) -> None:
        """Run ``readiness --json`` and record its gate checks; other failures become hints."""
        command = [sys.executable, "-m", f"{self.package}.ops", "readiness", "--json"]
        # Static validation never waits on the network: what needs the index reports "not run".
        env = dict(self.env, UV_OFFLINE="1")
        result = subprocess.run(command, cwd=self.root, env=env, capture_output=True, text=True, check=False)
        try:
            report = json.loads(result.stdout)
            checks = report["checks"]
        except (ValueError, KeyError, TypeError):
            output = (result.stdout + result.stderr).strip()
            print(f"\n--- readiness failed ---\n{output}\n", file=sys.stderr)
            self.record("validation (readiness)", False, output.splitlines()[-1] if output else "no output")
            return
        hints = []
        for check in checks:
            name = f"{check['id']}: {check['title']}"
            if check["gate"] and check["state"] == "not run":
                self.results.append(("-", name, f"not run: {check['message']}"))
            elif check["gate"]:
                ok = check["state"] == "pass"
                detail = check["message"] if ok else f"{check['message']} — fix: {check['fix']}"
                self.record(name, ok, detail, check["id"])
            elif check["state"] == "fail":
                hints.append(("!", name, f"fix: {check['fix']}"))
        for error in report.get("errors", []):
            self.record(f"readiness check crashed: {error}", False)
        self.results.extend(hints)
        self.score_line = (
            f"readiness {report['score']}/100 (grade {report['grade']}, static checks, "
            f"{report['measured']:.0%} of the weight measured): `make readiness` for the full report"
        )

    def summary(self) -> bool:
        """Print ✓/✗ per step and check, then the score; return True when nothing failed."""
        print("\nprodready post-generation checks:")
        for mark, title, detail in self.results:
            print(f"  {mark} {title}" + (f" — {detail}" if detail else ""))
        if self.score_line:
            print(f"\n{self.score_line}")
        if self.failed:
            print(f"\n✗ validation failed: {', '.join(self.failed)}", file=sys.stderr)
        return not self.failed


def main(argv: list[str] | None = None) -> int:
    """Run the hook; non-zero exit when a validation fails."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--operation", default="copy")
    parser.add_argument("--package", required=True)
    parser.add_argument("--git-init", default="True")
    args = parser.parse_args(argv)
    root = Path.cwd()
    if in_replay_folder(root):
        return 0

    hook = Hook(args.package, root)
    hook.ops("development keys (.env, mode 0600)", "keys", "ensure")
    if args.operation == "copy" and args.git_init == "True" and not inside_git_repo(root):
        hook.step("git repository", ["git", "init", "--quiet", "--initial-branch=main"])
    if args.operation == "copy" and not (root / "uv.lock").exists():
        hook.lock()
    hook.validate()
    ok = hook.summary()
    if args.operation == "copy" and ok:
        print("\nNext steps:\n  make setup   # install dependencies, check keys\n  make test    # run every test tier")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
