"""The template repository itself: README agrees with copier.yml and .ci/run, own code is clean."""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import BIN, ROOT, run

README = (ROOT / "README.md").read_text(encoding="utf-8")
CI_RUN = ROOT / ".ci" / "run"
# The questions a user answers; computed values (`when: false`) are never asked.
QUESTIONS = {
    name: spec
    for name, spec in yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8")).items()
    if not name.startswith("_") and spec.get("when") is not False
}


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1]
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", section, re.DOTALL)
    assert block, "the Quick start section has no code block"
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


def test_quick_start_is_two_commands_and_ci_runs_the_second() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    generate, test = commands
    assert generate == "make project"
    ci_lines = [line.strip() for line in CI_RUN.read_text(encoding="utf-8").splitlines()]
    assert test in ci_lines, f".ci/run does not run the README's test command {test!r}"


def test_make_test_selects_both_tiers() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^test:.*\n\t(.+)$", makefile, re.MULTILINE)
    assert recipe, "no `test` target in the Makefile"
    assert '-m "slow or not slow"' in recipe.group(1)


@pytest.mark.parametrize("question", sorted(QUESTIONS))
def test_every_question_is_documented_with_its_default(question: str) -> None:
    row = re.search(rf"^\| `{question}` \|([^|]*)\|", README, re.MULTILINE)
    assert row, f"README's question table has no row for {question}"
    default = QUESTIONS[question].get("default")
    if isinstance(default, str) and "{{" in default:
        return  # a derived default is described in words
    shown = str(default).lower() if isinstance(default, bool) else str(default)
    assert f"`{shown}`" in row.group(1), f"README shows {row.group(1).strip()!r} as the default of {question}"


def test_ci_run_is_executable_bash() -> None:
    assert os.access(CI_RUN, os.X_OK), ".ci/run is not executable"
    result = subprocess.run(["bash", "-n", str(CI_RUN)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_own_python_is_clean() -> None:
    run([BIN / "ruff", "check", "--no-cache", "--no-fix", "tests", "hooks", "bench"], cwd=ROOT)
    run([BIN / "ruff", "format", "--no-cache", "--check", "tests", "hooks", "bench"], cwd=ROOT)


def test_the_benchmark_report_shows_every_registered_benchmark_and_its_target() -> None:
    """docs/benchmarks.md is written by bench/run.py: a benchmark or target changed since is stale."""
    result = run([sys.executable, "bench/run.py", "--list"], cwd=ROOT)
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    bench = runpy.run_path(str(ROOT / "bench/run.py"), run_name="bench_run")
    assert listed == set(bench["REGISTRY"])
    report = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in report.splitlines() if line.startswith("| ")}
    for item in bench["REGISTRY"].values():
        assert item.title in rows, f"docs/benchmarks.md has no row for {item.name!r}: run `make bench`"
        target = f"≤ {item.format(item.target)}" if item.target is not None else "—"
        assert f" | {target} | " in rows[item.title], f"{item.name}: the report's target is not {target}"


APT_SECURITY = "Types: deb\nURIs: http://security.example.invalid/debian-security\nSuites: bookworm-security\n"
APT_MAIN = "Types: deb deb-src\nURIs: http://main.example.invalid/debian/\nSuites: bookworm\n"
APT_DISABLED = "Enabled: no\nTypes: deb\nURIs: http://off.example.invalid/debian\n"


@pytest.mark.parametrize(
    ("files", "mirror"),
    [
        ({"sources.list.d/debian.sources": APT_SECURITY + "\n" + APT_MAIN}, "http://main.example.invalid/debian"),
        (
            {"sources.list.d/a.sources": APT_DISABLED, "sources.list.d/b.sources": APT_MAIN},
            "http://main.example.invalid/debian",
        ),
        (
            {
                "sources.list": "# deb http://old.example.invalid/debian bookworm main\n"
                "deb-src http://src.example.invalid/debian bookworm main\n"
                "deb [arch=amd64 signed-by=/k.gpg] http://one.example.invalid/debian bookworm main\n"
            },
            "http://one.example.invalid/debian",
        ),
        ({"sources.list.d/other.list": "deb https://other.example.invalid/apt stable main\n"}, None),
        ({}, None),
    ],
)
def test_docker_sh_reads_the_debian_mirror_from_apt(files: dict[str, str], mirror: str | None, tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "PRODREADY_DEBIAN_MIRROR"}
    result = subprocess.run(
        ["bash", "-c", 'source "$1" && debian_mirror "$2"', "bash", ROOT / ".ci" / "docker.sh", tmp_path],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if mirror is None:
        assert result.returncode != 0
        assert "no Debian archive in the machine's apt sources" in result.stderr
        assert "PRODREADY_DEBIAN_MIRROR" in result.stderr
    else:
        assert (result.returncode, result.stdout) == (0, mirror + "\n"), result.stderr


def test_the_repository_s_own_workflows_pass_actionlint_and_zizmor() -> None:
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert {path.name for path in workflows} >= {"ci.yml", "release.yml"}
    lint = subprocess.run(
        [str(BIN / "actionlint"), "-shellcheck", str(BIN / "shellcheck"), *map(str, workflows)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    audit = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--min-severity", "medium", *map(str, workflows)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_the_release_workflow_publishes_only_after_ci_and_checks_the_version() -> None:
    release = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    publish = release["jobs"]["publish"]
    assert publish["needs"] == "ci"
    assert release["jobs"]["ci"]["uses"] == "./.github/workflows/ci.yml"
    steps = [step.get("run", "") for step in publish["steps"]]
    assert any('test "v$(uv version --short)" = "$TAG"' in step for step in steps)
    assert steps.index("uv build") < steps.index("uv publish --trusted-publishing always")
