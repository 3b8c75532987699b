"""`testrun`: the runner each kind of project gets, and what a run reports, with pytest replaced by a recorder."""

from __future__ import annotations

import errno
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from scratch import installed

from prodready import testrun

PREFIX = ["/opt/bin/python", "-m", "pytest"]
UV_RUN = ["/opt/bin/uv", "run", "--frozen", "python", "-m", "pytest"]
JUNIT = (
    '<testsuites><testsuite name="pytest">'
    '<testcase classname="tests.unit.test_a" name="a"/>'
    '<testcase classname="tests.unit.test_a" name="b"/>'
    '<testcase classname="tests.integration.test_b" name="c"><failure message="no"/></testcase>'
    "</testsuite></testsuites>"
)
COUNTS = {"unit": {"passed": 2, "failed": 0, "skipped": 0}, "integration": {"passed": 0, "failed": 1, "skipped": 0}}


@dataclass
class FakePytest:
    """Stands in for the pytest subprocess: writes the reports it is asked for and records each call."""

    junit: str | None = JUNIT
    coverage: str | None = '{"totals": {"percent_covered": 91.25}}'
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    calls: list[tuple[list[str], Path, dict[str, str]]] = field(default_factory=list)

    def __call__(self, command: list[str], root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        self.calls.append((command, root, env))
        for argument in command:
            if argument.startswith("--junitxml=") and self.junit is not None:
                Path(argument.removeprefix("--junitxml=")).write_text(self.junit, encoding="utf-8")
            if argument.startswith("--cov-report=json:") and self.coverage is not None:
                Path(argument.removeprefix("--cov-report=json:")).write_text(self.coverage, encoding="utf-8")
        return subprocess.CompletedProcess(command, self.returncode, self.stdout, self.stderr)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakePytest:
    """A recorder in place of pytest, started with a fixed runner."""
    recorder = FakePytest()
    monkeypatch.setattr(testrun, "runner", lambda root: PREFIX)
    monkeypatch.setattr(testrun, "_execute", recorder)
    return recorder


def test_as_dict_rounds_and_sums_over_tiers() -> None:
    counts = {"unit": {"passed": 3, "failed": 1, "skipped": 0}, "e2e": {"passed": 2, "skipped": 1}}
    run = testrun.TestRun(ran=True, command=["pytest"], exit_code=1, counts=counts, coverage=87.66, seconds=2.34)

    assert run.as_dict() == {
        "ran": True,
        "reason": "",
        "command": ["pytest"],
        "exit_code": 1,
        "counts": counts,
        "total": {"passed": 5, "failed": 1, "skipped": 1},
        "coverage": 87.7,
        "coverage_reason": "",
        "seconds": 2.3,
    }
    assert testrun.TestRun(ran=False, reason="x").as_dict()["coverage"] is None


# --- runner -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tools", "files", "expected"),
    [
        (("uv", "poetry"), {"uv.lock": ""}, UV_RUN),
        (("uv",), {"pyproject.toml": "[tool.uv]\npackage = false\n"}, UV_RUN),
        (("uv", "poetry"), {"poetry.lock": ""}, ["/opt/bin/poetry", "run", "python", "-m", "pytest"]),
        ((), {"uv.lock": "", "poetry.lock": "", ".venv/bin/python": ""}, [".venv/bin/python", "-m", "pytest"]),
        (("poetry",), {"venv/bin/python": ""}, ["venv/bin/python", "-m", "pytest"]),
    ],
    ids=["uv-lock", "tool-uv", "poetry", "dot-venv", "venv"],
)
def test_runner_is_the_projects_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: tuple[str, ...], files: dict[str, str], expected: list[str]
) -> None:
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text, encoding="utf-8")
    installed(monkeypatch, *tools)
    if not expected[0].startswith("/"):
        expected = [str(tmp_path / expected[0]), *expected[1:]]

    assert testrun.runner(tmp_path) == expected


def test_without_a_project_runner_this_interpreter_runs_pytest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed(monkeypatch, "uv")
    (tmp_path / "pyproject.toml").write_bytes(b"\xff\xfe[tool.uv]\n")

    assert testrun.runner(tmp_path) == [sys.executable, "-m", "pytest"]


def test_no_runner_is_not_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(testrun, "runner", lambda root: None)

    assert testrun.run(tmp_path) == testrun.TestRun(ran=False, reason="no Python test runner found")


def test_execute_runs_the_command_in_the_project_with_the_given_environment(tmp_path: Path) -> None:
    script = "import os; print(os.getcwd()); print(os.environ['MARK'])"

    result = testrun._execute([sys.executable, "-c", script], tmp_path, {"MARK": "from-env"})

    assert result.returncode == 0
    assert result.stdout.splitlines() == [str(tmp_path), "from-env"]


# --- run ----------------------------------------------------------------------------------
def test_a_run_reads_tiers_coverage_and_the_output_tail(
    tmp_path: Path, fake: FakePytest, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "src").mkdir()
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "COVERAGE_PROCESS_START"):
        monkeypatch.setenv(name, "/caller")
    fake.returncode = 1
    fake.stdout = "".join(f"line {n}\n" for n in range(1, 21))

    run = testrun.run(tmp_path)

    [(command, root, env)] = fake.calls
    assert (run.ran, run.exit_code, run.counts, run.coverage, run.coverage_reason) == (True, 1, COUNTS, 91.25, "")
    assert run.output_tail.splitlines() == [f"line {n}" for n in range(6, 21)]
    assert run.command == command
    assert command[: len(PREFIX) + 3] == [*PREFIX, "-q", "-p", "no:cacheprovider"]
    assert "--cov=src" in command
    assert root == tmp_path
    assert not {"VIRTUAL_ENV", "PYTHONPATH", "COVERAGE_PROCESS_START"} & set(env)
    assert Path(env["COVERAGE_FILE"]).parent.name.startswith("readiness-tests-")


@pytest.mark.parametrize(
    ("files", "target"),
    [
        ({"src/app.py": ""}, "--cov=src"),
        ({"src/app.py": "", ".coveragerc": "[run]\nsource = app\n"}, "--cov"),
        ({"app.py": ""}, "--cov"),
    ],
    ids=["src", "coveragerc", "flat"],
)
def test_coverage_measures_src_unless_the_project_configures_it(
    tmp_path: Path, fake: FakePytest, files: dict[str, str], target: str
) -> None:
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text, encoding="utf-8")

    testrun.run(tmp_path)

    command = fake.calls[0][0]
    assert [a for a in command if a.startswith("--cov") and not a.startswith("--cov-report")] == [target]


def test_a_project_coverage_config_follows_subprocesses(tmp_path: Path, fake: FakePytest) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.coverage.run]\nsource = ["src"]\n', encoding="utf-8")

    testrun.run(tmp_path)

    command, _, env = fake.calls[0]
    assert "--cov" in command
    assert env["COVERAGE_PROCESS_START"] == str(tmp_path / "pyproject.toml")


def test_without_pytest_cov_the_tests_run_once_more_without_coverage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_cov = FakePytest(junit=None, coverage=None, returncode=4, stderr="error: unrecognized arguments: --cov")
    plain = FakePytest(coverage=None)
    commands: list[list[str]] = []

    def execute(command: list[str], root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        commands.append(command)
        return (without_cov if len(commands) == 1 else plain)(command, root, env)

    monkeypatch.setattr(testrun, "runner", lambda root: PREFIX)
    monkeypatch.setattr(testrun, "_execute", execute)

    run = testrun.run(tmp_path)

    assert len(commands) == 2
    assert "--cov" in commands[0]
    assert not any(a.startswith("--cov") for a in commands[1])
    assert (run.ran, run.command, run.counts) == (True, commands[1], COUNTS)
    assert (run.coverage, run.coverage_reason) == (None, "pytest-cov is not installed")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (subprocess.TimeoutExpired(PREFIX, 3600), "the test run took longer than 3600 s"),
        (OSError(errno.ENOENT, "No such file or directory"), "cannot start /opt/bin/python: No such file or directory"),
    ],
    ids=["timeout", "missing"],
)
def test_a_run_that_cannot_finish_is_not_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakePytest, error: Exception, reason: str
) -> None:
    def fail(command: list[str], root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        raise error

    monkeypatch.setattr(testrun, "_execute", fail)

    assert testrun.run(tmp_path) == testrun.TestRun(ran=False, reason=reason)


@pytest.mark.parametrize(
    ("stdout", "said"),
    [
        ("collected 0 items\nERROR: file or directory not found: tests\n", "ERROR: file or directory not found: tests"),
        ("", "no output"),
    ],
    ids=["error", "silent"],
)
def test_pytest_without_a_junit_report_is_not_a_run(tmp_path: Path, fake: FakePytest, stdout: str, said: str) -> None:
    fake.junit, fake.returncode, fake.stdout = None, 2, stdout

    run = testrun.run(tmp_path)

    assert (run.ran, run.exit_code) == (False, 2)
    assert run.reason == f"pytest exited 2 without a report: {said}"
    assert run.command == fake.calls[0][0]


def test_an_unreadable_junit_report_is_not_a_run(tmp_path: Path, fake: FakePytest) -> None:
    fake.junit = "<testsuites><testcase"

    run = testrun.run(tmp_path)

    assert not run.ran
    assert run.reason.startswith("unreadable JUnit report: ")


@pytest.mark.parametrize(
    "coverage",
    [None, "not json", "{}", '{"totals": {"percent_covered": null}}'],
    ids=["missing", "not-json", "no-totals", "null"],
)
def test_a_missing_or_broken_coverage_report_is_said(tmp_path: Path, fake: FakePytest, coverage: str | None) -> None:
    fake.coverage = coverage

    run = testrun.run(tmp_path)

    assert (run.ran, run.counts) == (True, COUNTS)
    assert (run.coverage, run.coverage_reason) == (None, "pytest wrote no coverage report")


@pytest.mark.parametrize(
    ("classname", "tier"),
    [("tests/e2e/test_smoke.py", "e2e"), ("tests.integration.db.test_x.TestY", "integration"), ("test_top", "other")],
)
def test_tier_comes_from_the_dotted_or_slashed_path(classname: str, tier: str) -> None:
    assert testrun.tier_of(classname) == tier
