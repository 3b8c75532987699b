"""Project tier (slow): a rendered project installs and passes its own checks.

Runs the generated project's own entry points, exactly as its README tells a developer:
``make setup`` (uv sync, keys), then ``make lint typecheck test`` against the real PostgreSQL
and Redis named by TEST_DATABASE_URL / TEST_REDIS_URL, and the MLflow servers named by
TEST_MLFLOW_URL / TEST_MLFLOW_AUTH_URL (the project's documented defaults on 127.0.0.1 when
unset). Nothing here skips: an unreachable server fails the project's tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from helpers import copy_project, example_answers, prodready, project_env, run, states
from test_answers import validator_message

# Prints the top-level import names of every distribution installed in the project's environment.
TOP_LEVEL_NAMES = """
import importlib.metadata as metadata
names = set()
for dist in metadata.distributions():
    names.update((dist.read_text("top_level.txt") or "").split())
    for file in dist.files or []:
        if len(file.parts) > 1 and not file.parts[0].endswith((".dist-info", ".data")):
            names.add(file.parts[0])
        elif file.suffix == ".py":
            names.add(file.stem)
print(" ".join(sorted(name for name in names if name.isidentifier() and name.islower() and name[0] != "_")))
"""

# The defaults plus model serving: every default answer, and the MLflow predictions slice tested
# against the real MLflow server .ci/run starts (TEST_MLFLOW_URL), without a third project run
# (CI's time is bounded). `model_serving=none` is still run in full by the second project (its
# default), and the render tier lints the default answers' own files, so neither variant goes
# untested; the code model_serving adds is switched by file names and `if` blocks that leave the
# default's files as they were.
# The first project runs its suite through the readiness report (`prodready check --run-tests`
# runs the same pytest, coverage gate included, and also starts the service), the second through
# `make test`; the reliability scenarios (bursts, SIGTERM under load, outages of PostgreSQL,
# Redis and the registry) run where the servers are.
PROJECTS = [
    pytest.param({"model_serving": "mlflow"}, ("lint", "typecheck", "test-reliability"), id="defaults-mlflow"),
    pytest.param(
        {"use_postgres": False, "use_redis": False, "python_version": "3.11"},
        ("lint", "typecheck", "test"),
        id="no-servers-py3.11",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("answers", "targets"), PROJECTS)
def test_generated_project_passes_its_own_checks(
    answers: dict[str, Any], targets: tuple[str, ...], tmp_path: Path
) -> None:
    project = copy_project(tmp_path / "project", **answers)
    env = project_env(NO_COLOR="1")
    run(["make", "setup"], cwd=project, env=env)
    installed = run([project / ".venv" / "bin" / "python", "-c", TOP_LEVEL_NAMES], cwd=project, env=env).stdout.split()
    package = {**example_answers(), **answers}["package_name"]
    shadowing = [name for name in installed if name != package and not validator_message("package_name", name)]
    assert not shadowing, f"package names that would shadow an installed module but are accepted: {shadowing}"
    # The static report right after setup: what a developer sees first has no failure.
    report = json.loads(prodready(project, "check", "--json", env=env).stdout)
    failing = states(report, "fail")
    assert not failing, failing
    result = run(["make", *targets], cwd=project, env=env, timeout=1200)
    output = result.stdout + result.stderr
    passed = re.search(r"(\d+) passed", output)
    assert passed, f"no passed tests in the output:\n{output[-5000:]}"
    assert int(passed.group(1)) > 0
    if "test" in targets:
        # `make test` already fails on "no tests ran" (pytest exit 5) and on the coverage gate;
        # this makes sure the suite really ran something and reported coverage.
        assert re.search(r"^TOTAL\s", output, re.MULTILINE), "no coverage report in the output"
    else:
        assert_scores_at_least_95_with_its_tests(project, env)


def assert_scores_at_least_95_with_its_tests(project: Path, env: dict[str, str]) -> None:
    """The full readiness report: every tier passes, coverage meets the gate, the service starts."""
    result = prodready(project, "check", "--run-tests", "--json", "--min-score", "95", env=env)
    document = json.loads(result.stdout)
    assert result.returncode == 0, (states(document, "fail"), document["tests"])
    assert document["score"] >= 95
    passed = states(document, "pass")
    assert {"tests.pass", "tests.coverage", "tests.tiers_run", "tests.service_starts", "deps.installed"} <= set(passed)
    assert "GET /health/live answered 200" in passed["tests.service_starts"]
    assert document["cap"] is None
    counts = document["tests"]["counts"]
    assert all(counts[tier]["passed"] > 0 for tier in ("unit", "integration", "e2e")), counts
    assert document["tests"]["coverage"] >= example_answers()["coverage_threshold"]


@pytest.mark.slow
def test_make_setup_installs_uv_on_a_machine_with_only_python_git_and_make(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    home = tmp_path / "home"
    home.mkdir()
    # The system's own programs and the project's Python (uv never downloads one here), no uv
    # anywhere on PATH, and a user site in the scratch HOME.
    interpreter = shutil.which(f"python{example_answers()['python_version']}")
    assert interpreter, "the generated project's Python must be installed"
    path = os.pathsep.join(["/usr/local/bin", "/usr/bin", "/bin", str(Path(interpreter).parent)])
    env = project_env(HOME=str(home), PATH=path)
    env.pop("PRODREADY_SOURCE", None)
    assert shutil.which("uv", path=env["PATH"]) is None, "this test needs a PATH without uv"

    result = run(["make", "setup"], cwd=project, env=env, timeout=900)

    assert "uv not found: installing it for this user" in result.stdout
    assert (home / ".local" / "bin" / "uv").is_file()
    assert (project / ".venv").is_dir()
    assert (project / "uv.lock").is_file()
