"""The `prodready` package as users install it: uvx from a checkout and from a git URL at a commit.

A generated project's Makefile runs ``uvx --from git+<template repository>@<commit> prodready``;
these tests run exactly that, offline (a local repository), against a template repository made
from this working tree and committed, so the pinned commit exists.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import BIN, ROOT, copier_cli, example_answers, project_env, run

pytestmark = pytest.mark.slow

GIT_IDENTITY = ["-c", "user.name=prodready tests", "-c", "user.email=tests@prodready.invalid"]


def uvx_env() -> dict[str, str]:
    """The environment of a shell outside the tool environment, with its uv on PATH."""
    env = project_env()
    env.pop("PRODREADY", None)
    return env


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This working tree, uncommitted changes included, as a repository with one commit."""
    repo = tmp_path_factory.mktemp("template") / "prodready"
    listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT).stdout
    for relative in filter(None, listed.split("\0")):
        source = ROOT / relative
        if source.is_file():
            (repo / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / relative)
    run(["git", "init", "--quiet", "--initial-branch=main"], cwd=repo)
    run(["git", *GIT_IDENTITY, "add", "--all"], cwd=repo)
    run(["git", *GIT_IDENTITY, "commit", "--quiet", "-m", "template"], cwd=repo)
    commit = run(["git", "rev-parse", "HEAD"], cwd=repo).stdout.strip()
    return repo, commit


def legacy_repository(root: Path) -> Path:
    """A small legacy service: conflicting pins, one test, CHANGE_ME keys, a root image, no CI."""
    files = {
        "requirements.txt": "fastapi==0.110.0\ngreat-expectations==1.5.11\npandas==2.2.3\n",
        "requirements/production.txt": "pandas==2.1.4\n",
        ".env": "SECRET_KEY=CHANGE_ME\nJWT_SECRET_KEY=CHANGE_ME\n",
        "Dockerfile": "FROM python:latest\nCOPY . .\nRUN pip install -r requirements.txt\n",
        "main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
        "tests/test_main.py": "def test_main():\n    assert True\n",
    }
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    run(["git", "init", "--quiet"], cwd=root)
    run(["git", *GIT_IDENTITY, "add", "--all", "--force"], cwd=root)
    return root


@pytest.mark.parametrize("form", ["path", "git+file"])
def test_uvx_runs_prodready_check_on_a_legacy_repository(
    form: str, template_repo: tuple[Path, str], tmp_path: Path
) -> None:
    repo, commit = template_repo
    source = str(repo) if form == "path" else f"git+{repo.as_uri()}@{commit}"
    legacy = legacy_repository(tmp_path / "legacy")

    result = subprocess.run(
        [str(BIN / "uvx"), "--from", source, "prodready", "check", str(legacy), "--json"],
        cwd=tmp_path,
        env=uvx_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["score"] < 55, document["score"]
    assert document["grade"] in ("D", "F")
    failed = {check["id"] for check in document["checks"] if check["state"] == "fail"}
    assert {"deps.conflicts", "security.secrets_committed", "container.non_root", "ci.present"} <= failed


def test_a_project_runs_prodready_at_the_template_commit_that_made_it(
    template_repo: tuple[Path, str], tmp_path: Path
) -> None:
    repo, commit = template_repo
    project = tmp_path / "service"
    data = [arg for key, value in example_answers().items() for arg in ("--data", f"{key}={value}")]
    result = copier_cli("copy", "--defaults", "--trust", "--vcs-ref=HEAD", *data, str(repo), str(project))
    assert result.returncode == 0, result.stdout + result.stderr

    makefile = (project / "Makefile").read_text()
    pin = re.search(r"^PRODREADY_SOURCE \?= (\S+)$", makefile, re.MULTILINE)
    assert pin, "the Makefile names no prodready source"
    assert pin.group(1) == f"git+{repo.as_uri()}@{commit}"
    assert "prodready_source" not in (project / ".copier-answers.yml").read_text(), "a computed value is no answer"

    env = uvx_env()
    assert "PRODREADY" not in env
    readiness = run(["make", "readiness"], cwd=project, env=env, timeout=900)
    score = re.search(r"Score (\d+)/100", readiness.stdout)
    assert score, readiness.stdout[-3000:]
    assert int(score.group(1)) >= 90
    assert not any(path.is_dir() for path in (project / "src").glob("*/ops"))
