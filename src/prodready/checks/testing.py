"""Test checks: enough tests, the three tiers, a coverage gate; with ``--run-tests``, the run and the service."""

from __future__ import annotations

import configparser
import contextlib
import re

from .. import service, testrun
from ..report import Finding
from .base import (
    Context,
    Project,
    check,
    ci_files,
    failed,
    is_test_file,
    load_mapping,
    makefile_targets,
    not_run,
    passed,
    short_list,
)

TIERS = testrun.TIERS

# Below 80 % a coverage gate lets most of the code go untested; 85 % is a common target.
MIN_COVERAGE = 80

# At least this many test files, and one per this many source modules.
MIN_TEST_FILES = 5

MODULES_PER_TEST_FILE = 5


def test_files(project: Project) -> list[str]:
    """Every pytest test module of the repository."""
    return [f for f in project.files if is_test_file(f.rsplit("/", 1)[-1])]


def _tests_root(project: Project) -> str | None:
    for name in ("tests", "test"):
        if (project.root / name).is_dir():
            return name
    return None


@check("tests.present", "tests", 3, "enough test files for the code")
def _tests_present(context: Context) -> Finding:
    project = context.project
    tests = test_files(project)
    modules = [f for f in project.source_files() if not f.endswith("__init__.py")]
    needed = max(MIN_TEST_FILES, -(-len(modules) // MODULES_PER_TEST_FILE))
    message = f"{len(tests)} test files for {len(modules)} source modules"
    if len(tests) >= needed:
        return passed(message)
    return failed(f"{message}; at least {needed} expected", "add tests, starting with the API and the services")


@check("tests.tiers", "tests", 3, "unit, integration and e2e tiers, every folder holding tests", gate=True)
def _tests_tiers(context: Context) -> Finding:
    project = context.project
    root = _tests_root(project)
    if root is None:
        return failed("no tests/ folder", "create tests/unit, tests/integration and tests/e2e")
    problems: list[str] = []
    counts: dict[str, int] = {}
    for tier in TIERS:
        folder = project.root / root / tier
        if not folder.is_dir():
            problems.append(f"{root}/{tier}/ is missing")
            continue
        files = [f for f in project.under(f"{root}/{tier}") if is_test_file(f.rsplit("/", 1)[-1])]
        counts[tier] = len(files)
        for sub in sorted(p for p in folder.rglob("*") if p.is_dir()):
            relative = sub.relative_to(project.root).as_posix()
            if sub.name.startswith((".", "_")) or sub.name in ("fixtures", "data", "snapshots", "cassettes"):
                continue
            if not any(f.startswith(relative + "/") for f in files):
                problems.append(f"{relative}/ has no test file")
        if not files:
            problems.append(f"{root}/{tier}/ has no test file")
    if problems:
        return failed(short_list(problems), "add a test module (test_*.py) to each listed folder", root)
    return passed(", ".join(f"{tier}: {n} files" for tier, n in counts.items()), root)


def _pytest_configured(project: Project) -> str | None:
    if project.toml("pyproject.toml").get("tool", {}).get("pytest"):
        return "pyproject.toml"
    if project.exists("pytest.ini"):
        return "pytest.ini"
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        if re.search(rf"^\[{re.escape(section)}\]", project.text(name), re.MULTILINE):
            return name
    return None


@check("tests.config", "tests", 1, "pytest configured")
def _tests_config(context: Context) -> Finding:
    where = _pytest_configured(context.project)
    if where:
        return passed(f"pytest settings in {where}", where)
    return failed("no pytest configuration", "add [tool.pytest.ini_options] to pyproject.toml (testpaths, markers)")


def coverage_gate(project: Project) -> tuple[float | None, str]:
    """Return the coverage threshold the project enforces and where it is set."""
    report = project.toml("pyproject.toml").get("tool", {}).get("coverage", {}).get("report", {})
    if isinstance(report, dict) and "fail_under" in report:
        return float(report["fail_under"]), "pyproject.toml"
    for name, section in ((".coveragerc", "report"), ("setup.cfg", "coverage:report"), ("tox.ini", "coverage:report")):
        parser = configparser.ConfigParser()
        with contextlib.suppress(configparser.Error):
            parser.read_string(project.text(name))
            if parser.has_option(section, "fail_under"):
                return float(parser.get(section, "fail_under")), name
    for name in ["pyproject.toml", "pytest.ini", "setup.cfg", "tox.ini", "Makefile", *ci_files(project)]:
        match = re.search(r"--cov-fail-under[= ](\d+(?:\.\d+)?)", project.text(name))
        if match:
            return float(match.group(1)), name
    return None, ""


@check("tests.coverage_gate", "tests", 2, f"coverage gate of at least {MIN_COVERAGE}%")
def _tests_coverage_gate(context: Context) -> Finding:
    threshold, where = coverage_gate(context.project)
    fix = f"set [tool.coverage.report] fail_under = {MIN_COVERAGE} (or more) in pyproject.toml"
    if threshold is None:
        return failed("no coverage threshold: coverage can fall unnoticed", fix)
    if threshold < MIN_COVERAGE:
        return failed(f"the coverage gate is {threshold:g}%", fix, where)
    return passed(f"coverage must stay at or above {threshold:g}%", where)


@check("tests.pass", "tests", 6, "the test suite passes", needs="--run-tests")
def _tests_pass(context: Context) -> Finding:
    run = context.test_run()
    if not run.ran:
        return failed(f"the tests did not run: {run.reason}", "make the suite runnable: pytest must start and collect")
    total = run.total
    summary = f"{total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped in {run.seconds:.0f} s"
    if total["failed"]:
        return failed(summary, "fix the failing tests (pytest -x --lf)")
    if not total["passed"]:
        return failed(f"no test passed ({summary})", "add tests that run")
    return passed(summary)


@check(
    "tests.coverage", "tests", 5, f"coverage at least {MIN_COVERAGE}% and the project's own gate", needs="--run-tests"
)
def _tests_coverage(context: Context) -> Finding:
    run = context.test_run()
    if not run.ran:
        return not_run(f"no test run: {run.reason}")
    if run.coverage is None:
        return not_run(f"coverage not measured: {run.coverage_reason}", "add pytest-cov to the dev dependencies")
    gate, _ = coverage_gate(context.project)
    needed = max(MIN_COVERAGE, gate or 0)
    message = f"{run.coverage:.1f}% covered (needed: {needed:g}%)"
    if run.coverage >= needed:
        return passed(message)
    return failed(message, "test the uncovered lines first (coverage report --show-missing)")


@check("tests.tiers_run", "tests", 2, "every tier ran tests", needs="--run-tests")
def _tests_tiers_run(context: Context) -> Finding:
    run = context.test_run()
    if not run.ran:
        return not_run(f"no test run: {run.reason}")
    ran = {tier: counts.get("passed", 0) + counts.get("failed", 0) for tier, counts in run.counts.items()}
    summary = ", ".join(f"{tier}: {ran.get(tier, 0)}" for tier in TIERS)
    missing = [tier for tier in TIERS if not ran.get(tier)]
    if missing:
        return failed(f"no test ran in {', '.join(missing)} ({summary})", "add tests to that tier; none may be skipped")
    return passed(f"tests ran per tier: {summary}")


# Below a B: a service that does not start is not ready, whatever its files say.
SERVICE_CAP = 74


@check(
    "tests.service_starts",
    "tests",
    4,
    "the service starts under uvicorn and answers its health or OpenAPI URL",
    needs="--run-tests",
    cap=SERVICE_CAP,
)
def _tests_service_starts(context: Context) -> Finding:
    project = context.project
    texts = {name: project.text(name) for name in ("Makefile", "Procfile", "Dockerfile")}
    texts.update({name: project.text(name) for name in service.discovery_candidates(project.files)})
    try:
        recipes = {name: recipe for name, (_, recipe) in makefile_targets(project).items()}
        answers = load_mapping(service.ANSWERS_FILE, project.text(service.ANSWERS_FILE))
        app = service.find_app(
            project.root,
            context.app,
            project.toml("pyproject.toml"),
            answers if isinstance(answers, dict) else {},
            texts,
            recipes,
        )
    except service.AppPathError as exc:
        return failed(str(exc), "name the app as package.module:attribute", "pyproject.toml")
    if app is None:
        return not_run(
            "no ASGI app found (no uvicorn command in the Makefile, Procfile or Dockerfile, no FastAPI() in a main.py)",
            'name it: [tool.prodready] app = "package.module:app" in pyproject.toml, or --app',
        )
    started = service.start(project.root, app)
    message = f"{app.describe()}: {started.detail}"
    if started.state == "pass":
        return passed(message)
    if started.state == "not run":
        return not_run(message, "install the project's environment (uv sync, or a .venv with its requirements)")
    return failed(
        message,
        f"make the development service start (uvicorn {app.path}{' --factory' if app.factory else ''}); "
        f"until it does, the score stays at or below {SERVICE_CAP}",
    )
