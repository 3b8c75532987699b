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

``.env`` is never rendered; the hook's ``keys ensure`` appends missing keys and keeps existing
values, even a ``CHANGE_ME`` one (``security validate`` flags it). With ``--overwrite`` and a
tracked ``.env``, the hook refuses after Copier wrote its files; ``git restore`` and ``git clean``
put the repository back (docs/lifecycle.md says so).

``app_source=existing`` and ``prodready adopt`` keep the team's own application: the template renders
around it, refusals come before anything is written, no file of the repository changes (the
template's version goes beside it), requirements are imported with every pin as written, and
placeholder keys are replaced in place. The slow journey test runs docs/adopting.md from grade F to
grade A on a prediction service in the seed's state, then updates it with Copier.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml
from helpers import BIN, ROOT, copy_project, project_env, project_files, run
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
# A team's own env template: what made `--skip '*'` stop at "Interactive session required".
LEGACY_ENV_EXAMPLE = {".env.example": "SECRET_KEY=CHANGE_ME\nDATABASE_URL=postgresql://app:app@db:5432/app\n"}
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


# --- --skip '*' and --overwrite, render only --------------------------------------------------


def run_hook(template: Path, project: Path) -> subprocess.CompletedProcess[str]:
    """The task Copier runs after rendering (copier.yml `_tasks`), without its `uv lock` step."""
    return subprocess.run(
        [
            sys.executable,
            str(template / "hooks" / "post_gen.py"),
            "--operation=copy",
            f"--source={template / 'src'}",
            "--git-init=False",
            "--lock=False",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        env=dict(os.environ, NO_COLOR="1"),
        check=False,
    )


def test_skip_all_keeps_the_repository_env_example_without_asking(template: Path, tmp_path: Path) -> None:
    """`--skip '*'` covers .env.example too: no "Interactive session required" (no `!` pattern wins)."""
    repo = make_legacy_repo(tmp_path / "legacy", extra=LEGACY_ENV_EXAMPLE)
    before = tree(repo)
    code, output = copier_copy(template, repo, "--skip", "*", "--skip-tasks")
    assert code == 0, output
    assert re.search(r"skip\s+\.env\.example$", output, re.MULTILINE), output
    assert_kept(before, tree(repo))


def test_overwrite_with_a_tracked_env_is_refused_by_the_hook_after_rendering(template: Path, tmp_path: Path) -> None:
    """What docs/lifecycle.md says: the template's files are written first, then the hook refuses,
    and `git restore` plus `git clean` bring back exactly the tree of before."""
    repo = make_legacy_repo(tmp_path / "legacy", env_tracked=True, extra=LEGACY_ENV_EXAMPLE)
    before = tree(repo)
    code, output = copier_copy(template, repo, "--overwrite", "--skip-tasks")
    assert code == 0, output
    hook = run_hook(template, repo)
    assert hook.returncode == 1, hook.stdout + hook.stderr
    assert "is tracked by git" in hook.stdout + hook.stderr
    # Only the files both have were overwritten: the tracked .env and every other file are as before.
    overwritten = CONFLICTING | set(LEGACY_ENV_EXAMPLE)
    assert {path for path, state in status(repo).items() if state != "??"} == overwritten
    assert_kept(before, tree(repo), changed=overwritten)
    run(["git", "restore", "--staged", "--worktree", "."], cwd=repo)
    run(["git", "clean", "-fdq"], cwd=repo)
    assert tree(repo) == before


# --- the existing-app answers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def around(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template rendered around an app at the root (no hook): read-only, copy it to change it."""
    return copy_project(
        tmp_path_factory.mktemp("around") / "project",
        skip_tasks=True,
        app_source="existing",
        existing_app="prediction_service.main:app",
        existing_app_folder="root",
    )


def test_an_existing_app_renders_around_the_app_and_never_inside_it(around: Path) -> None:
    project = around
    files = {path.relative_to(project).as_posix() for path in project_files(project)}
    # Nothing of the example service: its package, migrations, tests and their shared modules.
    assert not [f for f in files if f.startswith(("src/example_service", "migrations/"))], sorted(files)
    assert not {"alembic.ini", "tests/__init__.py", "tests/conftest.py", "tests/factories.py"} & files
    # Around the app: one test module per tier at least, the settings loader, the deployment.
    for expected in (
        "tests/unit/test_app_imports.py",
        "tests/integration/test_app_serves.py",
        "tests/e2e/test_openapi_fuzz.py",
        "src/service_settings.py",
        "config/environments/production.yaml",
        ".env.example",
        "Dockerfile",
        "compose.yaml",
        "Makefile",
        ".github/workflows/ci.yml",
    ):
        assert expected in files, expected
    assert 'APP = "prediction_service.main:app"' in (project / "tests/e2e/test_openapi_fuzz.py").read_text()
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")
    assert 'CMD ["uvicorn", "prediction_service.main:app", "--host", "0.0.0.0"' in dockerfile
    assert "USER 10001:10001" in dockerfile and "COPY prediction_service/ prediction_service/" in dockerfile
    assert "!prediction_service/" in (project / ".dockerignore").read_text(encoding="utf-8")
    makefile = (project / "Makefile").read_text(encoding="utf-8")
    assert "APP := prediction_service.main:app" in makefile and "alembic" not in makefile
    assert "migrate:" not in (project / "compose.yaml").read_text(encoding="utf-8")
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["app_source"] == "existing" and answers["existing_app"] == "prediction_service.main:app"
    # Lint-clean as rendered (the project's own ruff settings).
    run([BIN / "ruff", "check", "--no-cache", "."], cwd=project)
    run([BIN / "ruff", "format", "--no-cache", "--check", "src", "tests"], cwd=project)


def test_model_serving_around_an_existing_app_is_a_module_its_route_imports(tmp_path: Path) -> None:
    project = copy_project(
        tmp_path / "project",
        skip_tasks=True,
        app_source="existing",
        existing_app="prediction_service.main:app",
        existing_app_folder="root",
        model_serving="mlflow",
    )
    files = {path.relative_to(project).as_posix() for path in project_files(project)}
    for expected in (
        "src/service_model.py",
        "config/services/mlflow.yaml",
        "tests/unit/test_service_model.py",
        "tests/integration/test_model_registry.py",
        "tests/mlflow_registry.py",
        "tests/mlflow_model.py",
        "scripts/mlflow-test-servers.sh",
    ):
        assert expected in files, expected
    # No route, schema or service of the example: the /predict route stays the team's.
    assert not [f for f in files if "predictions" in f or f.endswith("model_loader.py")], sorted(files)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(dep.startswith("mlflow-skinny") for dep in pyproject["project"]["dependencies"])
    assert "src/service_model.py" in pyproject["tool"]["mypy"]["files"]
    assert "MLFLOW_TRACKING_PASSWORD" in (project / ".env.example").read_text(encoding="utf-8")
    assert "mlflow:" in (project / "compose.yaml").read_text(encoding="utf-8")
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "## Serving the model" in readme and "from service_model import" in readme
    run([BIN / "ruff", "check", "--no-cache", "."], cwd=project)
    run([BIN / "ruff", "format", "--no-cache", "--check", "src", "tests"], cwd=project)


@pytest.mark.slow
def test_an_adopted_app_with_model_serving_passes_its_checks_against_a_real_mlflow(
    template: Path, tmp_path: Path
) -> None:
    """`prodready adopt --data model_serving=mlflow`, then the project's own checks and tests, the
    loader's against the MLflow servers TEST_MLFLOW_URL and TEST_MLFLOW_AUTH_URL name."""
    ping_test = (
        "from fastapi.testclient import TestClient\n\nfrom app.main import app\n\n\n"
        "def test_ping():\n    assert TestClient(app).get('/ping').json() == {'ok': True}\n"
    )
    # Without a Makefile of its own: the template's is the one `make` runs.
    files = {name: text for name, text in APP_FOLDER_REPO.items() if name != "Makefile"}
    repo = write_files(tmp_path / "service", {**files, "tests/test_ping.py": ping_test})
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "service", cwd=repo)
    code, output = adopt(repo, "--template", str(template), "--data", "model_serving=mlflow")
    assert code in (0, 1), output
    assert (repo / "src/service_model.py").is_file(), output
    env = project_env(PYTEST_ADDOPTS="-rA")  # the summary lists every test that passed
    run(["make", "setup"], cwd=repo, env=env)
    result = run(["make", "lint", "typecheck", "test"], cwd=repo, env=env, timeout=900)
    output = result.stdout + result.stderr
    for test in ("test_the_alias_is_loaded_and_a_moved_alias", "test_a_route_wired_as_the_readme_shows"):
        assert f"PASSED tests/integration/test_model_registry.py::{test}" in output, output[-3000:]
    assert "PASSED tests/unit/test_service_model.py::test_a_version_that_fails_to_load" in output


# --- prodready adopt: fixtures ---------------------------------------------------------------

PREDICT_APP = '''"""The prediction service."""

import json
import os

from fastapi import FastAPI
from pydantic import BaseModel

DEBUG = os.environ.get("DEBUG", "true") == "true"
app = FastAPI(title="Prediction Service", debug=DEBUG)


class Features(BaseModel):
    values: list[float]


class Prediction(BaseModel):
    score: float
    model: str


@app.post("/predict", response_model=Prediction)
def predict(features: Features) -> Prediction:
    return Prediction(score=max(features.values, default=0.0), model=os.environ.get("MODEL_NAME", "baseline"))
'''
PREDICT_TESTS = """from fastapi.testclient import TestClient

from prediction_service.main import app

client = TestClient(app)


def test_predict_returns_the_highest_value():
    assert client.post("/predict", json={"values": [0.2, 0.9]}).json() == {"score": 0.9, "model": "baseline"}


def test_predict_without_values_is_zero():
    assert client.post("/predict", json={"values": []}).json()["score"] == 0.0


def test_predict_refuses_text():
    assert client.post("/predict", json={"values": ["a"]}).status_code == 422
"""
# The answer the team's own test expects from /predict: the journey checks the adopted service gives it.
PREDICT_REQUEST, PREDICT_ANSWER = {"values": [0.2, 0.9]}, {"score": 0.9, "model": "baseline"}
# The seed's shape: src/ layout, a resolver conflict (great-expectations 1.5.11 wants pandas<2.2),
# a scanner among the runtime pins, a root Dockerfile, debug configuration, three tests, no CI,
# CHANGE_ME keys in a .env that git tracks.
PREDICTION_REPO = {
    "README.md": "# Prediction service\n\nRun: `uvicorn prediction_service.main:app --app-dir src`.\n",
    "Dockerfile": "FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\n"
    'CMD ["uvicorn", "prediction_service.main:app", "--app-dir", "src", "--host", "0.0.0.0"]\n',
    "config.yaml": "debug: true\nlog_level: DEBUG\n",
    ".gitignore": "__pycache__/\n",
    ".env.example": "SECRET_KEY=CHANGE_ME\nMODEL_NAME=baseline\n",
    "requirements.txt": "fastapi==0.115.6\nuvicorn==0.32.1\npydantic==2.10.4\ngreat-expectations==1.5.11\n"
    "pandas==2.2.3\nsemgrep==1.100.0\n-r requirements-dev.txt\n",
    "requirements-dev.txt": "pytest==8.3.4\nhttpx==0.28.1\nblack==24.10.0\n",
    "src/prediction_service/__init__.py": '"""Predictions."""\n',
    "src/prediction_service/main.py": PREDICT_APP,
    "tests/test_predict.py": PREDICT_TESTS,
}
PREDICTION_ENV = (
    "DEBUG=true\nSECRET_KEY=CHANGE_ME\nDB_ENCRYPTION_KEY=changeme\nJWT_SECRET_KEY=\n"
    "MODEL_NAME=baseline\nMLFLOW_TRACKING_PASSWORD=CHANGE_ME\n"
)
# Another shape: the package at the root (app/), a requirements/ folder with -r includes, its own
# Makefile, no .env.example, no .env, and no git repository at all.
APP_FOLDER_REPO = {
    "app/__init__.py": "",
    "app/main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get('/ping')\ndef ping() -> dict:\n"
    "    return {'ok': True}\n",
    "requirements/base.txt": "fastapi==0.115.6  # the web framework\nrequests>=2.31\n",
    "requirements/prod.txt": "-r base.txt\nbandit==1.7.10\n--index-url ${PRIVATE_INDEX_URL}\n",
    "requirements/dev.txt": "-r base.txt\npytest-mock==3.14.0\nisort==5.13.2\n",
    "Makefile": "run:\n\tuvicorn app.main:app\n",
    "tests/test_ping.py": "def test_nothing():\n    assert True\n",
}


def write_files(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def make_prediction_repo(path: Path) -> Path:
    """The prediction service, committed, .env included (tracked: adopt refuses it)."""
    write_files(path, {**PREDICTION_REPO, ".env": PREDICTION_ENV})
    git("init", "--quiet", "--initial-branch=main", cwd=path)
    git("add", "--all", cwd=path)
    git("commit", "--quiet", "-m", "prediction service", cwd=path)
    return path


def adopt(repo: Path, *args: str, offline: bool = False) -> tuple[int, str]:
    """`prodready adopt` of this working tree's template (committed in `template`)."""
    env = dict(os.environ, NO_COLOR="1")
    if offline:
        env["UV_OFFLINE"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "prodready", "adopt", str(repo), "--vcs-ref=HEAD", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


# --- prodready adopt: refusals before anything is written -------------------------------------


def test_adopt_refuses_a_tracked_env_with_the_commands_and_writes_nothing(template: Path, tmp_path: Path) -> None:
    repo = make_prediction_repo(tmp_path / "prediction")
    before = tree(repo)
    code, output = adopt(repo, "--template", str(template))
    assert code == 2, output
    assert ".env is tracked by git" in output and "treat every value it ever held as compromised" in output
    assert "git rm --cached .env" in output and "echo .env >> .gitignore" in output
    assert "nothing was written" in output
    assert tree(repo) == before and status(repo) == {}


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ({"main.py": "print('hello')\n"}, (), "holds no FastAPI app"),
        (APP_FOLDER_REPO, ("--app", "app.main"), '"app.main" is not an ASGI import path: use package.module:app'),
        (APP_FOLDER_REPO, ("--app", "service.main:app"), '"service.main:app": neither src/service/main.py'),
        (APP_FOLDER_REPO, ("--data", "coverage_threshold=lots"), '"lots" is not a valid coverage threshold'),
        ({**APP_FOLDER_REPO, ".copier-answers.yml": "_commit: v1\n"}, (), "already has .copier-answers.yml"),
    ],
    ids=["not-fastapi", "bad-import-path", "no-such-module", "bad-answer", "adopted-before"],
)
def test_adopt_refuses_before_writing_anything(
    template: Path, tmp_path: Path, files: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    repo = write_files(tmp_path / "repo", files)
    before = tree(repo)
    code, output = adopt(repo, "--template", str(template), *args)
    assert code == 2, output
    assert message in output, output
    assert tree(repo) == before


# --- prodready adopt: the second shape, without network ----------------------------------------


def test_adopt_an_app_folder_repository_that_is_not_in_git(template: Path, tmp_path: Path) -> None:
    repo = write_files(tmp_path / "service", APP_FOLDER_REPO)
    before = tree(repo)
    code, output = adopt(repo, "--template", str(template), offline=True)
    assert code in (0, 1), output
    after = tree(repo)
    assert_kept(before, after)
    assert "app.main:app (app/)" in output, output
    # Their Makefile is theirs; the template's is beside it, and the summary says so.
    assert after["Makefile"] == before["Makefile"]
    assert "Makefile  ->  Makefile.prodready" in output and "Makefile.prodready" in after
    answers = yaml.safe_load(after[".copier-answers.yml"] or b"")
    assert (answers["app_source"], answers["existing_app"], answers["existing_app_folder"]) == (
        "existing",
        "app.main:app",
        "root",
    )
    assert answers["use_postgres"] is False and answers["use_redis"] is False
    # requirements/: runtime, dev and scanners apart; pins as written; options not guessed at.
    pyproject = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = pyproject["project"]["dependencies"]
    dev = pyproject["dependency-groups"]["dev"]
    assert {"fastapi==0.115.6", "requests>=2.31"} <= set(runtime), runtime
    assert not [r for r in runtime if r.startswith("fastapi>")], "the template's floor stayed beside the pin"
    assert {"pytest-mock==3.14.0", "isort==5.13.2"} <= set(dev), dev
    assert not [r for r in runtime + dev if r.startswith("bandit")]
    assert "left out of the app's dependencies: bandit==1.7.10" in output
    assert "skipped requirements/prod.txt:3: --index-url" in output
    # No .env before: one with every key, mode 0600.
    assert (repo / ".env").stat().st_mode & 0o777 == 0o600
    env = (repo / ".env").read_text(encoding="utf-8")
    assert re.search(r"^SECRET_KEY=\S{40,}$", env, re.MULTILINE) and "DB_ENCRYPTION_KEY=" in env
    # The app is served from the root: the image copies the package, the tests import it.
    assert "COPY app/ app/" in (repo / "Dockerfile").read_text(encoding="utf-8")


def test_adopt_replaces_placeholder_keys_in_place_and_nothing_else(tmp_path: Path) -> None:
    from prodready import adopt as adoption
    from prodready import keyrules

    # The shape of a project's security/keys.json.
    urlsafe = {"purpose": "a key", "encoding": "urlsafe", "bytes": 64}
    rules = keyrules.parse_rules(
        {
            "min_bits": 256,
            "keys": [
                {"name": "SECRET_KEY", **urlsafe},
                {"name": "JWT_SECRET_KEY", **urlsafe},
                {"name": "DB_ENCRYPTION_KEY", "purpose": "cipher", "encoding": "hex", "bytes": 32},
                {"name": "DB_PASSWORD", **urlsafe, "bytes": 32},
            ],
        }
    )
    real = "r" + "Q9x-2kLmP0vZ_7tYb4NcW8eHs1uJ5aFd3gXo6iKq" * 2
    text = (
        "# team settings\r\n"
        "export SECRET_KEY=CHANGE_ME\r\n"
        "JWT_SECRET_KEY=\n"
        f"DB_ENCRYPTION_KEY={real}\n"
        "DB_PASSWORD='changeme'\n"
        "MLFLOW_TRACKING_PASSWORD=CHANGE_ME\n"
        "MODEL_NAME=baseline"
    )
    env = tmp_path / ".env"
    env.write_text(text, encoding="utf-8", newline="")
    monkey = os.getcwd()
    os.chdir(tmp_path)  # the audit log goes to the project's var/
    try:
        replaced, others = adoption.replace_placeholder_keys(env, rules)
    finally:
        os.chdir(monkey)
    assert replaced == ["SECRET_KEY", "JWT_SECRET_KEY", "DB_PASSWORD"]
    assert others == ["MLFLOW_TRACKING_PASSWORD"]
    old, new = text.splitlines(keepends=True), env.read_bytes().decode("utf-8").splitlines(keepends=True)
    assert len(old) == len(new)
    changed = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
    assert changed == [1, 2, 4], new
    assert new[1].startswith("export SECRET_KEY=") and new[1].endswith("\r\n")
    values = {line.split("=", 1)[0].removeprefix("export "): line.split("=", 1)[1].strip() for line in new[1:]}
    for name in replaced:
        assert not keyrules.key_problems(name, values[name]), name
    assert env.stat().st_mode & 0o777 == 0o600


# --- the journey: from F to A on the prediction service (docs/adopting.md) ---------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def predict_with_uvicorn(repo: Path, env: dict[str, str]) -> dict[str, Any]:
    """Start the adopted service as `make dev` does (uvicorn, .env) and call /predict once."""
    import time
    import urllib.error
    import urllib.request

    port = free_port()
    command = ["uv", "run", "--no-sync", "uvicorn", "prediction_service.main:app", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--env-file", ".env"],
        cwd=repo,
        env=dict(env, PYTHONPATH="src:."),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict",
        data=json.dumps(PREDICT_REQUEST).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"uvicorn exited with {server.returncode}"
            try:
                with urllib.request.urlopen(request, timeout=2) as response:  # a local test server
                    assert response.status == 200
                    return dict(json.loads(response.read()))
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "the service did not answer within 60 s"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=15)


def report(repo: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "prodready", "check", "--json", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    return dict(json.loads(result.stdout))


@pytest.mark.slow
def test_the_prediction_service_from_f_to_a(template: Path, tmp_path: Path) -> None:
    """docs/adopting.md, command by command, on a repository in the seed's state."""
    repo = make_prediction_repo(tmp_path / "prediction")
    env = project_env(NO_COLOR="1")
    assert report(repo)["grade"] in {"D", "F"}

    # 1. adopt refuses the tracked .env and prints the commands that untrack it: run them.
    code, output = adopt(repo, "--template", str(template))
    assert code == 2, output
    commands = [line.strip() for line in output.splitlines() if line.startswith("  ") and "cd " not in line]
    for command in commands:
        run(["bash", "-c", command.replace("git commit", f"git {shlex.join(GIT_IDENTITY)} commit")], cwd=repo)
    assert status(repo) == {}

    # 2. adopt: nothing of theirs changes (but placeholder keys in the ignored .env), nothing is deleted.
    before = tree(repo)
    code, output = adopt(repo, "--template", str(template))
    after = tree(repo)
    assert_kept(before, after, changed={".env"})
    assert {path for path, state in status(repo).items() if state != "??"} == set()
    for mine, beside in (("Dockerfile", "Dockerfile.prodready"), ("README.md", "README.prodready.md")):
        assert f"{mine}  ->  {beside}" in output and beside in after
    assert "SECRET_KEY, DB_ENCRYPTION_KEY, JWT_SECRET_KEY" in output and "treated as compromised" in output
    env_text = (repo / ".env").read_text(encoding="utf-8")
    assert "CHANGE_ME" not in env_text.replace("MLFLOW_TRACKING_PASSWORD=CHANGE_ME", "")
    assert env_text.startswith("DEBUG=true\n") and "\nMODEL_NAME=baseline\n" in env_text
    # The resolver conflict, in uv's words, with the pins and where they came from.
    assert code == 1, output
    assert "great-expectations==1.5.11 depends on pandas>=1.3.0,<2.2" in output, output
    assert "pins to move: great-expectations==1.5.11 (requirements.txt:4), pandas==2.2.3 (requirements.txt:5)" in output
    assert "semgrep==1.100.0" in output and "semgrep" not in (repo / "pyproject.toml").read_text(encoding="utf-8")

    # 3. The fixes, as docs/adopting.md gives them.
    pyproject = repo / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    text = text.replace('"great-expectations==1.5.11"', '"great-expectations==1.7.0"')
    pyproject.write_text(text.replace('"pytest==8.3.4"', '"pytest==8.4.2"'), encoding="utf-8")
    for command in (
        "make lock",
        "git rm --quiet requirements.txt requirements-dev.txt",
        "mv Dockerfile.prodready Dockerfile",
        "cat .gitignore.prodready >> .gitignore && rm .gitignore.prodready",
        "mv env.example.prodready .env.example",
        "printf '\\nDEBUG=false\\nMODEL_NAME=baseline\\n' | tee -a .env.example >> .env.production.template",
        "sed -i 's/^MLFLOW_TRACKING_PASSWORD=.*/MLFLOW_TRACKING_PASSWORD=from-the-team-secret-store/' .env",
        "rm README.prodready.md",
        "make setup",
    ):
        run(["bash", "-c", command], cwd=repo, env=env)

    # 4. /predict answers as the team's own test says it always did.
    assert (repo / "src/prediction_service/main.py").read_bytes() == before["src/prediction_service/main.py"]
    assert predict_with_uvicorn(repo, env) == PREDICT_ANSWER

    # 5. The report after, with the test run.
    after_fixes = report(repo, "--run-tests", env=env)
    failed = [c["id"] for c in after_fixes["checks"] if c["state"] == "fail"]
    assert after_fixes["score"] >= 90 and after_fixes["grade"] == "A", failed

    # 6. Committed, the project updates like a generated one, and their files stay theirs.
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "Adopt prodready", cwd=repo)
    committed = tree(repo)
    output = copier_update(repo)
    assert status(repo) == {}, output
    for rel in ("src/prediction_service/main.py", "tests/test_predict.py", "README.md", "config.yaml"):
        assert tree(repo)[rel] == committed[rel]


def test_the_update_hook_reports_env_templates_it_sees_before_the_merge(
    template: Path, around: Path, tmp_path: Path
) -> None:
    """On `update`, Copier runs the hook before it applies the team's changes again: the env templates
    then lack the variables the team added for its app, so that check is a hint there, a gate on copy."""
    project = Path(shutil.copytree(around, tmp_path / "project"))
    write_files(project, {"prediction_service/__init__.py": "", "prediction_service/main.py": PREDICT_APP})
    on_update = subprocess.run(
        [sys.executable, str(template / "hooks/post_gen.py"), "--operation=update", f"--source={template / 'src'}"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert on_update.returncode == 0, on_update.stdout + on_update.stderr
    assert "! config.env_complete" in on_update.stdout and "lacks DEBUG" in on_update.stdout
    assert "checked again by `make setup` after the merge" in on_update.stdout
    on_copy = run_hook(template, project)
    assert on_copy.returncode == 1
    assert "validation failed: config.env_complete" in on_copy.stderr
