"""Adoption: `copier copy` into a team's existing repository (the seed's situation).

A legacy service has its own ``src/``, ``tests/``, README, Makefile, ``.gitignore`` and a ``.env``
with a ``CHANGE_ME`` secret. Whatever the flags, Copier and the hook never delete one of its files
and never change one without being told to:

* no ``--overwrite``, not interactive (a script, CI, ``< /dev/null``): Copier stops at the first
  file the template would overwrite ("Interactive session required: Consider using
  `--overwrite`"); no existing file has changed;
* no ``--overwrite``, in a terminal: Copier asks "Overwrite Makefile?" per file (the default
  answer is *yes*); files answered *no* are kept;
* ``--skip '*'``: every existing file is kept, the template only adds what is missing;
* ``--overwrite``: the template's version replaces the conflicting files, Copier prints
  ``overwrite <file>`` for each and ``git status`` / ``git diff`` show exactly those.

``.env`` is never rendered (``_skip_if_exists``); the hook's ``keys ensure`` appends missing keys
and keeps existing values, even a ``CHANGE_ME`` one (``security validate`` flags it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml
from helpers import ROOT, project_files, run
from test_update import commit_working_tree

GIT_IDENTITY = ["-c", "user.name=Legacy Team", "-c", "user.email=legacy@example.com", "-c", "commit.gpgsign=false"]

LEGACY_ENV = (
    "# Legacy settings: never committed\n"
    "SECRET_KEY=CHANGE_ME\n"
    "DATABASE_URL=postgresql://app:app@db:5432/app\n"
    "MLFLOW_TRACKING_PASSWORD=CHANGE_ME\n"
)
LEGACY_FILES = {
    "README.md": "# Recommender\n\nThe team's own README: how we run it, who is on call.\n",
    "Makefile": "run:\n\tpython -m recommender\n",
    ".gitignore": ".env\n__pycache__/\n",
    "requirements.txt": "fastapi==0.95.2\nsemgrep==1.45.0\n",
    "src/recommender/__init__.py": '"""The legacy recommender."""\n',
    "src/recommender/main.py": "def recommend(user: str) -> list[str]:\n    return [user]\n",
    "tests/test_main.py": "from recommender.main import recommend\n\n\ndef test_it():\n    assert recommend('a')\n",
}
# Paths the template also renders: the conflicts of an adoption.
CONFLICTING = {"README.md", "Makefile", ".gitignore"}
# The seed's service configuration, in its own format: `config validate` rejects it.
LEGACY_MLFLOW = "mlflow:\n  tracking_uri: http://mlflow:5000\n  experiment: recommender\n"

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def git(*args: str, cwd: Path) -> str:
    return run(["git", *GIT_IDENTITY, *args], cwd=cwd).stdout


def make_legacy_repo(path: Path, *, env_tracked: bool = False, extra: dict[str, str] | None = None) -> Path:
    """A committed legacy repository; ``.env`` is git-ignored unless ``env_tracked``."""
    files = {**LEGACY_FILES, **(extra or {})}
    if env_tracked:
        files[".gitignore"] = "__pycache__/\n"
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text, encoding="utf-8")
    (path / ".env").write_text(LEGACY_ENV, encoding="utf-8")
    git("init", "--quiet", "--initial-branch=main", cwd=path)
    git("add", "--all", cwd=path)
    git("commit", "--quiet", "-m", "legacy service", cwd=path)
    return path


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` but ``.git`` and tool caches (folders map to None)."""
    found: dict[str, bytes | None] = {}
    for path in project_files(root):
        rel = path.relative_to(root)
        found[rel.as_posix()] = path.read_bytes()
        for parent in rel.parents:
            if parent != Path("."):
                found[parent.as_posix()] = None
    return found


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository whose newest commit is the working tree (see test_update)."""
    clone = tmp_path_factory.mktemp("template") / "prodready"
    run(["git", "clone", "--quiet", str(ROOT), str(clone)], cwd=clone.parent)
    commit_working_tree(clone, "template under test")
    return clone


def copier_copy(template: Path, dst: Path, *args: str) -> tuple[int, str]:
    """`copier copy --trust --defaults ARGS` of the template's HEAD, without a terminal."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "copier",
            "copy",
            "--trust",
            "--defaults",
            "--vcs-ref=HEAD",
            *args,
            str(template),
            str(dst),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=dict(os.environ, NO_COLOR="1"),
        timeout=600,
        check=False,
    )
    # Copier colours its file log even when NO_COLOR is set; the tests read the plain text.
    return result.returncode, ANSI_ESCAPE.sub("", result.stdout + result.stderr)


def copier_update(project: Path) -> str:
    result = run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "--conflict=inline", "--vcs-ref=HEAD"],
        cwd=project,
    )
    return result.stdout + result.stderr


def assert_kept(
    before: dict[str, bytes | None], after: dict[str, bytes | None], *, changed: Collection[str] = ()
) -> None:
    """Every path of ``before`` still exists; all but ``changed`` have the same bytes."""
    deleted = sorted(set(before) - set(after))
    assert not deleted, f"deleted: {deleted}"
    modified = sorted(rel for rel in before if rel not in changed and before[rel] != after[rel])
    assert not modified, f"changed without being asked: {modified}"


def status(project: Path) -> dict[str, str]:
    """``git status --porcelain``: path -> two-letter code."""
    out = run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=project).stdout
    return {line[3:]: line[:2] for line in out.splitlines()}


def check_answers_file(project: Path, template: Path) -> dict[str, Any]:
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["_src_path"] == str(template)
    assert answers["_commit"]
    assert answers["package_name"] == "my_service"
    return answers


def check_env_kept(project: Path) -> str:
    """The legacy .env is a prefix of the new one; the template's keys were appended once."""
    text = (project / ".env").read_text(encoding="utf-8")
    assert text.startswith(LEGACY_ENV), f".env lost or changed legacy lines:\n{text}"
    appended = re.findall(r"^([A-Z_][A-Z0-9_]*)=", text[len(LEGACY_ENV) :], re.MULTILINE)
    assert "SECRET_KEY" not in appended, "a key the team already had was added again"
    assert {"JWT_SECRET_KEY", "DB_ENCRYPTION_KEY"} <= set(appended), appended
    return text


# --- copies that change nothing that exists ------------------------------------------------


def test_copy_without_overwrite_and_without_terminal_stops_before_changing_anything(
    template: Path, tmp_path: Path
) -> None:
    repo = make_legacy_repo(tmp_path / "legacy")
    before = tree(repo)
    code, output = copier_copy(template, repo)
    assert code != 0, output
    assert "--overwrite" in output, output
    assert_kept(before, tree(repo))
    assert {path for path, code in status(repo).items() if code != "??"} == set(), status(repo)


@pytest.mark.slow
def test_copy_in_a_terminal_asks_before_each_overwrite(template: Path, tmp_path: Path) -> None:
    repo = make_legacy_repo(tmp_path / "legacy")
    before = tree(repo)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "copier", "copy", "--trust", "--defaults", "--vcs-ref=HEAD", str(template), str(repo)],
        env=dict(os.environ, NO_COLOR="1", TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1"),
        encoding="utf-8",
        timeout=300,
        dimensions=(50, 200),
    )
    asked = []
    while child.expect([r"Overwrite (\S+)\?", pexpect.EOF]) == 0:
        asked.append(child.match.group(1))
        child.send("n")
    child.close()
    assert child.exitstatus == 0, child.before
    assert set(asked) == CONFLICTING
    assert_kept(before, tree(repo), changed={".env"})
    check_env_kept(repo)
    check_answers_file(repo, template)


def test_failed_copy_with_a_bad_answer_writes_nothing(template: Path, tmp_path: Path) -> None:
    repo = make_legacy_repo(tmp_path / "legacy")
    before = tree(repo)
    code, output = copier_copy(template, repo, "--overwrite", "--data", "package_name=json")
    assert code != 0
    assert '"json" is a standard-library module name' in output, output
    assert tree(repo) == before


@pytest.mark.slow
@pytest.mark.parametrize("env_tracked", [True, False], ids=["env-committed", "env-ignored"])
def test_failed_hook_keeps_every_existing_file(template: Path, tmp_path: Path, env_tracked: bool) -> None:
    """The hook fails (legacy config in another format; a committed .env) after rendering."""
    repo = make_legacy_repo(
        tmp_path / "legacy", env_tracked=env_tracked, extra={"config/services/mlflow.yaml": LEGACY_MLFLOW}
    )
    before = tree(repo)
    code, output = copier_copy(template, repo, "--skip", "*")
    assert code != 0, output
    assert "mlflow" in output, output
    if env_tracked:
        # keys ensure refuses to write keys into a file git would commit.
        assert "tracked" in output, output
        assert_kept(before, tree(repo))
    else:
        # keys ensure ran before the validation failed: it only appended.
        assert_kept(before, tree(repo), changed={".env"})
        check_env_kept(repo)


# --- adoption that succeeds, then updates --------------------------------------------------


@pytest.mark.slow
def test_adopt_with_skip_keeps_everything_and_updates_later(template: Path, tmp_path: Path) -> None:
    repo = make_legacy_repo(tmp_path / "legacy")
    before = tree(repo)
    code, output = copier_copy(template, repo, "--skip", "*")
    assert code == 0, output
    assert_kept(before, tree(repo), changed={".env"})
    for rel in CONFLICTING:
        assert re.search(rf"skip\s+{re.escape(rel)}$", output, re.MULTILINE), output
    check_env_kept(repo)
    check_answers_file(repo, template)
    # Only new files: no tracked file changed.
    assert {path: code for path, code in status(repo).items() if code != "??"} == {}
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "adopt prodready", cwd=repo)
    output = copier_update(repo)
    assert status(repo) == {}, output
    assert tree(repo)["README.md"] == before["README.md"]


@pytest.mark.slow
def test_adopt_with_overwrite_shows_what_changed_and_updates_later(template: Path, tmp_path: Path) -> None:
    repo = make_legacy_repo(tmp_path / "legacy")
    before = tree(repo)
    code, output = copier_copy(template, repo, "--overwrite")
    assert code == 0, output
    after = tree(repo)
    assert_kept(before, after, changed=CONFLICTING | {".env"})
    # The conflicting files changed, and the user sees which: in Copier's output and in git.
    overwritten = set(re.findall(r"^\s*overwrite\s+(\S+)$", output, re.MULTILINE)) - {".copier-answers.yml"}
    assert overwritten == CONFLICTING, output
    modified = {path for path, code in status(repo).items() if code != "??"}
    assert modified == CONFLICTING
    assert all(before[rel] != after[rel] for rel in CONFLICTING)
    check_env_kept(repo)
    check_answers_file(repo, template)
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "adopt prodready", cwd=repo)
    output = copier_update(repo)
    assert status(repo) == {}, output
