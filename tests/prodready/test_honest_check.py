"""``prodready check`` on repositories nobody generated: requirements resolve, the service starts, .env is usable.

The resolver needs the package index: those tests are in the slow tier; offline, the check
must say *not run*, which the fast tier proves with ``UV_OFFLINE=1``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import BIN
from legacy import ENV_KEYS, PLACEHOLDER, make_legacy_repo
from scratch import outcome, random_value, strong_key, write

from prodready import cli, readiness, resolution, service
from prodready.checks import CHECKS, Project
from prodready.checks.base import makefile_targets
from prodready.readiness import Outcome
from prodready.report import Finding

UV = BIN / "uv"
CONFLICT = "great-expectations==1.5.11 depends on pandas>=1.3.0,<2.2"


def report(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run ``prodready check ROOT ARGS`` in-process; return the exit code and what it printed."""
    code = cli.main(["check", str(root), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def document(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    """The ``--json`` document of ``prodready check ROOT ARGS``."""
    code, out = report(root, capsys, "--json", *args)
    assert code == 0, out
    data: dict[str, Any] = json.loads(out)
    return data


def check_of(data: dict[str, Any], check_id: str) -> dict[str, Any]:
    """One check's entry of a ``--json`` document."""
    return next(c for c in data["checks"] if c["id"] == check_id)


def bare_environment(root: Path) -> None:
    """A ``.venv`` holding only the standard library (nothing of the project installed)."""
    subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(root / ".venv")], check=True)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """uv without the package index and with an empty cache: nothing can be resolved."""
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))


# --- the legacy fixture -------------------------------------------------------------------
def test_make_legacy_repo_refuses_an_unknown_shape(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'lib' is not one of src, app"):
        make_legacy_repo(tmp_path / "x", shape="lib")


@pytest.mark.parametrize("shape", ["src", "app"])
def test_a_legacy_repository_scores_d_or_f(
    tmp_path: Path, shape: str, offline: None, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_legacy_repo(tmp_path / "legacy", shape)

    data = document(repo, capsys)

    assert data["grade"] in ("D", "F"), data["score"]
    failed = {c["id"] for c in data["checks"] if c["state"] == "fail"}
    assert {"security.dev_env", "security.secrets_committed", "ci.present", "container.non_root"} <= failed


# --- dependencies resolve -------------------------------------------------------------------
def test_offline_the_resolution_is_not_run_never_a_pass(tmp_path: Path, offline: None) -> None:
    repo = make_legacy_repo(tmp_path / "legacy", conflict=False, git_init=False)

    found = outcome(repo, "deps.resolve")

    assert found.status == "not run", found
    assert "UV_OFFLINE" in found.message
    assert "package index" in found.fix


def test_an_unreachable_index_is_not_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Port 9 (discard) on the loopback: nothing answers there, so uv's request fails fast.
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("UV_DEFAULT_INDEX", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    # Only that index: no uv.toml of the machine, no extra index from the environment.
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    for name in ("UV_INDEX", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.delenv("UV_OFFLINE", raising=False)
    root = write(tmp_path / "repo", {"requirements.txt": "fastapi==0.115.12\n"})

    found = outcome(root, "deps.resolve")

    assert found.status == "not run", found
    assert "could not be reached" in found.message


def test_without_uv_the_resolution_is_not_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolution, "uv_binary", lambda: None)
    root = write(tmp_path / "repo", {"requirements.txt": "fastapi==0.115.12\n"})

    found = outcome(root, "deps.resolve")

    assert (found.status, found.message) == ("not run", "requirements.txt: uv is not installed")


def test_nothing_to_resolve_is_not_run(tmp_path: Path) -> None:
    assert outcome(write(tmp_path / "repo", {"README.md": "# x\n"}), "deps.resolve").status == "not run"


def test_included_files_are_resolved_through_the_files_that_include_them(tmp_path: Path) -> None:
    repo = make_legacy_repo(tmp_path / "legacy", "app", git_init=False)
    files = ["requirements/base.txt", "requirements/dev.txt", "requirements/prod.txt", "constraints.txt"]

    assert resolution.root_requirement_files(repo, files, has_lock=False) == [
        "requirements/dev.txt",
        "requirements/prod.txt",
    ]


def test_an_export_of_the_lock_is_left_to_the_lock(tmp_path: Path) -> None:
    root = write(
        tmp_path / "repo",
        {
            "requirements/production.txt": "# This file was autogenerated by uv via the following command:\n"
            "#    uv export --frozen --no-dev\nfastapi==0.115.12\n"
        },
    )

    assert resolution.root_requirement_files(root, ["requirements/production.txt"], has_lock=True) == []
    assert resolution.root_requirement_files(root, ["requirements/production.txt"], has_lock=False) == [
        "requirements/production.txt"
    ]


def test_pyproject_requirements_leave_out_the_project_itself_and_other_sources() -> None:
    data = {
        "project": {
            "name": "My_App",
            "dependencies": ["fastapi>=0.115", "shared-lib"],
            "optional-dependencies": {"all": ["my-app[extra]", "pandas<2.2"]},
        },
        "dependency-groups": {"dev": ["pytest>=8", {"include-group": "lint"}], "lint": ["ruff"]},
        "tool": {"uv": {"sources": {"shared-lib": {"path": "../shared"}}}},
    }

    assert resolution.pyproject_requirements(data) == ["fastapi>=0.115", "pandas<2.2", "pytest>=8", "ruff"]


@pytest.mark.parametrize(
    ("files", "pyproject", "expected"),
    [
        ({".python-version": "3.12.4\n"}, {"project": {"requires-python": ">=3.11"}}, "3.12"),
        ({}, {"project": {"requires-python": ">=3.11,<4"}}, "3.11"),
        ({"runtime.txt": "python-3.10.13\n"}, {}, "3.10"),
        ({"Dockerfile": "FROM --platform=linux/amd64 images.example/team/python:3.12-slim AS build\n"}, {}, "3.12"),
        ({}, {}, None),
    ],
)
def test_the_python_version_comes_from_the_repository(
    tmp_path: Path, files: dict[str, str], pyproject: dict[str, Any], expected: str | None
) -> None:
    assert resolution.python_version(write(tmp_path / "repo", files), pyproject) == expected


UNSATISFIABLE = """\
error: No solution found when resolving dependencies:
  ╰─▶ Because great-expectations==1.5.11 depends on pandas>=1.3.0,<2.2 and you require great-expectations==1.5.11,
      we can conclude that you require pandas>=1.3.0,<2.2.
      And because you require pandas==2.2.3, we can conclude that your requirements are unsatisfiable.

      hint: Pre-releases are available for pandas in the requested range
"""
OFFLINE = """\
error: No solution found when resolving dependencies:
  ╰─▶ Because fastapi was not found in the cache and you require fastapi==0.115.0, we can conclude that your
      requirements are unsatisfiable.

      hint: Packages were unavailable because the network was disabled.
"""


@pytest.mark.parametrize(
    ("code", "output", "state", "detail"),
    [
        (0, "", "resolved", ""),
        (1, UNSATISFIABLE, "conflict", "Because great-expectations==1.5.11 depends on pandas>=1.3.0,<2.2"),
        (1, OFFLINE, "unknown", "the package index could not be reached"),
        (2, "error: Request failed after 3 retries\n  Caused by: tcp connect error", "unknown", "could not be reached"),
        (2, "error: Couldn't parse requirement in `-` at position 0", "conflict", "uv cannot read it"),
        (2, "error: Failed to build `mypkg @ file:///x`", "unknown", "Failed to build"),
    ],
)
def test_uv_s_answer_is_classified(code: int, output: str, state: str, detail: str) -> None:
    found = resolution.classify("requirements.txt", subprocess.CompletedProcess([], code, "", output))

    assert found.state == state
    assert detail in found.detail
    assert "hint" not in found.detail and "╰─▶" not in found.detail


# --- the service starts (--run-tests) -------------------------------------------------------
def _find(
    root: Path,
    configured: str | None = None,
    pyproject: dict[str, Any] | None = None,
    answers: dict[str, Any] | None = None,
) -> service.App | None:
    files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    texts = {
        name: (root / name).read_text() if (root / name).is_file() else ""
        for name in ("Makefile", "Procfile", "Dockerfile")
    }
    texts.update({name: (root / name).read_text() for name in service.discovery_candidates(files)})
    recipes = {name: recipe for name, (_, recipe) in makefile_targets(Project(root)).items()}
    return service.find_app(root, configured, pyproject or {}, answers or {}, texts, recipes)


def test_the_app_is_found_in_the_dockerfile_with_src_on_the_path(tmp_path: Path) -> None:
    app = _find(make_legacy_repo(tmp_path / "legacy", git_init=False))

    assert app == service.App("main:app", "src", False, "Dockerfile")


def test_the_app_is_found_by_its_fastapi_assignment(tmp_path: Path) -> None:
    repo = make_legacy_repo(tmp_path / "legacy", "app", git_init=False)
    (repo / "Dockerfile").unlink()

    assert _find(repo) == service.App("app.main:app", "", False, "app/main.py")


def test_a_generated_makefile_names_the_factory(tmp_path: Path) -> None:
    root = write(
        tmp_path / "svc",
        {
            "Makefile": "PACKAGE := orders\nRUN := uv run\ndev: ## run\n"
            "\t$(RUN) uvicorn --factory $(PACKAGE).main:create_app --reload --port 8000\n",
            "src/orders/__init__.py": "",
            "src/orders/main.py": "def create_app(): ...\n",
        },
    )

    assert _find(root) == service.App("orders.main:create_app", "src", True, "Makefile")


def test_a_generated_project_s_answers_name_its_app(tmp_path: Path) -> None:
    root = write(tmp_path / "svc", {"src/orders/__init__.py": "", "src/orders/main.py": "def create_app(): ...\n"})

    assert _find(root, answers={"package_name": "orders"}) == service.App(
        "orders.main:create_app", "src", True, ".copier-answers.yml"
    )
    adopted = {"package_name": "orders", "app_source": "existing", "existing_app": "orders.main:app"}
    assert _find(root, answers=adopted) == service.App("orders.main:app", "src", False, ".copier-answers.yml")
    assert _find(root, answers={"package_name": "billing"}) is None


def test_the_configured_app_comes_first_and_is_validated(tmp_path: Path) -> None:
    repo = make_legacy_repo(tmp_path / "legacy", git_init=False)

    assert _find(repo, "svc.api:build()") == service.App("svc.api:build", "", True, "--app")
    assert _find(repo, "svc.api:server.app") == service.App("svc.api:server.app", "", False, "--app")
    setting = {"tool": {"prodready": {"app": "svc.api:app"}}}
    assert _find(repo, pyproject=setting) == service.App(
        "svc.api:app", "", False, "pyproject.toml [tool.prodready] app"
    )
    with pytest.raises(service.AppPathError, match=r"'svc/api\.py' is not an ASGI import path"):
        _find(repo, "svc/api.py")


def test_a_named_app_under_src_starts_with_src_on_the_path(tmp_path: Path) -> None:
    # An adopted src layout is not installed: its Makefile runs the app with PYTHONPATH=src.
    root = write(tmp_path / "svc", {"src/predict/__init__.py": "", "src/predict/main.py": "app = object()\n"})
    setting = {"tool": {"prodready": {"app": "predict.main:app"}}}

    assert _find(root, pyproject=setting) == service.App(
        "predict.main:app", "src", False, "pyproject.toml [tool.prodready] app"
    )
    assert _find(root, "predict.main:app") == service.App("predict.main:app", "src", False, "--app")


def test_a_bad_app_option_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = report(tmp_path, capsys, "--app", "main.py")

    assert code == 2
    assert out.strip() == (
        "prodready check: --app 'main.py' is not an ASGI import path: use package.module:attribute "
        "(attribute() for a factory)"
    )


def test_a_service_that_does_not_import_holds_the_score_below_75(
    tmp_path: Path, offline: None, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_legacy_repo(tmp_path / "legacy", git_init=False)
    bare_environment(repo)

    data = document(repo, capsys, "--run-tests")
    started = check_of(data, "tests.service_starts")

    assert started["state"] == "fail", started
    assert "main:app does not import: ModuleNotFoundError: No module named 'fastapi'" in started["message"]
    assert data["cap"]["score"] == 74
    assert data["cap"]["checks"] == ["tests.service_starts"]
    assert "does not import" in data["cap"]["reason"]
    assert data["score"] <= 74
    _, text = report(repo, capsys, "--run-tests")
    assert "held at 74 at most: tests.service_starts failed: main:app" in text


def test_the_cap_holds_a_repository_that_passes_everything_else() -> None:
    outcomes = [Outcome(item, Finding(item.id, "pass", "")) for item in CHECKS]
    starts = next(n for n, o in enumerate(outcomes) if o.check.id == "tests.service_starts")
    outcomes[starts] = Outcome(outcomes[starts].check, Finding("tests.service_starts", "fail", "exited 1", fix="x"))

    assessment = readiness.Assessment(Path(), outcomes, {"run_tests": True, "audit": False, "build": False}, "")

    assert readiness.overall_score(outcomes) > 90
    assert (assessment.score, assessment.grade) == (74, "C")
    assert assessment.fix_first()[0]["id"] == "tests.service_starts"
    assert assessment.fix_first()[0]["gain"] > 20
    assert assessment.cap == {
        "score": 74,
        "checks": ["tests.service_starts"],
        "reason": "tests.service_starts failed: exited 1",
    }
    assert "Held at 74 at most: tests.service_starts failed: exited 1." in readiness.render_markdown(assessment)


def test_the_server_s_output_never_shows_a_value_of_env(tmp_path: Path) -> None:
    repo = make_legacy_repo(tmp_path / "legacy", git_init=False)
    (repo / "src" / "main.py").write_text('raise SystemExit("cannot use " + open(".env").read())\n')
    bare_environment(repo)

    started = service.start(repo, service.App("main:app", "src", False, "test"))

    assert started.state == "fail"
    assert "DATABASE_URL=***" in started.detail
    assert PLACEHOLDER not in started.detail and "postgresql://" not in started.detail


def test_no_environment_is_not_run(tmp_path: Path) -> None:
    repo = make_legacy_repo(tmp_path / "legacy", git_init=False)

    found = outcome(repo, "tests.service_starts", run_tests=True)

    assert found.status == "not run"
    assert "environment is not installed" in found.message


# --- a development .env the service cannot start with -------------------------------------
def test_placeholders_in_env_fail_naming_the_keys_never_the_values(
    tmp_path: Path, offline: None, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_legacy_repo(tmp_path / "legacy", git_init=False)

    data = document(repo, capsys)
    _, text = report(repo, capsys)

    found = check_of(data, "security.dev_env")
    assert found["state"] == "fail"
    assert found["message"].startswith("the service will not start with .env: SECRET_KEY is a placeholder")
    assert all(name in found["message"] for name in ENV_KEYS[:3])
    assert PLACEHOLDER not in text, [line for line in text.splitlines() if PLACEHOLDER in line]
    assert not [c["id"] for c in data["checks"] if PLACEHOLDER in c["message"] + c["fix"]]


def test_without_a_key_list_only_secret_variables_count(tmp_path: Path) -> None:
    root = write(tmp_path / "repo", {".env": f"LOG_LEVEL=changeme\nAPI_TOKEN={random_value()}\nKEY_PREFIX=xxx\n"})

    found = outcome(root, "security.dev_env")

    assert found.status == "pass", found
    assert found.message == ".env: 1 secret variable hold usable values"


def test_declared_keys_of_the_wrong_format_fail(project: Path, key_names: tuple[str, ...]) -> None:
    values = {name: strong_key(name) for name in key_names}
    values["DB_ENCRYPTION_KEY"] = random_value()  # strong, but not 64 hex characters
    (project / ".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))

    found = readiness.assess(project, checks=[c for c in CHECKS if c.id == "security.dev_env"]).outcomes[0].finding

    assert found.status == "fail", found
    assert "DB_ENCRYPTION_KEY must be 64 hex characters (32 bytes)" in found.message
    assert values["DB_ENCRYPTION_KEY"] not in found.message


def test_declared_keys_that_are_usable_pass(project: Path, key_names: tuple[str, ...]) -> None:
    (project / ".env").write_text("".join(f"{name}={strong_key(name)}\n" for name in key_names))

    found = readiness.assess(project, checks=[c for c in CHECKS if c.id == "security.dev_env"]).outcomes[0].finding

    assert found.status == "pass", found


def test_a_key_whose_companion_is_unset_is_not_needed_to_start(tmp_path: Path) -> None:
    # MLflow's password goes with its user name: a development .env without either (a local
    # tracking server without authentication) starts; a user name without a password does not.
    keys = {
        "min_bits": 128,
        "keys": [
            {"name": "SECRET_KEY", "purpose": "signs", "encoding": "urlsafe", "bytes": 32},
            {
                "name": "MLFLOW_TRACKING_PASSWORD",
                "purpose": "the tracking server's password",
                "encoding": "urlsafe",
                "bytes": 32,
                "external": True,
                "required_with": "MLFLOW_TRACKING_USERNAME",
            },
        ],
    }
    secret = f"SECRET_KEY={random_value()}\n"
    root = write(tmp_path / "repo", {"security/keys.json": json.dumps(keys), ".env": secret})

    assert outcome(root, "security.dev_env").status == "pass"

    (root / ".env").write_text(secret + "MLFLOW_TRACKING_USERNAME=predictor\n")
    found = outcome(root, "security.dev_env")
    assert found.status == "fail", found
    assert "MLFLOW_TRACKING_PASSWORD is missing" in found.message


# --- slow: the package index and an installed service ---------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(
    ("shape", "named", "pinned"),
    [("src", "requirements-dev.txt", "requirements.txt"), ("app", "requirements/dev.txt", "requirements/base.txt")],
)
def test_the_resolver_names_the_conflict(tmp_path: Path, shape: str, named: str, pinned: str) -> None:
    repo = make_legacy_repo(tmp_path / "legacy", shape, git_init=False)

    found = outcome(repo, "deps.resolve")

    assert found.status == "fail", found
    assert found.message.startswith(f"{named} cannot be installed (written in {pinned}): Because {CONFLICT}")
    assert "pandas==2.2.3" in found.message
    assert found.where == pinned


@pytest.mark.slow
def test_requirements_that_fit_together_resolve(tmp_path: Path) -> None:
    repo = make_legacy_repo(tmp_path / "legacy", "app", conflict=False, git_init=False)

    found = outcome(repo, "deps.resolve")

    assert found.status == "pass", found
    assert found.message == "uv resolves requirements/dev.txt, requirements/prod.txt without a conflict"


@pytest.mark.slow
def test_a_service_that_starts_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_legacy_repo(tmp_path / "legacy", "app", git_init=False)
    bare_environment(repo)
    install = [str(UV), "pip", "install", "--quiet", "--python", str(repo / ".venv"), "fastapi==0.115.12"]
    subprocess.run([*install, "uvicorn==0.34.0"], check=True, env={**os.environ, "VIRTUAL_ENV": ""})

    found = outcome(repo, "tests.service_starts", run_tests=True)

    assert found.status == "pass", found
    assert found.message.startswith("app.main:app (from Dockerfile): GET /health answered 200")
    assert not processes_of(repo), "the server was not stopped"

    with (repo / "app" / "main.py").open("a") as module:
        module.write("\nraise RuntimeError('the model file is missing')\n")
    broken = outcome(repo, "tests.service_starts", run_tests=True)

    assert broken.status == "fail", broken
    assert "uvicorn app.main:app exited" in broken.message
    assert "RuntimeError: the model file is missing" in broken.message
    assert not processes_of(repo)

    (repo / "app" / "main.py").write_text("from fastapi import FastAPI\n\napp = FastAPI(openapi_url=None)\n")
    monkeypatch.setattr(service, "_ANSWERING_SECONDS", 1.0)
    silent = outcome(repo, "tests.service_starts", run_tests=True)

    assert silent.status == "fail", silent
    assert "it listens, but none of /health/live, /health, /healthz, /openapi.json answers 2xx" in silent.message
    assert "(/health/live 404, /health 404, /healthz 404, /openapi.json 404)" in silent.message
    assert not processes_of(repo)


def processes_of(root: Path) -> list[str]:
    """Command lines of running processes that name ``root`` (Linux /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(root) in text and "pytest" not in text:
            found.append(text)
    return found
