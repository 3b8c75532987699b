"""The generated Dockerfile, built and run for real (slow tier).

One project is rendered with the default answers (Python 3.13: the stand-in base image's) and
free text that needs escaping, built with the project's own `make docker-build`, and checked
with its own `make docker-smoke` (health, non-root user, HEALTHCHECK, no .env inside), then by
the assertions below. The Docker engine is started by .ci/docker.sh; the tests skip only when
no engine can be started on the machine at all, and say so.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker_engine import BASE_PYTHON, Engine, EngineUnavailable, prepare
from helpers import BIN, copy_project, project_env, run

pytestmark = pytest.mark.slow

ANSWERS: dict[str, Any] = {
    "python_version": BASE_PYTHON,
    "description": 'Says "hi" to ${USER} and $HOME with a \\ backslash',
    "author_name": 'O\'Brien "Dev"',
}
UID = 10001
# The target: what the image adds to its base.
MAX_ADDED_MB = 80


def strong_keys(use_postgres: bool = True, use_redis: bool = True) -> dict[str, str]:
    """Fresh keys that meet the key rules, made here for the test containers only."""
    keys = {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "JWT_SECRET_KEY": secrets.token_urlsafe(64),
        "DB_ENCRYPTION_KEY": secrets.token_hex(32),
    }
    if use_postgres:
        keys["DB_PASSWORD"] = secrets.token_urlsafe(32)
    if use_redis:
        keys["REDIS_PASSWORD"] = secrets.token_urlsafe(32)
    return keys


def env_args(values: dict[str, str]) -> list[str]:
    return [arg for name, value in values.items() for arg in ("--env", f"{name}={value}")]


@pytest.fixture(scope="module")
def engine() -> Engine:
    try:
        return prepare()
    except EngineUnavailable as exc:
        pytest.skip(f"SKIPPED, no Docker engine: {exc}")


@pytest.fixture(scope="module")
def built(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, dict[str, str]]]:
    """(project, image tag, environment for make) after `make docker-build`."""
    tmp = tmp_path_factory.mktemp("image")
    project = copy_project(tmp / "project", **ANSWERS)
    env = project_env(DOCKER_BUILDKIT="1")
    env["PATH"] = os.pathsep.join([str(engine.shim(tmp / "bin")), str(BIN), env["PATH"]])
    run(["uv", "lock"], cwd=project, env=env)
    image = f"prodready-test-{uuid.uuid4().hex[:8]}:latest"
    started = time.monotonic()
    run(
        [
            "make",
            "docker-build",
            f"IMAGE={image}",
            f"BASE_IMAGE={engine.base_image}",
            # The builder downloads from PyPI (and Debian): the host's network, proxy included.
            "DOCKER_BUILD_FLAGS=--network=host",
        ],
        cwd=project,
        env=env,
        timeout=1800,
    )
    print(f"\nimage built in {time.monotonic() - started:.1f} s")
    try:
        yield project, image, env
    finally:
        engine.run("image", "rm", "--force", image, check=False)


@pytest.fixture
def container(engine: Engine) -> Iterator[list[str]]:
    """Names of containers a test starts; all removed afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        engine.run("rm", "--force", name, check=False)


def start(engine: Engine, image: str, names: list[str], *args: str) -> str:
    name = f"prodready-test-{uuid.uuid4().hex[:8]}"
    names.append(name)
    engine.run("run", "--detach", "--name", name, "--health-interval=1s", *args, image)
    return name


def wait_for_health(engine: Engine, name: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    status = "starting"
    while time.monotonic() < deadline:
        state = json.loads(engine.run("inspect", "--format", "{{json .State}}", name).stdout)
        if not state["Running"]:
            return "exited"
        status = state.get("Health", {}).get("Status", "none")
        if status != "starting":
            return str(status)
        time.sleep(0.5)
    return str(status)


def test_the_projects_own_smoke_test_passes(built: tuple[Path, str, dict[str, str]]) -> None:
    """`make docker-smoke`: /health/live 200, UID 10001, HEALTHCHECK healthy, no .env inside."""
    project, image, env = built
    result = run(["make", "docker-smoke", f"IMAGE={image}", "SMOKE_PORT=18731"], cwd=project, env=env, timeout=300)
    assert "docker-smoke: OK" in result.stdout


def test_serves_as_the_fixed_non_root_user(
    engine: Engine, built: tuple[Path, str, dict[str, str]], container: list[str]
) -> None:
    _, image, _ = built
    port = 18732
    name = start(
        engine,
        image,
        container,
        "--publish",
        f"127.0.0.1:{port}:8000",
        "--env",
        "APP_ENV=development",
        *env_args(strong_keys()),
    )
    assert wait_for_health(engine, name) == "healthy", engine.run("logs", name).stderr
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=5) as response:
        assert response.status == 200
        assert json.loads(response.read())["status"] == "ok"
    # The server process itself, read from the host's /proc: not what `docker exec` would run as.
    pid = engine.run("inspect", "--format", "{{.State.Pid}}", name).stdout.strip()
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert uids == [str(UID)] * 4, status
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"-m" in cmdline and any(part.endswith(b".serve") for part in cmdline), cmdline


def test_production_mode_is_healthy_with_strong_keys(
    engine: Engine, built: tuple[Path, str, dict[str, str]], container: list[str]
) -> None:
    """APP_ENV=production (the image's default): allowed hosts are enforced, the probe still passes."""
    _, image, _ = built
    name = start(engine, image, container, *env_args(strong_keys()))
    assert wait_for_health(engine, name) == "healthy", engine.run("logs", name).stderr
    # SIGTERM: uvicorn finishes in-flight requests and exits cleanly within the grace period.
    started = time.monotonic()
    engine.run("stop", "--time", "30", name)
    assert time.monotonic() - started < 25
    state = json.loads(engine.run("inspect", "--format", "{{json .State}}", name).stdout)
    assert state["ExitCode"] == 0, engine.run("logs", name).stderr


def test_production_refuses_weak_keys(engine: Engine, built: tuple[Path, str, dict[str, str]]) -> None:
    _, image, _ = built
    weak = {"SECRET_KEY": "CHANGE_ME", "JWT_SECRET_KEY": "secret", "DB_ENCRYPTION_KEY": "0" * 64}
    result = engine.run("run", "--rm", *env_args(weak), image, check=False, timeout=120)
    assert result.returncode != 0
    assert "refusing to start in production" in result.stdout + result.stderr


def test_image_holds_only_what_it_needs(engine: Engine, built: tuple[Path, str, dict[str, str]]) -> None:
    _, image, _ = built
    script = (
        "set -e; ls -A /app | sort | tr '\\n' ' '; echo;"
        " find / -xdev \\( -name '.env*' -o -name '.git' \\) -print;"
        " for tool in uv gcc cc make; do command -v $tool || true; done;"
        " ls /opt/venv/bin | grep -E '^(pip[0-9.]*|uv|uvx)$' || true; ls -A /root/.cache 2>/dev/null || true"
    )
    result = engine.run("run", "--rm", "--user", "0:0", "--entrypoint", "sh", image, "-c", script)
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["alembic.ini", "config", "migrations", "security", "src", "var"], lines[0]
    assert lines[1:] == [], f"found in the image: {lines[1:]}"
    owner = engine.run("run", "--rm", "--entrypoint", "stat", image, "-c", "%u %a", "/app/var", "/app/src").stdout
    assert owner.split("\n")[0] == f"{UID} 755"  # only var/ is the service's to write
    assert owner.split("\n")[1].startswith("0 ")


def test_every_compiled_module_still_loads(engine: Engine, built: tuple[Path, str, dict[str, str]]) -> None:
    """The builder strips debug symbols from extension modules; each one must still import."""
    _, image, _ = built
    script = """
import importlib, pathlib, sysconfig
root = pathlib.Path(sysconfig.get_path("purelib"))
names = set()
for path in root.rglob("*.so"):
    parts = path.relative_to(root).parts
    if any(part.endswith((".libs", ".data")) or part == "tests" for part in parts[:-1]):
        continue
    names.add(".".join([*parts[:-1], path.name.split(".", 1)[0]]))
failed = []
for name in sorted(names):
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {exc!r}")
print(len(names), "extension modules")
print("\\n".join(failed))
raise SystemExit(1 if failed else 0)
"""
    result = engine.run("run", "--rm", "--entrypoint", "python", image, "-c", script, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert int(result.stdout.split()[0]) > 10


def test_labels_carry_the_answers_and_no_secret_is_baked_in(
    engine: Engine, built: tuple[Path, str, dict[str, str]]
) -> None:
    project, image, _ = built
    config = json.loads(engine.run("image", "inspect", "--format", "{{json .Config}}", image).stdout)
    labels = config["Labels"]
    assert labels["org.opencontainers.image.description"] == ANSWERS["description"]
    assert labels["org.opencontainers.image.authors"].startswith(ANSWERS["author_name"] + " <")
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", labels["org.opencontainers.image.revision"])
    assert config["User"] == f"{UID}:{UID}"
    assert config["StopSignal"] == "SIGTERM"
    assert config["Healthcheck"]["Test"][0] == "CMD"  # exec form: no shell needed
    env_names = {item.split("=", 1)[0] for item in config["Env"]}
    assert not {name for name in env_names if name.endswith(("_KEY", "_PASSWORD"))}
    # The project's own development keys were on disk during the build: none is in any layer.
    history = engine.run("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
    dotenv = (project / ".env").read_text(encoding="utf-8")
    keys = [line.split("=", 1)[1] for line in dotenv.splitlines() if "_KEY=" in line or "_PASSWORD=" in line]
    assert keys and not [key for key in keys if key in history]


def test_image_size_within_target(engine: Engine, built: tuple[Path, str, dict[str, str]]) -> None:
    _, image, _ = built
    size = int(engine.run("image", "inspect", "--format", "{{.Size}}", image).stdout)
    base = int(engine.run("image", "inspect", "--format", "{{.Size}}", engine.base_image).stdout)
    added = (size - base) / 1e6
    print(f"\nimage {size / 1e6:.0f} MB = base {base / 1e6:.0f} MB + {added:.0f} MB")
    assert added <= MAX_ADDED_MB, f"the image adds {added:.0f} MB to its base; the target is {MAX_ADDED_MB} MB"
