"""Project tier (slow): a rendered project installs and passes its own checks.

Runs the generated project's own entry points, exactly as its README tells a developer:
``make setup`` (uv sync, keys), then ``make lint typecheck test`` against the real PostgreSQL
and Redis named by TEST_DATABASE_URL / TEST_REDIS_URL (the project's documented defaults on
127.0.0.1 when unset). Nothing here skips: an unreachable server fails the project's tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from helpers import copy_project, project_env, run

PROJECTS = [
    pytest.param({}, id="defaults"),
    pytest.param({"use_postgres": False, "use_redis": False, "python_version": "3.11"}, id="no-servers-py3.11"),
]


@pytest.mark.slow
@pytest.mark.parametrize("answers", PROJECTS)
def test_generated_project_passes_its_own_checks(answers: dict[str, Any], tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project", **answers)
    env = project_env()
    run(["make", "setup"], cwd=project, env=env)
    result = run(["make", "lint", "typecheck", "test", "test-reliability"], cwd=project, env=env, timeout=1200)
    output = result.stdout + result.stderr
    # `make test` already fails on "no tests ran" (pytest exit 5) and on the coverage gate;
    # this makes sure the suite really ran something and reported coverage.
    passed = re.search(r"(\d+) passed", output)
    assert passed, f"no passed tests in the output:\n{output[-5000:]}"
    assert int(passed.group(1)) > 0
    assert re.search(r"^TOTAL\s", output, re.MULTILINE), "no coverage report in the output"
