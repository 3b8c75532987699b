"""`deps check`: each outcome of the lock, export, conflict and isolation checks, and the matrix.

uv is replaced by a recorder here; the template's tests run the real uv.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from prodready import deps
from prodready.cli import main
from prodready.report import Report

PYPROJECT = """
[project]
name = "svc"
version = "0.1.0"
dependencies = ["fastapi>=0.115", "uvicorn[standard]>=0.32", "PyYAML"]
"""
LOCK = """
version = 1

[[package]]
name = "svc"
version = "0.1.0"
dependencies = [{ name = "fastapi" }, { name = "uvicorn" }, { name = "pyyaml" }]

[[package]]
name = "fastapi"
version = "0.165.0"
dependencies = [{ name = "pydantic" }]

[[package]]
name = "pydantic"
version = "2.14.4"

[[package]]
name = "uvicorn"
version = "0.54.0"

[[package]]
name = "pyyaml"
version = "6.0.3"
"""
EXPORT = "# header names the path\nfastapi==0.165.0 \\\n    --hash=sha256:abc\n"


class FakeUv:
    """Answers uv commands from a table; records what was run."""

    def __init__(self, lock_ok: bool = True, export: str | None = EXPORT, pip_ok: bool = True) -> None:
        self.lock_ok, self.export, self.pip_ok = lock_ok, export, pip_ok
        self.calls: list[list[str]] = []

    def __call__(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        command = args[1:3]
        if command == ["lock", "--check"]:
            return _result(0 if self.lock_ok else 1, "" if self.lock_ok else "The lockfile needs to be updated")
        if command[0] == "export":
            if self.export is None:
                return _result(2, "error: no lock")
            Path(args[args.index("-o") + 1]).write_text(self.export)
            return _result(0, "")
        if command == ["pip", "check"]:
            return _result(0 if self.pip_ok else 1, "" if self.pip_ok else "fastapi 0.1 requires starlette<0.2")
        raise AssertionError(f"unexpected uv call {args}")


def _result(code: int, text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], code, stdout="", stderr=text)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "uv.lock").write_text(LOCK)
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements/production.txt").write_text("# another header\n" + EXPORT.split("\n", 1)[1])
    # The project's own environment, which `uv pip check` inspects (its content is uv's business).
    (tmp_path / ".venv").mkdir()
    monkeypatch.setattr(deps, "_uv", lambda: "uv")
    return tmp_path


def _statuses(report: Report) -> dict[str, str]:
    return {finding.check: finding.status for finding in report.findings}


def test_all_checks_pass_and_matrix_lists_direct_dependencies(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deps, "_run", FakeUv())
    report, rows = deps.check()
    assert _statuses(report) == {
        "lock": "pass",
        "requirements": "pass",
        "conflicts": "pass",
        "isolation": "pass",
    }
    assert rows == [
        {"package": "fastapi", "locked": "0.165.0", "constraint": ">=0.115", "required_by": ["svc"]},
        {"package": "uvicorn", "locked": "0.54.0", "constraint": "[standard]>=0.32", "required_by": ["svc"]},
        {"package": "pyyaml", "locked": "6.0.3", "constraint": "(any)", "required_by": ["svc"]},
    ]


@pytest.mark.parametrize(
    ("fake", "check", "message"),
    [
        (FakeUv(lock_ok=False), "lock", "uv.lock is out of date: The lockfile needs to be updated"),
        (FakeUv(export="fastapi==0.1\n"), "requirements", "does not match uv.lock"),
        (FakeUv(export=None), "requirements", "uv export failed: error: no lock"),
        (FakeUv(pip_ok=False), "conflicts", "fastapi 0.1 requires starlette<0.2"),
    ],
)
def test_each_drift_fails_with_a_reason_and_a_fix(
    project: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeUv, check: str, message: str
) -> None:
    monkeypatch.setattr(deps, "_run", fake)
    report, _ = deps.check()
    failed = [f for f in report.findings if f.status == "fail"]
    assert [f.check for f in failed] == [check]
    assert message in failed[0].message
    assert failed[0].fix
    assert report.failed


def test_missing_requirements_export(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "requirements/production.txt").unlink()
    monkeypatch.setattr(deps, "_run", FakeUv())
    report, _ = deps.check()
    assert _statuses(report)["requirements"] == "fail"


def test_scanner_in_the_app_lock_breaks_isolation(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "uv.lock").write_text(LOCK + '\n[[package]]\nname = "semgrep"\nversion = "1.0"\n')
    monkeypatch.setattr(deps, "_run", FakeUv())
    report, _ = deps.check()
    isolation = next(f for f in report.findings if f.check == "isolation")
    assert isolation.status == "fail"
    assert "semgrep" in isolation.message


def test_missing_lock_or_uv_stops_early(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deps, "_run", FakeUv())
    (project / "uv.lock").unlink()
    report, rows = deps.check()
    assert (rows, _statuses(report)) == ([], {"lock": "fail"})
    monkeypatch.setattr(deps, "_uv", lambda: None)
    report, rows = deps.check()
    assert (rows, _statuses(report)) == ([], {"uv": "fail"})


def test_command_prints_text_and_json(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(deps, "_run", FakeUv())
    assert main(["deps", "check"]) == 0
    text = capsys.readouterr().out
    assert "dependency matrix" in text
    assert "fastapi" in text
    monkeypatch.setattr(deps, "_run", FakeUv(lock_ok=False))
    assert main(["deps", "check", "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False
    assert payload["matrix"][0]["package"] == "fastapi"


def test_conflicts_are_checked_in_the_projects_environment(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeUv()
    monkeypatch.setattr(deps, "_run", fake)

    deps.check()

    assert ["uv", "pip", "check", "--python", ".venv"] in fake.calls


def test_conflicts_follow_uv_project_environment(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "elsewhere").mkdir()
    monkeypatch.setenv("UV_PROJECT_ENVIRONMENT", "elsewhere")
    fake = FakeUv()
    monkeypatch.setattr(deps, "_run", fake)

    report, _ = deps.check()

    assert ["uv", "pip", "check", "--python", "elsewhere"] in fake.calls
    assert _statuses(report)["conflicts"] == "pass"


def test_without_an_environment_conflicts_are_not_run(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / ".venv").rmdir()
    fake = FakeUv()
    monkeypatch.setattr(deps, "_run", fake)

    report, _ = deps.check()

    conflicts = next(f for f in report.findings if f.check == "conflicts")
    assert (conflicts.status, conflicts.message) == ("not run", "no .venv to inspect")
    assert "uv sync" in conflicts.fix
    assert not [call for call in fake.calls if call[1:3] == ["pip", "check"]]
    assert not report.failed


@pytest.mark.parametrize(
    ("requirement", "name"),
    [("Foo_Bar>=1", "foo-bar"), ("uvicorn[standard]>=0.32", "uvicorn"), ("a.b.c", "a-b-c"), ("!!", "!!")],
)
def test_requirement_names_are_normalized(requirement: str, name: str) -> None:
    assert deps._requirement_name(requirement) == name
