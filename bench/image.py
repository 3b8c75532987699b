"""Benchmarks of the generated Dockerfile: cold build, code-only rebuild, image size.

Run from the repository root with the tool environment (``source .ci/env.sh``):

    python bench/image.py [--runs 3] [--output docs/benchmarks-image.md]

A project is rendered with the default answers (Python 3.13, the stand-in base image's; see
.ci/docker.sh, which this starts as the image tests do) and built with its own
``make docker-build``. Figures are medians; targets are goals, reported and never raised:

* cold build: no build cache at all (``docker builder prune --all``), base image present, so
  the time includes downloading uv, binutils and every locked wheel;
* rebuild after a code-only change (one line added to ``main.py`` and committed, so the
  revision label changes too): target ≤ 10 s, since the dependency layers come from the cache;
* final image size: target base + ≤ 80 MB; with ``--model-serving mlflow`` (mlflow-skinny, numpy
  and pandas in the image) base + ≤ 250 MB, written to docs/benchmarks-image-mlflow.md;
* compilers in the final image (gcc, cc, c++, clang, ld): target none.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests"))

from docker_engine import BASE_PYTHON, Engine, prepare  # noqa: E402 - after the path entry above

DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks-image.md"
REBUILD_TARGET_S = 10.0
# What the image may add to its base: the service's locked wheels; a served model's client
# brings numpy, pandas and mlflow-skinny.
ADDED_TARGET_MB = {"none": 80.0, "mlflow": 250.0}
OUTPUTS = {"none": DEFAULT_OUTPUT, "mlflow": ROOT / "docs" / "benchmarks-image-mlflow.md"}
COMPILERS = ("gcc", "cc", "c++", "g++", "clang", "ld")
IMAGE = "prodready-bench:latest"


def project_env(engine: Engine, workdir: Path) -> dict[str, str]:
    """A generated project's environment: no template virtualenv, the BuildKit docker first."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH"}}
    env["PATH"] = os.pathsep.join([str(engine.shim(workdir / "bin")), str(BIN), env.get("PATH", "")])
    env["DOCKER_BUILDKIT"] = "1"
    return env


def timed(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    """Run ``command``; return its wall time in seconds; raise with its output when it fails."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(command)}` exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return elapsed


def build_command(engine: Engine) -> list[str]:
    return [
        "make",
        "docker-build",
        f"IMAGE={IMAGE}",
        f"BASE_IMAGE={engine.base_image}",
        "DOCKER_BUILD_FLAGS=--network=host",
    ]


@dataclass(frozen=True)
class Figures:
    """What one benchmark run measured (times in seconds, sizes in MB)."""

    engine: Engine
    cold: list[float]
    rebuild: list[float]
    unchanged: list[float]
    size_mb: float
    base_mb: float
    layers: str
    model_serving: str
    compilers: list[str]


def package_name(project: Path) -> str:
    answers = (project / ".copier-answers.yml").read_text(encoding="utf-8").splitlines()
    return next(line.split(":", 1)[1].strip() for line in answers if line.startswith("package_name:"))


def measure(runs: int, workdir: Path, model_serving: str = "none") -> Figures:
    """Render (the default answers, ``model_serving`` as given), then time the builds."""
    engine = prepare()
    env = project_env(engine, workdir)
    project = workdir / "project"
    copier = [str(BIN / "copier"), "copy", "--defaults", "--trust", "--quiet", "--vcs-ref=HEAD"]
    data = [f"--data=python_version={BASE_PYTHON}", f"--data=model_serving={model_serving}"]
    timed([*copier, *data, str(ROOT), str(project)], env=env)
    timed(["uv", "lock"], cwd=project, env=env)
    build = build_command(engine)

    cold = []
    for _ in range(runs):
        engine.run("image", "rm", "--force", IMAGE, check=False)
        engine.run("builder", "prune", "--all", "--force")
        cold.append(timed(build, cwd=project, env=env))
    main = project / "src" / package_name(project) / "main.py"
    # Each change is committed, as in CI: the image's revision label changes with it, and must
    # not invalidate more than the metadata.
    git_env = {**env, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@invalid"}
    git_env |= {"GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@invalid"}
    timed(["git", "add", "--all"], cwd=project, env=git_env)
    timed(["git", "commit", "--quiet", "--message", "rendered"], cwd=project, env=git_env)
    rebuild = []
    for i in range(runs):
        with main.open("a", encoding="utf-8") as handle:
            handle.write(f"# code-only change {i}\n")
        timed(["git", "commit", "--quiet", "--all", "--message", f"change {i}"], cwd=project, env=git_env)
        rebuild.append(timed(build, cwd=project, env=env))
    unchanged = [timed(build, cwd=project, env=env) for _ in range(runs)]

    def size(image: str) -> float:
        return int(engine.run("image", "inspect", "--format", "{{.Size}}", image).stdout) / 1e6

    figures = Figures(
        engine=engine,
        cold=cold,
        rebuild=rebuild,
        unchanged=unchanged,
        size_mb=size(IMAGE),
        base_mb=size(engine.base_image),
        layers=engine.run("history", "--format", "{{.Size}}\t{{.CreatedBy}}", IMAGE).stdout,
        model_serving=model_serving,
        compilers=found_compilers(engine),
    )
    engine.run("image", "rm", "--force", IMAGE, check=False)
    return figures


def found_compilers(engine: Engine) -> list[str]:
    """The compilers and linkers of :data:`COMPILERS` on the final image's PATH."""
    probe = "; ".join(f"command -v {name} || true" for name in COMPILERS)
    result = engine.run("run", "--rm", "--entrypoint", "/bin/sh", IMAGE, "-c", probe)
    return result.stdout.split()


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "missed"


def report(figures: Figures, runs: int) -> str:
    """The Markdown page."""
    cold, rebuild, unchanged = (statistics.median(v) for v in (figures.cold, figures.rebuild, figures.unchanged))
    added = figures.size_mb - figures.base_mb
    engine = figures.engine
    docker_version = engine.run("version", "--format", "{{.Server.Version}}").stdout.strip()
    samples = {"cold": figures.cold, "rebuild": figures.rebuild, "unchanged": figures.unchanged}
    size = f"{figures.size_mb:.0f} MB (base {figures.base_mb:.0f} MB + {added:.0f} MB)"
    target = ADDED_TARGET_MB[figures.model_serving]
    mlflow = figures.model_serving == "mlflow"
    command = f"python bench/image.py --runs {runs}" + (" --model-serving mlflow" if mlflow else "")
    compilers = ", ".join(figures.compilers) or "none"
    lines = [
        "# Image benchmarks" + (" (`model_serving=mlflow`)" if mlflow else ""),
        "",
        f"Written by `{command}` on {dt.date.today().isoformat()}: the default project"
        + (" with `model_serving=mlflow`" if mlflow else ""),
        f"(Python {BASE_PYTHON}) built with its own `make docker-build` on base `{engine.base_image}`,",
        f"Docker engine {docker_version}, {os.cpu_count()} CPUs. Medians of {runs} runs.",
        "",
        "| figure | value | target | verdict |",
        "|---|---|---|---|",
        f"| cold build (no build cache: downloads uv, binutils, every locked wheel) | {cold:.1f} s | — | — |",
        f"| rebuild after a code-only change | {rebuild:.1f} s | ≤ {REBUILD_TARGET_S:.0f} s"
        f" | {verdict(rebuild, REBUILD_TARGET_S)} |",
        f"| rebuild with nothing changed | {unchanged:.1f} s | — | — |",
        f"| image size | {size} | base + ≤ {target:.0f} MB | {verdict(added, target)} |",
        f"| compilers on the image's PATH ({', '.join(COMPILERS)}) | {compilers} | none"
        f" | {'met' if not figures.compilers else 'missed'} |",
        "",
        "Samples (s): " + "; ".join(f"{k} {', '.join(f'{v:.1f}' for v in vs)}" for k, vs in samples.items()),
        "",
        "Layers of the final image (newest first):",
        "",
        "```",
        figures.layers.strip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure and write the Markdown report; print it too."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model-serving", choices=sorted(OUTPUTS), default="none")
    parser.add_argument("--output", type=Path, help="default: docs/benchmarks-image.md, or -mlflow.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="prodready-bench-image-") as tmp:
        figures = measure(args.runs, Path(tmp), args.model_serving)
    text = report(figures, args.runs)
    output = args.output or OUTPUTS[args.model_serving]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
