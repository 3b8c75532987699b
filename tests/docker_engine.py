"""The Docker engine for the image tests and benchmark: start it, find a BuildKit client.

``.ci/docker.sh`` starts dockerd when none answers and builds the stand-in base image (Debian
trixie, whose python3 is 3.13) that replaces ``python:3.13-slim`` where no container registry
is reachable. ``PRODREADY_BASE_IMAGE`` names another base (``python:3.13-slim`` on a machine
that reaches Docker Hub), which the script then leaves alone.

The generated Dockerfile uses BuildKit features (cache mounts). Docker 23+ clients build with
BuildKit through the buildx plugin; where the plugin is missing, Debian's docker.io client
(20.10) still has BuildKit built in, so that client is used instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKER_SCRIPT = ROOT / ".ci" / "docker.sh"
BASE_IMAGE = os.environ.get("PRODREADY_BASE_IMAGE", "prodready-base:3.13")
# The Python of the stand-in base image: the answer the image test renders with.
BASE_PYTHON = "3.13"


class EngineUnavailable(Exception):
    """The Docker engine cannot be started on this machine at all."""


@dataclass(frozen=True)
class Engine:
    """A running engine and a client that builds with BuildKit."""

    client: str
    base_image: str

    def shim(self, folder: Path) -> Path:
        """Make ``folder/docker`` the BuildKit client; put ``folder`` first on PATH for make and scripts."""
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / "docker"
        if not link.exists():
            link.symlink_to(self.client)
        return folder

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run ``docker ARGS`` with the chosen client."""
        result = subprocess.run([self.client, *args], capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result


def _works(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=60, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def buildkit_client() -> str:
    """Return a docker client that builds with BuildKit (see the module docstring)."""
    candidates = [path for path in (shutil.which("docker"), "/usr/bin/docker") if path and Path(path).exists()]
    for client in candidates:
        if _works([client, "buildx", "version"]):
            return client
    for client in candidates:
        version = subprocess.run(
            [client, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True, check=False
        ).stdout.strip()
        major = version.split(".", 1)[0]
        if major.isdigit() and int(major) < 23:  # BuildKit built into the classic client
            return client
    raise AssertionError(f"no docker client here builds with BuildKit (tried {candidates}): install the buildx plugin")


def prepare() -> Engine:
    """Start the engine and build the stand-in base image (idempotent).

    Raises:
        EngineUnavailable: dockerd cannot be started here; the reason is in the message.
        AssertionError: the engine runs but the base image could not be built.
    """
    env = dict(os.environ, PRODREADY_BASE_IMAGE=BASE_IMAGE)
    if BASE_IMAGE.startswith("prodready-base:"):
        result = subprocess.run(
            ["bash", str(DOCKER_SCRIPT)], capture_output=True, text=True, env=env, timeout=1800, check=False
        )
    else:  # a real registry image: only the engine is needed
        result = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr)[-4000:]
    if result.returncode != 0:
        if not _works(["docker", "info"]):
            raise EngineUnavailable(f"the Docker engine cannot be started on this machine:\n{output}")
        raise AssertionError(f"{DOCKER_SCRIPT} failed:\n{output}")
    return Engine(client=buildkit_client(), base_image=BASE_IMAGE)
