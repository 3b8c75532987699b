"""Post-generation hook: orchestration over the generated project's own ops CLI.

Copier runs this after `copy` and `update` (see `_tasks` in copier.yml) with its own Python,
from the project's root. It holds no checks of its own: every step is a command of the
project's ops CLI (``python -m <package>.ops``), the same code its CI and `make setup` run.
It only writes what no file of the template owns (``.env``, the audit log, git metadata), so
an update never conflicts because of it, and it never deletes anything.
"""

from __future__ import annotations

import argparse
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
        self.results: list[tuple[str, bool, str]] = []
        self.env = dict(os.environ, PYTHONPATH=str(root / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def ops(self, title: str, *args: str, required: bool = True) -> bool:
        """Run ``python -m <package>.ops ARGS`` and record the outcome."""
        command = [sys.executable, "-m", f"{self.package}.ops", *args]
        result = subprocess.run(command, cwd=self.root, env=self.env, capture_output=True, text=True, check=False)
        output = (result.stdout + result.stderr).strip()
        ok = result.returncode == 0
        self.results.append((title, ok or not required, output.splitlines()[-1] if output else ""))
        if not ok:
            print(f"\n--- {title} failed ---\n{output}\n", file=sys.stderr)
        return ok

    def step(self, title: str, command: list[str]) -> bool:
        """Run an external command (git) and record the outcome."""
        result = subprocess.run(command, cwd=self.root, capture_output=True, text=True, check=False)
        ok = result.returncode == 0
        detail = (result.stdout + result.stderr).strip().splitlines()
        self.results.append((title, ok, detail[-1] if detail else ""))
        return ok

    def lock(self) -> None:
        """Create ``uv.lock`` and ``requirements/production.txt`` when uv and the index allow.

        Tries the index first (newest versions); without a network, uv's cache may still
        resolve (``--offline``). When neither works the step says so and ``make lock`` does it
        later; it is reported, not failed, because a project without a lock still works.
        """
        uv = shutil.which("uv")
        if uv is None:
            self.results.append(("dependency lock", True, "uv not found: run `make lock` once uv is installed"))
            return
        env = dict(os.environ, UV_HTTP_TIMEOUT=os.environ.get("UV_HTTP_TIMEOUT", "15"))
        for extra in ([], ["--offline"]):
            result = subprocess.run(
                [uv, "lock", "--quiet", *extra], cwd=self.root, env=env, capture_output=True, check=False
            )
            if result.returncode == 0:
                break
        else:
            self.results.append(("dependency lock", True, "package index unreachable: run `make lock` later"))
            return
        (self.root / "requirements").mkdir(exist_ok=True)
        export = [uv, "export", "--quiet", "--frozen", "--no-dev", "--no-emit-project", "--format", "requirements-txt"]
        self.step(
            "dependency lock (uv.lock, requirements/production.txt)", [*export, "-o", "requirements/production.txt"]
        )

    def summary(self) -> bool:
        """Print ✓/✗ per step; return True when every step passed."""
        print("\nprodready post-generation checks:")
        for title, ok, detail in self.results:
            mark = "✓" if ok else "✗"
            print(f"  {mark} {title}" + (f" — {detail}" if detail else ""))
        return all(ok for _, ok, _ in self.results)


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
    hook.ops("configuration", "config", "validate")
    hook.ops("development security", "security", "validate", "--env", "development")
    ok = hook.summary()
    if args.operation == "copy":
        print("\nNext steps:\n  make setup   # install dependencies, check keys\n  make test    # run every test tier")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
