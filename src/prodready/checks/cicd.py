"""CI/CD checks: a pipeline that runs tests, scanners and dependency checks, pinned and locked down.

What CI runs is read from its files with the ``make`` targets they call expanded, so a job
that runs ``make test`` counts as running pytest when the Makefile's ``test`` recipe does.
"""

from __future__ import annotations

import re
from typing import Any

from ..report import Finding
from .base import (
    SCANNERS,
    Context,
    Project,
    check,
    ci_files,
    expand_make,
    failed,
    image_pinned,
    load_mapping,
    makefile_targets,
    not_run,
    passed,
    short_list,
)

_CI_JOBS = {
    "tests": re.compile(r"\bpytest\b|\btox\b|\bnox\b|make\s+test\b"),
    "security scan": SCANNERS,
    "dependency check": re.compile(
        r"pip check|uv pip check|uv lock --check|--locked|deps check|deps-check"
        r"|pip-compile|poetry check|uv sync --frozen"
    ),
}

_SHA = re.compile(r"^[0-9a-f]{40}$")


def _ci_text(project: Project) -> str:
    return expand_make("\n".join(project.text(f) for f in ci_files(project)), project)


@check("ci.present", "ci_cd", 3, "CI pipeline defined")
def _ci_present(context: Context) -> Finding:
    files = ci_files(context.project)
    if files:
        return passed(f"CI: {short_list(files)}")
    return failed(
        "no CI configuration: nothing checks a change before it merges",
        "add .github/workflows/ci.yml (or .gitlab-ci.yml)",
    )


@check("ci.jobs", "ci_cd", 3, "CI runs tests, security scans and dependency checks")
def _ci_jobs(context: Context) -> Finding:
    project = context.project
    if not ci_files(project):
        return not_run("no CI configuration")
    text = _ci_text(project)
    missing = [job for job, pattern in _CI_JOBS.items() if not pattern.search(text)]
    if missing:
        return failed(
            f"CI does not run: {', '.join(missing)}",
            "add jobs calling make test, a scanner (pip-audit) and make deps-check",
        )
    return passed(f"CI runs {', '.join(_CI_JOBS)}")


def _github_workflows(project: Project) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in project.under(".github/workflows"):
        if path.endswith((".yml", ".yaml")):
            data = load_mapping(path, project.text(path))
            found[path] = data if isinstance(data, dict) else {}
    return found


def _jobs(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    jobs = workflow.get("jobs")
    return {k: v for k, v in jobs.items() if isinstance(v, dict)} if isinstance(jobs, dict) else {}


def _gitlab_images(data: Any) -> list[str]:
    images: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "image":
                images.append(value.get("name", "") if isinstance(value, dict) else str(value))
            elif key == "services" and isinstance(value, list):
                images += [s.get("name", "") if isinstance(s, dict) else str(s) for s in value]
            else:
                images += _gitlab_images(value)
    elif isinstance(data, list):
        for item in data:
            images += _gitlab_images(item)
    return images


@check("ci.pinned", "ci_cd", 2, "CI actions and images pinned", gate=True)
def _ci_pinned(context: Context) -> Finding:
    project = context.project
    workflows = _github_workflows(project)
    gitlab = [f for f in ci_files(project) if f.startswith(".gitlab")]
    if not workflows and not gitlab:
        return not_run("no GitHub Actions or GitLab CI configuration")
    loose: list[str] = []
    for path, workflow in workflows.items():
        for name, job in _jobs(workflow).items():
            uses = [job.get("uses", "")] + [s.get("uses", "") for s in job.get("steps") or [] if isinstance(s, dict)]
            for ref in filter(None, uses):
                pinned = ref.startswith("./") or (ref.startswith("docker://") and "@sha256:" in ref)
                pinned = pinned or ("@" in ref and _SHA.match(ref.rsplit("@", 1)[1]) is not None)
                if not pinned:
                    loose.append(f"{path} {name}: {ref}")
            container = job.get("container")
            images = [container.get("image", "") if isinstance(container, dict) else container or ""]
            services = job.get("services")
            if isinstance(services, dict):
                images += [s.get("image", "") for s in services.values() if isinstance(s, dict)]
            loose += [f"{path} {name}: {image}" for image in images if image and not image_pinned(str(image))]
    for path in gitlab:
        data = load_mapping(path, project.text(path))
        loose += [f"{path}: {image or '(no tag)'}" for image in _gitlab_images(data) if not image_pinned(image)]
    if loose:
        return failed(
            f"not pinned: {short_list(loose, 3)}",
            "pin actions to a commit SHA (# vX.Y comment) and images to a version tag",
        )
    return passed("every action pinned by commit SHA and every image by tag or digest")


@check("ci.hardening", "ci_cd", 2, "CI permissions, timeouts and credentials locked down", gate=True)
def _ci_hardening(context: Context) -> Finding:
    project = context.project
    workflows = _github_workflows(project)
    if not workflows:
        return not_run("no GitHub Actions workflows (GitLab's job token has no per-job permissions to check)")
    problems: list[str] = []
    for path, workflow in workflows.items():
        permissions = workflow.get("permissions")
        if permissions is None:
            problems.append(f"{path}: no top-level permissions")
        elif permissions == "write-all":
            problems.append(f"{path}: permissions write-all")
        for name, job in _jobs(workflow).items():
            if "uses" not in job and "timeout-minutes" not in job:
                problems.append(f"{path} {name}: no timeout-minutes")
            for step in job.get("steps") or []:
                checkout = isinstance(step, dict) and str(step.get("uses", "")).startswith("actions/checkout@")
                if checkout and str((step.get("with") or {}).get("persist-credentials", "")).lower() != "false":
                    problems.append(f"{path} {name}: checkout keeps credentials")
    if problems:
        return failed(
            short_list(problems, 3),
            "set permissions: {} at the top, timeout-minutes per job, persist-credentials: false",
        )
    counted = f"{len(workflows)} workflow" + ("s" if len(workflows) != 1 else "")
    return passed(f"{counted}: least-privilege permissions, timeouts, no persisted credentials")


@check("ci.readiness", "ci_cd", 1, "CI runs this readiness report")
def _ci_readiness(context: Context) -> Finding:
    project = context.project
    if not ci_files(project):
        return not_run("no CI configuration")
    if re.search(r"\breadiness\b", _ci_text(project)):
        return passed("CI runs the readiness report")
    return failed(
        "CI does not score readiness", "add a job running make readiness (its --markdown goes to the job summary)"
    )


@check("ci.update_automation", "ci_cd", 1, "dependency updates automated (Dependabot, Renovate)")
def _ci_update_automation(context: Context) -> Finding:
    project = context.project
    candidates = (
        ".github/dependabot.yml",
        ".github/dependabot.yaml",
        "renovate.json",
        "renovate.json5",
        ".renovaterc",
        ".renovaterc.json",
        ".github/renovate.json",
        ".gitlab/renovate.json",
    )
    found = [f for f in candidates if project.exists(f)]
    if found:
        return passed(f"configured in {', '.join(found)}", found[0])
    return failed("no Dependabot or Renovate configuration", "add .github/dependabot.yml (or renovate.json)")


@check("ci.precommit", "ci_cd", 1, "pre-commit hooks configured")
def _ci_precommit(context: Context) -> Finding:
    if context.project.exists(".pre-commit-config.yaml"):
        return passed(".pre-commit-config.yaml", ".pre-commit-config.yaml")
    return failed(
        "no pre-commit configuration", "add .pre-commit-config.yaml (ruff, gitleaks) and run pre-commit install"
    )


@check("ci.task_runner", "ci_cd", 1, "one local command per task (Makefile, nox, tox)")
def _ci_task_runner(context: Context) -> Finding:
    project = context.project
    targets = makefile_targets(project)
    if "test" in targets and ("lint" in targets or "check" in targets):
        return passed(f"Makefile with {len(targets)} targets", "Makefile")
    runners = [f for f in ("noxfile.py", "tox.ini", "justfile", "Taskfile.yml") if project.exists(f)]
    if runners:
        return passed(f"task runner: {', '.join(runners)}")
    return failed("no Makefile (test, lint) or other task runner", "add a Makefile with setup, test and lint targets")
