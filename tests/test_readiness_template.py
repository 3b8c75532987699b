"""The readiness report (`prodready check`) and the post-generation hook on generated projects.

prodready runs from this working tree, as the hook runs it, before the project's dependencies
are installed. The report with the project's own test suite (``--run-tests``, at least 95 for a
fresh project) runs in tests/test_project.py, on the project the project tier installs anyway.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from helpers import (
    ROOT,
    Render,
    copier_cli,
    copy_project,
    example_answers,
    prodready,
    project_env,
    run,
    snapshot,
    states,
)

PACKAGE = example_answers()["package_name"]
HOOK = ROOT / "hooks" / "post_gen.py"
COMBINATIONS = [
    (postgres, redis, ci)
    for postgres in (True, False)
    for redis in (True, False)
    for ci in ("github", "gitlab", "none")
]
# What a project that answered "no CI" cannot pass; everything else must.
NO_CI_FAILURES = {"ci.present", "ci.update_automation", "ci.precommit"}


def ops(project: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``prodready ARGS`` in ``cwd`` (default: the project)."""
    return prodready(cwd or project, *args, env=dict(os.environ, NO_COLOR="1"))


def readiness(project: Path, *args: str) -> dict[str, Any]:
    """Run ``prodready check --json ARGS`` and return its document."""
    result = ops(project, "check", "--json", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def hook(project: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the post-generation hook the way Copier's task does."""
    return subprocess.run(
        [sys.executable, str(HOOK), f"--source={ROOT / 'src'}", *args],
        cwd=cwd or project,
        env=dict(os.environ, NO_COLOR="1"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("post_gen", HOOK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- a fresh project ----------------------------------------------------------------------
# Slow tier: the score counts the lock file, which the hook writes only when the package index
# answers (uv lock); and each combination is a render of its own.
@pytest.mark.slow
@pytest.mark.parametrize(("use_postgres", "use_redis", "ci_provider"), COMBINATIONS)
def test_fresh_project_scores_an_a_in_static_mode(
    rendered: Render, use_postgres: bool, use_redis: bool, ci_provider: str
) -> None:
    project = rendered(use_postgres=use_postgres, use_redis=use_redis, ci_provider=ci_provider)

    document = readiness(project)
    failed = states(document, "fail")

    assert document["errors"] == []
    assert document["gate_failed"] == [], failed
    assert "deps.resolve" in states(document, "pass"), states(document, "not run")
    assert document["score"] >= 90, failed
    assert document["grade"] == "A"
    assert set(failed) <= (NO_CI_FAILURES if ci_provider == "none" else set()), failed
    not_run = states(document, "not run")
    assert {"tests.pass", "tests.coverage", "security.vulnerabilities", "container.build"} <= set(not_run)


def test_static_mode_names_what_it_did_not_run(rendered: Render) -> None:
    result = ops(rendered(), "check")

    assert result.returncode == 0, result.stderr
    assert "not run: runs with --run-tests" in result.stdout
    assert "Score " in result.stdout
    assert "grade A (A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, F < 40)" in result.stdout
    assert "\033[" not in result.stdout


def test_markdown_and_badge_of_a_fresh_project(rendered: Render, tmp_path: Path) -> None:
    badge = tmp_path / "readiness.svg"

    result = ops(rendered(), "check", "--markdown", "--badge", str(badge))

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("## Production readiness: ")
    assert "| Dependencies |" in result.stdout
    assert badge.read_text().startswith("<svg ")


# --- a legacy project: the shape prodready exists for -------------------------------------
def legacy_project(root: Path) -> Path:
    """A legacy service: conflicting pins, three tests, CHANGE_ME, no CI, an image running as root."""
    files = {
        # Two pin lists, each right for one tool and wrong for another.
        "requirements.txt": (
            "fastapi==0.110.0\ngreat-expectations==1.5.11\npandas==2.2.3\nnumpy==1.26.4\n"
            "pydantic==2.11.0\nrequests==2.31.0\nsemgrep==1.139.0\nrich==13.7.1\nurllib3==1.26.18\n"
        ),
        "requirements/production.txt": (
            "pandas==2.1.4\nnumpy==2.0.0\npydantic==2.10.6\nrequests==2.32.4\nrich==13.5.2\n"
            "urllib3==2.0.7\ntyper==0.16.0\n"
        ),
        "requirements-test.txt": "pytest==8.3.4\npytest-cov==6.0.0\n",
        ".env": "".join(
            f"{name}=CHANGE_ME\n"
            for name in (
                "SECRET_KEY",
                "JWT_SECRET_KEY",
                "DB_ENCRYPTION_KEY",
                "REDIS_PASSWORD",
                "MLFLOW_TRACKING_PASSWORD",
            )
        ),
        ".gitignore": "__pycache__/\n",
        "config/settings.yaml": "database:\n  url: postgresql://app:CHANGE_ME@db/app\n",
        "Dockerfile.production": "FROM python:latest\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\n"
        'CMD ["uvicorn", "src.main:app", "--host", "0.0.0.0"]\n',
        "src/main.py": "import os\n\nDATABASE_URL = os.environ['DATABASE_URL']\nSECRET_KEY = os.getenv('SECRET_KEY')\n",
        **{f"src/{name}.py": f'"""{name}."""\n' for name in ("api", "models", "services", "pipeline", "features")},
        **{f"src/utils/{name}.py": f'"""{name}."""\n' for name in ("io", "dates", "text", "cache", "auth")},
        **{f"tests/test_{name}.py": f"def test_{name}():\n    assert True\n" for name in ("api", "models", "utils")},
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git = shutil.which("git")
    assert git is not None
    run([git, "init", "--quiet"], root)
    run([git, "add", "--all", "--force"], root)
    return root


def test_a_legacy_project_scores_d_or_f(rendered: Render, tmp_path: Path) -> None:
    legacy = legacy_project(tmp_path / "legacy")

    document = readiness(rendered(), str(legacy))
    failed = states(document, "fail")

    assert document["grade"] in ("D", "F"), document["score"]
    assert document["score"] < 60
    assert {
        "deps.lockfile",
        "deps.conflicts",
        "deps.isolated_tools",
        "tests.present",
        "tests.tiers",
        "security.secrets_committed",
        "security.env_ignored",
        "security.placeholders",
        "security.keys",
        "config.environments",
        "config.env_template",
        "ci.present",
        "container.non_root",
        "container.pinned_base",
        "container.healthcheck",
        "container.multi_stage",
        "container.dockerignore",
    } <= set(failed)
    assert "pandas" in failed["deps.conflicts"]
    assert "semgrep" in failed["deps.isolated_tools"]
    assert "3 test files" in failed["tests.present"]
    assert ".env" in failed["security.secrets_committed"]
    assert "Dockerfile.production" in failed["container.non_root"]
    assert "python:latest" in failed["container.pinned_base"]
    assert {"deps.manifest", "container.dockerfile"} <= set(states(document, "pass"))
    assert document["fix_first"][0]["gain"] > 0


def test_readiness_on_a_legacy_project_changes_nothing_there(rendered: Render, tmp_path: Path) -> None:
    legacy = legacy_project(tmp_path / "legacy")
    before = snapshot(legacy)

    ops(rendered(), "check", str(legacy), "--validate", cwd=tmp_path)

    assert snapshot(legacy) == before


# --- the hook -------------------------------------------------------------------------------
@pytest.fixture
def scratch(rendered: Render, tmp_path: Path) -> Path:
    """A copy of a generated project that a test may break."""
    copy = tmp_path / "svc"
    shutil.copytree(rendered(), copy, symlinks=True)
    return copy


def test_hook_summary_lists_each_check_and_the_score(scratch: Path) -> None:
    result = hook(scratch, "--operation=update")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ config.valid: " in result.stdout
    assert "✓ tests.tiers: " in result.stdout
    assert "✓ container.non_root: " in result.stdout
    assert "readiness " in result.stdout
    assert "/100 (grade A" in result.stdout
    # After an update: what changed and how to finish it, not the first copy's steps.
    assert "make setup    # installs uv" not in result.stdout
    assert "git diff     # review the update" in result.stdout
    assert 'git commit -m "Update from the prodready template"' in result.stdout


def test_a_failing_validation_exits_non_zero_names_the_check_and_deletes_nothing(scratch: Path) -> None:
    staging = scratch / "config" / "environments" / "staging.yaml"
    staging.write_text(staging.read_text() + "app: [unclosed\n")
    before = snapshot(scratch)

    result = hook(scratch, "--operation=update")

    assert result.returncode == 1
    assert "✗ config.valid: " in result.stdout
    assert "validation failed: config.valid" in result.stderr
    assert snapshot(scratch) == before


# Slow tier: the scratch project must have been locked by the hook (package index).
@pytest.mark.slow
def test_update_runs_no_git_init_and_no_lock(scratch: Path) -> None:
    shutil.rmtree(scratch / ".git", ignore_errors=True)
    shutil.rmtree(scratch / "requirements")
    (scratch / "uv.lock").unlink()

    result = hook(scratch, "--operation=update", "--git-init=True")

    assert not (scratch / ".git").exists()
    assert not (scratch / "uv.lock").exists()
    assert not (scratch / "requirements").exists()
    # Without a lock the score drops, but validation (the gate checks) still passes.
    assert result.returncode == 0, result.stdout + result.stderr
    assert "! deps.lockfile" in result.stdout


def test_copy_honours_git_init_false(scratch: Path) -> None:
    shutil.rmtree(scratch / ".git", ignore_errors=True)

    result = hook(scratch, "--operation=copy", "--git-init=False")

    assert result.returncode == 0, result.stdout + result.stderr
    assert not (scratch / ".git").exists()


def test_nothing_runs_in_a_copier_replay_folder(rendered: Render, tmp_path: Path) -> None:
    replay = tmp_path / "copier._main.old_copy.abc123" / "svc"
    shutil.copytree(rendered(), replay, symlinks=True)
    (replay / ".env").unlink()
    before = snapshot(replay)

    result = hook(replay, "--operation=update")

    assert result.returncode == 0
    assert result.stdout == ""
    assert snapshot(replay) == before
    module = load_hook()
    assert module.in_replay_folder(Path("/tmp/copier._main.new_copy.x1/project"))
    assert not module.in_replay_folder(Path("/tmp/my-copier-project"))


def test_copy_into_an_existing_folder_fails_on_validation_and_keeps_the_users_files(tmp_path: Path) -> None:
    destination = tmp_path / "existing"
    destination.mkdir()
    (destination / "NOTES.md").write_text("mine\n")
    # A production marker in the development .env: security validate --env development refuses it.
    (destination / ".env").write_text("APP_ENV=production\n")
    data = [arg for key, value in example_answers().items() for arg in ("--data", f"{key}={value}")]

    result = copier_cli("copy", "--defaults", "--trust", "--vcs-ref=HEAD", *data, str(ROOT), str(destination))

    assert result.returncode != 0
    assert "security.keys" in result.stdout + result.stderr
    assert (destination / "NOTES.md").read_text() == "mine\n"
    assert (destination / ".env").read_text().startswith("APP_ENV=production\n")


def test_make_setup_does_what_the_hook_does() -> None:
    makefile = (ROOT / "template" / "Makefile.jinja").read_text()
    recipe = makefile.split("\nsetup:", 1)[1].split("\n\n", 1)[0]

    assert "$(MAKE) --no-print-directory lock" in recipe
    assert "keys ensure" in recipe
    assert "check --validate" in recipe


@pytest.mark.slow
def test_skip_tasks_then_make_setup(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "svc", skip_tasks=True)
    assert not (project / ".env").exists()
    assert not (project / "uv.lock").exists()

    result = run(["make", "setup"], project, env=project_env(NO_COLOR="1"))

    assert (project / ".env").exists()
    assert (project / "uv.lock").exists()
    assert (project / "requirements" / "production.txt").exists()
    assert "Score " in result.stdout


def test_without_prodready_s_dependencies_the_hook_reports_not_run_and_passes(scratch: Path, tmp_path: Path) -> None:
    # A Copier installed without python-dotenv and jsonschema: prodready's steps cannot run.
    bare = tmp_path / "bare"
    run([sys.executable, "-m", "venv", "--without-pip", str(bare)], tmp_path)
    (scratch / ".env").unlink()

    result = subprocess.run(
        [str(bare / "bin" / "python"), str(HOOK), f"--source={ROOT / 'src'}", "--operation=update"],
        cwd=scratch,
        env=dict(os.environ, NO_COLOR="1"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "- development keys (.env, mode 0600) — not run (" in result.stdout
    assert "not installed beside Copier): run `make setup`" in result.stdout
    assert "✓" not in result.stdout
    assert not (scratch / ".env").exists()
