"""Config environments and dependency hygiene in generated projects (issue: config & deps).

prodready runs from this working tree, as the post-generation hook runs it, before the
project's dependencies are installed. The dependency checks inspect the project's own
environment, so those tests sync it with uv first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers import prodready

ROOT = Path(__file__).resolve().parent.parent
COPIER = shutil.which("copier") or str(Path(sys.executable).with_name("copier"))


def render(dst: Path, **answers: object) -> Path:
    """Generate a project into ``dst`` with the hook, returning its path."""
    data = [arg for key, value in answers.items() for arg in ("--data", f"{key}={value}")]
    result = subprocess.run(
        [COPIER, "copy", "--defaults", "--trust", "--quiet", *data, str(ROOT), str(dst)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return dst


def ops(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``prodready ARGS`` in ``project``."""
    return prodready(project, *args)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("cfg") / "svc")


@pytest.fixture
def scratch(project: Path, tmp_path: Path) -> Path:
    """A copy of the generated project that a test may break."""
    copy = tmp_path / "svc"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns(".venv", ".git"))
    return copy


# The fast tier checks the defaults; the other pairs run in the slow tier (a render and two ops
# runs each).
@pytest.mark.parametrize(
    ("use_postgres", "use_redis"),
    [
        (True, True),
        pytest.param(True, False, marks=pytest.mark.slow),
        pytest.param(False, True, marks=pytest.mark.slow),
        pytest.param(False, False, marks=pytest.mark.slow),
    ],
)
def test_config_validate_and_sync_pass_for_every_combination(
    tmp_path: Path, use_postgres: bool, use_redis: bool
) -> None:
    project = render(tmp_path / "svc", use_postgres=use_postgres, use_redis=use_redis)
    validate = ops(project, "config", "validate")
    assert validate.returncode == 0, validate.stdout
    for env in ("development", "testing", "staging", "production"):
        assert f"✓ {env}" in validate.stdout
    sync = ops(project, "config", "sync", "--check")
    assert sync.returncode == 0, sync.stdout
    services = sorted(p.name for p in (project / "config/services").glob("*.yaml"))
    assert services == sorted([*(["database.yaml"] if use_postgres else []), *(["redis.yaml"] if use_redis else [])])


def test_broken_yaml_names_the_file(scratch: Path) -> None:
    path = scratch / "config/environments/staging.yaml"
    path.write_text(path.read_text() + "app: [unclosed\n")
    result = ops(scratch, "config", "validate")
    assert result.returncode == 1
    assert "config/environments/staging.yaml" in result.stdout
    assert "not valid YAML" in result.stdout


def test_debug_in_production_names_file_key_and_rule(scratch: Path) -> None:
    path = scratch / "config/environments/production.yaml"
    path.write_text(path.read_text().replace("debug: false", "debug: true"))
    result = ops(scratch, "config", "validate", "--json")
    assert result.returncode == 1
    failures = [f for f in json.loads(result.stdout)["findings"] if f["status"] == "fail"]
    assert failures == [
        {
            "check": "rule",
            "status": "fail",
            "message": "debug must be false in production",
            "where": "config/environments/production.yaml: app.debug",
            "fix": "set app.debug in config/environments/production.yaml",
        }
    ]


def test_unknown_key_fails_the_schema(scratch: Path) -> None:
    path = scratch / "config/environments/testing.yaml"
    path.write_text(path.read_text().replace("  debug: false", "  debgu: false"))
    result = ops(scratch, "config", "validate")
    assert result.returncode == 1
    assert "config/environments/testing.yaml: app.debgu" in result.stdout
    assert "is not a known key" in result.stdout


def test_missing_key_is_drift_and_sync_adds_it_keeping_comments(scratch: Path) -> None:
    path = scratch / "config/environments/staging.yaml"
    original = path.read_text()
    lines = original.splitlines(keepends=True)
    removed = next(i for i, line in enumerate(lines) if line.startswith("  max_page_size:"))
    broken = "".join(lines[:removed] + lines[removed + 1 :])
    path.write_text(broken)

    check = ops(scratch, "config", "sync", "--check")
    assert check.returncode == 1
    assert "config/environments/staging.yaml: app.max_page_size" in check.stdout

    fix = ops(scratch, "config", "sync")
    assert fix.returncode == 0, fix.stdout
    fixed = path.read_text()
    # Every original line (comments included) is still there, in order, plus one marked line.
    added = [line for line in fixed.splitlines() if line not in broken.splitlines()]
    assert added == ["  max_page_size: 100  # added by `config sync` from development: review"]
    assert [line for line in fixed.splitlines() if line not in added] == broken.splitlines()
    assert ops(scratch, "config", "sync", "--check").returncode == 0
    assert ops(scratch, "config", "validate").returncode == 0


def test_sqlite_in_production_is_refused_when_the_project_has_postgres(scratch: Path) -> None:
    path = scratch / "config/environments/production.yaml"
    path.write_text(path.read_text().replace("  url: null", "  url: sqlite+aiosqlite:///./var/app.db"))
    result = ops(scratch, "config", "validate")
    assert result.returncode == 1
    assert "database.url" in result.stdout and "SQLite is for development only" in result.stdout


def _sync(project: Path) -> None:
    result = subprocess.run(
        ["uv", "sync", "--locked", "--quiet"], cwd=project, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def _deps_check(project: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
    return prodready(project, "deps", "check", env=env)


# The lock tests need the package index (uv lock): slow tier.
@pytest.mark.slow
def test_lock_and_exports_are_generated_and_pass_deps_check(scratch: Path) -> None:
    assert (scratch / "uv.lock").is_file(), "the hook locks on first copy when the index is reachable"
    requirements = (scratch / "requirements/production.txt").read_text()
    assert "--hash=sha256:" in requirements
    assert subprocess.run(["uv", "lock", "--check"], cwd=scratch, capture_output=True, check=False).returncode == 0
    _sync(scratch)
    result = _deps_check(scratch)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dependency matrix" in result.stdout
    assert "fastapi" in result.stdout


@pytest.mark.slow
def test_app_lock_holds_no_security_scanner(project: Path) -> None:
    lock = tomllib.loads((project / "uv.lock").read_text())
    names = {package["name"] for package in lock["package"]}
    assert names.isdisjoint({"semgrep", "bandit", "pip-audit", "safety"})
    assert {"fastapi", "sqlalchemy", "pydantic-settings"} <= names


@pytest.mark.slow
def test_hand_edited_pyproject_fails_deps_check_and_says_why(scratch: Path) -> None:
    _sync(scratch)
    pyproject = scratch / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('    "pyjwt>=2.10",', '    "pyjwt>=2.10",\n    "six>=1.16",'))
    result = _deps_check(scratch)
    assert result.returncode == 1
    assert "uv.lock is out of date" in result.stdout
    assert "fix: make lock" in result.stdout


@pytest.mark.slow
def test_stale_requirements_export_fails_deps_check(scratch: Path) -> None:
    _sync(scratch)
    requirements = scratch / "requirements/production.txt"
    requirements.write_text(requirements.read_text().replace("fastapi==", "fastapi===", 1))
    result = _deps_check(scratch)
    assert result.returncode == 1
    assert "requirements/production.txt does not match uv.lock" in result.stdout
