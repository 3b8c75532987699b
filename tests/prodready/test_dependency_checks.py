"""Dependency checks on small repositories in tmp_path: parsing, locks, conflicts, and the uv and Poetry paths."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from scratch import CHECKS_BY_ID, installed, outcome, write

from prodready import deps
from prodready.checks import Context, Project, dependencies, evaluate
from prodready.checks.dependencies import Requirement
from prodready.report import Report

UV_PROJECT = {"pyproject.toml": '[project]\nname = "x"\nversion = "0"\ndependencies = []\n', "uv.lock": "version = 1\n"}


# --- parsing ------------------------------------------------------------------------------
def test_requirement_lines_lose_hashes_comments_and_extras() -> None:
    hashed = dependencies.parse_requirement("pandas==2.1.4 --hash=sha256:ab --hash=sha256:cd", "r.txt")
    marked = dependencies.parse_requirement(
        "Great_Expectations[spark]>=1.0,<2 ; python_version >= '3.11'  # the pandas pin", "r.txt"
    )

    assert hashed == Requirement("pandas", (("==", "2.1.4"),), "", "r.txt")
    assert marked == Requirement("great-expectations", ((">=", "1.0"), ("<", "2")), "python_version >= '3.11'", "r.txt")


def test_a_version_in_parentheses_loses_the_closing_parenthesis() -> None:
    wildcard = dependencies.parse_requirement("foo (==1.*)", "r.txt")
    ranged = dependencies.parse_requirement("bar (>=1.0,<2)", "r.txt")

    assert wildcard == Requirement("foo", (("==", "1.*"),), "", "r.txt")
    assert ranged == Requirement("bar", ((">=", "1.0"), ("<", "2")), "", "r.txt")


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "# a comment",
        "-r base.txt",
        "--index-url file:///srv/simple",
        "./pkg",
        # Links pip installs without a name: not packages called "https", "git" or "file".
        "https://example.com/wheels/pkg-1.0-py3-none-any.whl",
        "git+https://github.com/org/pkg.git@v1.0#egg=pkg",
        "file:///srv/wheels/pkg-1.0.tar.gz",
    ],
)
def test_options_comments_links_and_local_paths_are_not_requirements(line: str) -> None:
    assert dependencies.parse_requirement(line, "r.txt") is None


def test_a_named_link_keeps_its_name() -> None:
    found = dependencies.parse_requirement("pkg @ https://example.com/pkg-1.0.tar.gz", "r.txt")

    assert found == Requirement("pkg", (), "", "r.txt")


def test_every_pyproject_table_and_requirements_file_is_read(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "requirements.txt": "# pinned for the seed\n-r base.txt\nrich==13.7.0\n",
            "pyproject.toml": """\
                [project]
                name = "x"
                dependencies = ["fastapi>=0.115"]
                [project.optional-dependencies]
                data = ["pandas==2.1.4"]
                broken = "not a list"
                [dependency-groups]
                dev = ["pytest>=8", {include-group = "lint"}]
                lint = ["ruff==0.8.0"]
                [tool.poetry.dependencies]
                python = "^3.11"
                numpy = "1.26.4"
                scipy = "^1.11"
                attrs = {version = "==23.2.0", optional = true}
                httpx = {git = "https://github.com/encode/httpx"}
            """,
        },
    )

    found = dependencies.declared_requirements(Project(root))

    assert [(r.name, r.specifiers, r.source) for r in found] == [
        ("rich", (("==", "13.7.0"),), "requirements.txt"),
        ("fastapi", ((">=", "0.115"),), "pyproject.toml [project]"),
        ("pandas", (("==", "2.1.4"),), "pyproject.toml [optional: data]"),
        ("pytest", ((">=", "8"),), "pyproject.toml [group: dev]"),
        ("ruff", (("==", "0.8.0"),), "pyproject.toml [group: lint]"),
        ("numpy", (("==", "1.26.4"),), "pyproject.toml"),
        ("attrs", (("==", "23.2.0"),), "pyproject.toml"),
    ]


def test_lock_files_give_every_locked_version(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "uv.lock": """\
                version = 1
                [[package]]
                name = "NumPy"
                version = "1.26.4"
                [[package]]
                name = "numpy"
                version = "2.0.0"
                [[package]]
                name = "workspace-member"
                source = { editable = "." }
            """,
            "poetry.lock": '[[package]]\nname = "rich"\nversion = "13.7.0"\n',
            "pdm.lock": "[metadata]\nlock_version = '4.4'\n",
        },
    )

    assert dependencies.locked_versions(Project(root)) == {
        "uv.lock": {"numpy": {"1.26.4", "2.0.0"}},
        "poetry.lock": {"rich": {"13.7.0"}},
    }


# --- conflicts ----------------------------------------------------------------------------
def test_a_lock_that_disagrees_with_a_pin_is_one_conflict(tmp_path: Path) -> None:
    lock = '[[package]]\nname = "pandas"\nversion = "2.2.0"\n'
    root = write(tmp_path, {"requirements.txt": "pandas==2.1.4\n", "uv.lock": lock})

    found = outcome(root, "deps.conflicts")

    assert found.status == "fail"
    assert found.message == "1 conflict(s): pandas ==2.1.4 (requirements.txt) vs ==2.2.0 (uv.lock)"


def test_versions_forked_in_a_lock_pin_nothing(tmp_path: Path) -> None:
    lock = """\
        [[package]]
        name = "numpy"
        version = "1.26.4"
        [[package]]
        name = "numpy"
        version = "2.0.0"
        [[package]]
        name = "rich"
        version = "13.7.0"
        [[package]]
        name = "idna"
        version = "3.10"
    """
    root = write(tmp_path, {"requirements.txt": "numpy==2.0.0\nrich>=13\n", "uv.lock": lock})

    found = outcome(root, "deps.conflicts")

    assert found.status == "pass", found
    assert found.message.startswith("2 requirements in requirements.txt, uv.lock: no two files pin disagreeing")


def test_arbitrary_equality_compares_strings_and_wildcards_exclude() -> None:
    assert dependencies.satisfies("1.0", "===", "1.0")
    assert not dependencies.satisfies("1.0.0", "===", "1.0")
    assert dependencies.satisfies("2.2.0", "!=", "2.1.*")
    assert not dependencies.satisfies("2.1.7", "!=", "2.1.*")


# --- manifest -----------------------------------------------------------------------------
def test_manifest_counts_project_dependencies(tmp_path: Path) -> None:
    root = write(tmp_path, {"pyproject.toml": '[project]\nname = "x"\ndependencies = ["fastapi", "pyyaml"]\n'})

    found = outcome(root, "deps.manifest")

    assert (found.status, found.message, found.where) == (
        "pass",
        "pyproject.toml declares 2 dependencies",
        "pyproject.toml",
    )


def test_manifest_accepts_poetry_dependencies(tmp_path: Path) -> None:
    root = write(tmp_path, {"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.11"\n'})

    found = outcome(root, "deps.manifest")

    assert (found.status, found.message) == ("pass", "pyproject.toml declares Poetry dependencies")


# --- uv: deps check -----------------------------------------------------------------------
def test_deps_check_runs_once_inside_the_project_for_every_uv_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write(tmp_path, {**UV_PROJECT, "requirements/production.txt": "pyyaml==6.0.2\n"})
    installed(monkeypatch, "uv")
    monkeypatch.setattr(Project, "environment", lambda self: self.root / ".venv")
    calls: list[Path] = []

    def fake_check() -> tuple[Report, list[dict[str, str]]]:
        calls.append(Path.cwd())
        report = Report("deps check")
        report.add("lock", "pass", "uv.lock matches pyproject.toml")
        report.add("requirements", "fail", "requirements/production.txt does not match uv.lock", fix="make lock")
        report.add("conflicts", "fail", "fastapi 0.115.0 requires starlette<0.42", fix="make lock && uv sync")
        return report, []

    monkeypatch.setattr(deps, "check", fake_check)
    context = Context(Project(root))

    lock, export, conflicts = (
        evaluate(CHECKS_BY_ID[c], context) for c in ("deps.lock_fresh", "deps.export", "deps.installed")
    )

    assert calls == [root.resolve()]
    assert (lock.check, lock.status, lock.where) == ("deps.lock_fresh", "pass", "uv.lock")
    assert (export.status, export.where) == ("fail", "requirements/production.txt")
    assert "does not match uv.lock" in export.message
    assert (conflicts.status, conflicts.message) == ("fail", "fastapi 0.115.0 requires starlette<0.42")


def test_a_uv_workspace_root_without_a_project_table_is_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write(
        tmp_path,
        {
            "pyproject.toml": '[tool.uv.workspace]\nmembers = ["packages/*"]\n',
            "uv.lock": "",
            "requirements/production.txt": "",
        },
    )
    installed(monkeypatch, "uv")

    def no_project() -> tuple[Report, list[dict[str, str]]]:
        raise KeyError("project")

    monkeypatch.setattr(deps, "check", no_project)

    for check_id in ("deps.lock_fresh", "deps.export"):
        found = outcome(root, check_id)
        assert found.status == "not run", check_id
        # uv is there: the message says what did stop the check.
        assert found.message.startswith("deps check could not run"), found.message


def test_uv_checks_are_not_run_without_uv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write(tmp_path, {**UV_PROJECT, "requirements/production.txt": "pyyaml==6.0.2\n"})
    installed(monkeypatch)

    for check_id in ("deps.lock_fresh", "deps.export"):
        found = outcome(root, check_id)
        assert (found.status, found.message) == ("not run", "uv is not installed"), check_id
        assert "docs.astral.sh/uv" in found.fix


def test_export_is_not_run_until_requirements_are_exported(tmp_path: Path) -> None:
    found = outcome(write(tmp_path, UV_PROJECT), "deps.export")

    assert (found.status, found.message, found.fix) == (
        "not run",
        "no exported requirements/production.txt",
        "make lock",
    )


def test_without_uv_or_pip_the_environment_is_not_inspected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write(tmp_path, {"requirements.txt": "pyyaml\n", ".venv/pyvenv.cfg": "home = /usr/bin\n"})
    installed(monkeypatch)

    found = outcome(root, "deps.installed")

    assert (found.status, found.message) == ("not run", "neither uv nor pip can inspect .venv")


def test_pip_check_that_cannot_start_is_not_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write(tmp_path, {"requirements.txt": "pyyaml\n", ".venv/pyvenv.cfg": "", ".venv/bin/pip": ""})
    installed(monkeypatch)
    commands: list[list[str]] = []

    def cannot_start(args: list[str], cwd: Path) -> None:
        commands.append(args)

    monkeypatch.setattr(dependencies, "run_command", cannot_start)

    found = outcome(root, "deps.installed")

    assert (found.status, found.message) == ("not run", "pip check could not be started")
    assert commands[0][1:] == ["-m", "pip", "check"]


# --- Poetry -------------------------------------------------------------------------------
def test_poetry_lock_is_not_run_without_poetry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed(monkeypatch)

    found = outcome(write(tmp_path, {"poetry.lock": ""}), "deps.lock_fresh")

    assert (found.status, found.message) == ("not run", "poetry is not installed")


@pytest.mark.parametrize(
    ("code", "stderr", "status", "message"),
    [
        (0, "", "pass", "poetry.lock matches pyproject.toml"),
        (
            1,
            "Error: pyproject.toml changed significantly since poetry.lock was last generated.",
            "fail",
            "poetry.lock is stale: Error: pyproject.toml changed significantly since poetry.lock was last generated.",
        ),
    ],
)
def test_poetry_decides_whether_its_lock_is_fresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, stderr: str, status: str, message: str
) -> None:
    root = write(tmp_path, {"poetry.lock": ""})
    installed(monkeypatch, "poetry")
    commands: list[tuple[list[str], Path]] = []

    def poetry(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        commands.append((args, cwd))
        return subprocess.CompletedProcess(args, code, "", stderr)

    monkeypatch.setattr(dependencies, "run_command", poetry)

    found = outcome(root, "deps.lock_fresh")

    assert commands == [(["/opt/bin/poetry", "check", "--lock"], root)]
    assert (found.status, found.message, found.where) == (status, message, "poetry.lock")
