"""Container checks: non-root, pinned base, HEALTHCHECK, multi-stage, no secrets in layers .

Every Dockerfile of the repository is parsed (continuation lines joined, global ``ARG``
defaults substituted into ``FROM``); each check names the file that fails it.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..report import Finding
from .base import (
    Context,
    Project,
    check,
    failed,
    ignored_by_patterns,
    image_pinned,
    is_env_template,
    is_secret_name,
    is_test_path,
    last_line,
    not_run,
    passed,
    run_command,
    short_list,
)

# An image that takes longer than five minutes to build slows every deploy and rollback.
MAX_BUILD_SECONDS = 300


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str
    arguments: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions (comments dropped, backslash continuations joined)."""
    instructions: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = (pending + stripped).strip()
        pending = ""
        keyword, _, arguments = whole.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
    if pending.strip():
        keyword, _, arguments = pending.strip().partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
    return instructions


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """Group instructions by build stage (each starts at ``FROM``); global ``ARG``s come first."""
    groups: list[list[Instruction]] = [[]]
    for instruction in instructions:
        if instruction.keyword == "FROM":
            groups.append([])
        groups[-1].append(instruction)
    return groups


def _substitute(text: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        default = match.group(2)
        return values.get(name) or (default or match.group(0))

    return re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)", value, text)


def base_images(instructions: list[Instruction]) -> list[tuple[str, str]]:
    """``(image, stage name)`` per ``FROM``, with global ``ARG`` defaults substituted."""
    arguments: dict[str, str] = {}
    images: list[tuple[str, str]] = []
    for instruction in instructions:
        if instruction.keyword == "ARG" and not images:
            name, _, default = instruction.arguments.partition("=")
            arguments[name.strip()] = default.strip().strip("\"'")
        if instruction.keyword == "FROM":
            words = [w for w in instruction.arguments.split() if not w.startswith("--")]
            image = _substitute(words[0], arguments) if words else ""
            alias = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
            images.append((image, alias.lower()))
    return images


def dockerfiles(project: Project) -> list[str]:
    """Dockerfiles and Containerfiles outside the tests."""
    return [
        f
        for f in project.named("Dockerfile", "Dockerfile.*", "*.Dockerfile", "*.dockerfile", "Containerfile")
        if not is_test_path(f)
    ]


def _each_dockerfile(
    context: Context, judge: Callable[[str, list[Instruction]], str], fix: str, success: str
) -> Finding:
    files = dockerfiles(context.project)
    if not files:
        return not_run("no Dockerfile", "add a Dockerfile")
    problems = [
        f"{path}: {problem}" for path in files if (problem := judge(path, parse_dockerfile(context.project.text(path))))
    ]
    if problems:
        return failed("; ".join(problems[:3]), fix, problems[0].split(":", 1)[0])
    return passed(f"{success} ({short_list(files)})", files[0])


@check("container.dockerfile", "container", 2, "container image defined (Dockerfile)")
def _container_dockerfile(context: Context) -> Finding:
    files = dockerfiles(context.project)
    if files:
        return passed(f"{short_list(files)}", files[0])
    return failed("no Dockerfile: the service has no reproducible runtime", "add a multi-stage Dockerfile")


def _final_user_problem(path: str, instructions: list[Instruction]) -> str:
    final = stages(instructions)[-1]
    users = [i.arguments.split()[0] for i in final if i.keyword == "USER" and i.arguments]
    image = base_images(instructions)[-1][0] if base_images(instructions) else ""
    if not users:
        return "" if "nonroot" in image else "no USER: the service runs as root"
    if users[-1].split(":")[0] in ("root", "0"):
        return f"USER {users[-1]}: the service runs as root"
    return ""


@check("container.non_root", "container", 3, "the service runs as a non-root user", gate=True)
def _container_non_root(context: Context) -> Finding:
    return _each_dockerfile(
        context,
        _final_user_problem,
        "add a user and USER it in the final stage (useradd --system app; USER app)",
        "non-root USER",
    )


def _pinned_problem(path: str, instructions: list[Instruction]) -> str:
    images = base_images(instructions)
    aliases = {alias for _, alias in images if alias}
    loose = [image for image, _ in images if image.lower() not in aliases | {"scratch"} and not image_pinned(image)]
    return f"unpinned base image {', '.join(loose)}" if loose else ""


@check("container.pinned_base", "container", 2, "base images pinned (no :latest)", gate=True)
def _container_pinned_base(context: Context) -> Finding:
    return _each_dockerfile(
        context, _pinned_problem, "use an explicit version tag (python:3.13-slim) or a digest", "base images pinned"
    )


@check("container.healthcheck", "container", 1, "HEALTHCHECK defined", gate=True)
def _container_healthcheck(context: Context) -> Finding:
    def judge(path: str, instructions: list[Instruction]) -> str:
        final = [i for i in stages(instructions)[-1] if i.keyword == "HEALTHCHECK"]
        if not final or final[-1].arguments.upper().startswith("NONE"):
            return "no HEALTHCHECK in the final stage"
        return ""

    return _each_dockerfile(
        context, judge, "add HEALTHCHECK CMD calling the /health/live endpoint", "HEALTHCHECK present"
    )


@check("container.multi_stage", "container", 1, "multi-stage build (no build tools in the image)", gate=True)
def _container_multi_stage(context: Context) -> Finding:
    def judge(path: str, instructions: list[Instruction]) -> str:
        count = len(base_images(instructions))
        return "" if count >= 2 else "a single stage: build tools and caches ship in the image"

    return _each_dockerfile(
        context, judge, "build the virtualenv in a builder stage and copy it into a slim runtime stage", "multi-stage"
    )


@check("container.dockerignore", "container", 2, ".dockerignore keeps .env and .git out of the image", gate=True)
def _container_dockerignore(context: Context) -> Finding:
    project = context.project
    if not dockerfiles(project):
        return not_run("no Dockerfile")
    if not project.exists(".dockerignore"):
        return failed(
            "no .dockerignore: COPY . sends .env and .git to the build",
            "add .dockerignore listing .env, .env.* and .git",
        )
    lines = project.text(".dockerignore").splitlines()
    leaking = [p for p in (".env", ".env.production", ".git") if not ignored_by_patterns(lines, p, anywhere=False)]
    if leaking:
        return failed(
            f".dockerignore lets in {', '.join(leaking)}", "add .env, .env.* and .git to .dockerignore", ".dockerignore"
        )
    return passed(".env, .env.* and .git excluded from the build context", ".dockerignore")


@check("container.no_secrets", "container", 2, "no secrets baked into image layers", gate=True)
def _container_no_secrets(context: Context) -> Finding:
    def judge(path: str, instructions: list[Instruction]) -> str:
        for instruction in instructions:
            if instruction.keyword in ("ENV", "ARG"):
                pairs = re.findall(r"(\w+)(?:=|\s+)(\S+)", instruction.arguments)
                secret = [name for name, value in pairs if is_secret_name(name) and value and not value.startswith("$")]
                if secret:
                    return f"{instruction.keyword} {secret[0]} puts a secret in a layer"
            if instruction.keyword in ("COPY", "ADD"):
                sources = [w.rsplit("/", 1)[-1] for w in instruction.arguments.split()[:-1] if not w.startswith("--")]
                if any((s == ".env" or s.startswith(".env.")) and not is_env_template(s) for s in sources):
                    return f"{instruction.keyword} copies an env file into the image"
        return ""

    return _each_dockerfile(
        context,
        judge,
        "pass secrets at run time (environment, secret store) or with RUN --mount=type=secret",
        "no secrets in layers",
    )


@check("container.build", "container", 2, f"image builds in under {MAX_BUILD_SECONDS // 60} minutes", needs="--build")
def _container_build(context: Context) -> Finding:
    project = context.project
    docker = shutil.which("docker")
    if not project.exists("Dockerfile"):
        return not_run("no Dockerfile at the root")
    if docker is None:
        return not_run("docker is not installed")
    info = run_command([docker, "info", "--format", "{{.ServerVersion}}"], project.root, timeout=20)
    if info is None or info.returncode != 0:
        return not_run(f"no Docker engine: {last_line(info)}", "start the Docker engine")
    started = time.monotonic()
    tag = f"{re.sub(r'[^a-z0-9_.-]', '-', project.root.name.lower()) or 'project'}:readiness"
    result = run_command([docker, "build", "--quiet", "--tag", tag, "."], project.root, timeout=MAX_BUILD_SECONDS * 2)
    seconds = time.monotonic() - started
    if result is None or result.returncode != 0:
        return failed(
            f"docker build failed: {last_line(result)}", "make docker-build and read the first error", "Dockerfile"
        )
    if seconds > MAX_BUILD_SECONDS:
        return failed(f"built in {seconds:.0f} s", "order the Dockerfile so dependency layers cache", "Dockerfile")
    return passed(f"{tag} built in {seconds:.0f} s", "Dockerfile")
