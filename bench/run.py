"""Benchmarks of the template: medians over several runs, written to docs/benchmarks.md.

Run ``make bench`` (or ``.venv/bin/python bench/run.py --runs 5``) from the repository root,
with the tool environment's bin on PATH. ``--only NAME`` runs some benchmarks; ``--list``
names them. Targets are goals, not tests: a miss is reported in the file, never raised.

Adding a benchmark: write a function that takes the ``Context`` and returns its samples in
seconds (it does its own setup and warm-up, outside the samples), and register it with
``@benchmark(name, title, target)``. The report picks it up; nothing else changes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Context:
    """What every benchmark gets: how many samples to take, a scratch folder of its own, and
    a list for remarks that belong next to its figures (e.g. a command that failed)."""

    runs: int
    workdir: Path
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Benchmark:
    """One registered benchmark."""

    name: str
    title: str
    target: float | None  # seconds; None: context for the other figures, no goal
    description: str
    measure: Callable[[Context], list[float]]


@dataclass(frozen=True)
class Result:
    """Samples of one benchmark and their summary."""

    benchmark: Benchmark
    samples: list[float]
    notes: list[str]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def verdict(self) -> str:
        if self.benchmark.target is None:
            return "—"
        return "met" if self.median <= self.benchmark.target else "missed"


REGISTRY: dict[str, Benchmark] = {}


def benchmark(
    name: str, title: str, target: float | None = None
) -> Callable[[Callable[[Context], list[float]]], Callable[[Context], list[float]]]:
    """Register ``function`` as benchmark ``name``; its docstring describes what it measures."""

    def register(function: Callable[[Context], list[float]]) -> Callable[[Context], list[float]]:
        if name in REGISTRY:
            raise ValueError(f"benchmark {name!r} is registered twice")
        description = " ".join((function.__doc__ or "").split())
        REGISTRY[name] = Benchmark(name, title, target, description, function)
        return function

    return register


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def project_env() -> dict[str, str]:
    """Environment for a generated project: no template virtualenv leaking in, uv on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH"}}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    return env


def timed(
    command: list[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    failures: list[str] | None = None,
) -> float:
    """Run ``command``; return its wall time in seconds.

    A failure raises with the command's output, unless ``failures`` is given: then the time
    still counts and the failure is appended there (a test suite that fails still takes time,
    and the report says it failed).
    """
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        message = f"`{' '.join(command)}` exited {result.returncode}"
        if failures is None:
            raise RuntimeError(f"{message}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        failures.append(message)
    return elapsed


def copy_command(dst: Path, *extra: str) -> list[str]:
    """``copier copy --defaults --trust`` of this working tree (HEAD plus uncommitted changes)."""
    return [
        str(BIN / "copier"),
        "copy",
        "--defaults",
        "--trust",
        "--quiet",
        "--vcs-ref=HEAD",
        *extra,
        str(ROOT),
        str(dst),
    ]


def fresh(ctx: Context, name: str) -> Path:
    """A destination path that does not exist yet."""
    path = ctx.workdir / name
    shutil.rmtree(path, ignore_errors=True)
    return path


# ---------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------


@benchmark("copy", "`copier copy --defaults --trust`, CLI, with the post-generation hook", target=0.9)
def copy_with_hook(ctx: Context) -> list[float]:
    """Wall time of the command a user types, from process start to exit, into a new folder:
    Copier's start-up, rendering from a temporary git clone, and the hook (keys, git init,
    dependency lock, configuration and security checks). One warm-up run is not counted."""
    timed(copy_command(fresh(ctx, "warm-up")))
    return [timed(copy_command(fresh(ctx, f"copy-{i}"))) for i in range(ctx.runs)]


@benchmark("copy-no-hook", "the same copy with `--skip-tasks` (no hook)")
def copy_without_hook(ctx: Context) -> list[float]:
    """The copy benchmark without the post-generation hook: the difference is the hook's share."""
    timed(copy_command(fresh(ctx, "warm-up"), "--skip-tasks"))
    return [timed(copy_command(fresh(ctx, f"copy-{i}"), "--skip-tasks")) for i in range(ctx.runs)]


@benchmark("copier-import", "`python -c 'import copier'` (start-up floor of any copier command)")
def copier_import(ctx: Context) -> list[float]:
    """Interpreter start plus importing Copier: no copier command can be faster than this."""
    command = [sys.executable, "-c", "import copier"]
    timed(command)
    return [timed(command) for _ in range(ctx.runs)]


@benchmark("suite", "generated project's `make test` (unit, integration, e2e; coverage), warm venv", target=15.0)
def generated_suite(ctx: Context) -> list[float]:
    """A project rendered with the default answers, `make setup` done and one `make test` run
    before timing (warm venv, warm caches); then the wall time of `make test`: unit,
    integration (real PostgreSQL and Redis) and e2e tests with the coverage gate. The slow
    reliability scenarios (`make test-reliability`) are timed in benchmarks-service.md."""
    project = fresh(ctx, "suite")
    env = project_env()
    timed(copy_command(project), env=env)
    timed(["make", "setup"], cwd=project, env=env)
    failures: list[str] = []
    timed(["make", "test"], cwd=project, env=env, failures=failures)
    samples = [timed(["make", "test"], cwd=project, env=env, failures=failures) for _ in range(ctx.runs)]
    if failures:
        ctx.notes.append(
            f"`make test` failed in {len(failures)} of {ctx.runs + 1} runs (warm-up included): the "
            "figure is the time of a suite with failing tests."
        )
    return samples


@benchmark("lock", "`uv lock` of a freshly generated project (warm uv cache), as the hook runs it", target=2.0)
def uv_lock(ctx: Context) -> list[float]:
    """The hook's lock step: resolve the generated pyproject against the index with uv's cache
    warm (one untimed lock first). The lock is deleted before each sample."""
    project = fresh(ctx, "lock")
    env = project_env()
    timed(copy_command(project, "--skip-tasks"), env=env)
    samples = []
    for _ in range(ctx.runs + 1):
        (project / "uv.lock").unlink(missing_ok=True)
        samples.append(timed(["uv", "lock", "--quiet"], cwd=project, env=env))
    return samples[1:]


@benchmark("sync-warm", "`uv sync --locked` with the environment already in place (no-op sync)", target=2.0)
def uv_sync_warm(ctx: Context) -> list[float]:
    """What `make setup` costs a second time: uv checks the lock and the environment."""
    project = fresh(ctx, "sync")
    env = project_env()
    timed(copy_command(project), env=env)
    timed(["uv", "sync", "--locked", "--quiet"], cwd=project, env=env)
    return [timed(["uv", "sync", "--locked", "--quiet"], cwd=project, env=env) for _ in range(ctx.runs)]


@benchmark("sync-cold", "`uv sync --locked` into a new environment (warm uv cache)")
def uv_sync_cold(ctx: Context) -> list[float]:
    """A teammate's first `make setup` on a machine that has seen the packages: the virtual
    environment is deleted before each sample, uv's download cache is kept."""
    project = fresh(ctx, "sync-cold")
    env = project_env()
    timed(copy_command(project), env=env)
    samples = []
    for _ in range(ctx.runs):
        shutil.rmtree(project / ".venv", ignore_errors=True)
        samples.append(timed(["uv", "sync", "--locked", "--quiet"], cwd=project, env=env))
    return samples


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def first_line(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
    except OSError:
        return "not found"
    return (result.stdout or result.stderr).strip().splitlines()[0] if result.returncode == 0 else "not found"


def read_field(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1].strip().strip('"')
    except OSError:
        return None
    return None


def load_average() -> str:
    """The 1-minute load average: other work on the machine inflates every figure."""
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "unknown"


def machine(load_at_start: str) -> list[tuple[str, str]]:
    """What the figures were measured on."""
    memory_kb = read_field("/proc/meminfo", "MemTotal")
    memory = f"{int(memory_kb.split()[0]) / 1024 / 1024:.1f} GiB" if memory_kb else "unknown"
    commit = first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return [
        ("date (UTC)", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")),
        ("CPU", f"{read_field('/proc/cpuinfo', 'model name') or platform.processor() or 'unknown'}"),
        ("cores", str(os.cpu_count())),
        ("load average (1 min) at start / at end", f"{load_at_start} / {load_average()}"),
        ("memory", memory),
        ("OS", read_field("/etc/os-release", "PRETTY_NAME=") or platform.platform()),
        ("Python (Copier's)", platform.python_version()),
        ("copier", importlib.metadata.version("copier")),
        ("uv", first_line([str(BIN / "uv"), "--version"])),
        ("template", f"{commit}{' + uncommitted changes' if dirty else ''}"),
    ]


def seconds(value: float) -> str:
    return f"{value:.2f} s"


def render(results: list[Result], runs: int, load_at_start: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Medians over {runs} runs, written by `bench/run.py` (`make bench`); do not edit by hand.",
        "Targets are goals, not tests: a miss is reported here and never fails a build.",
        "",
        "| benchmark | median | min | max | runs | target | |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        target = f"≤ {seconds(result.benchmark.target)}" if result.benchmark.target is not None else "—"
        lines.append(
            f"| {result.benchmark.title} | **{seconds(result.median)}** | {seconds(min(result.samples))} | "
            f"{seconds(max(result.samples))} | {len(result.samples)} | {target} | {result.verdict} |"
        )
    lines += ["", "## Machine", ""]
    lines += [f"- {key}: {value}" for key, value in machine(load_at_start)]
    lines += ["", "## What each figure measures", ""]
    for result in results:
        lines.append(f"- `{result.benchmark.name}`: {result.benchmark.description}")
        lines += [f"  - Note: {note}" for note in result.notes]
    lines += [
        "",
        "## Reproducing",
        "",
        "```",
        "make bench                                   # every benchmark, 5 runs each",
        ".venv/bin/python bench/run.py --runs 9 --only copy,suite",
        "```",
        "",
        "The suite benchmark needs PostgreSQL and Redis, like the generated project's `make test`",
        "(TEST_DATABASE_URL / TEST_REDIS_URL, defaults on 127.0.0.1).",
    ]
    others = sorted(path.name for path in DEFAULT_OUTPUT.parent.glob("benchmarks-*.md"))
    if others:
        lines += ["", "Other benchmark reports: " + ", ".join(f"[{name}]({name})" for name in others) + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="samples per benchmark (default 5)")
    parser.add_argument("--only", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown report to write")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)

    if args.list:
        for item in REGISTRY.values():
            print(f"{item.name:15} {item.title}")
        return 0
    names = args.only.split(",") if args.only else list(REGISTRY)
    unknown = [name for name in names if name not in REGISTRY]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    load_at_start = load_average()
    results = []
    with tempfile.TemporaryDirectory(prefix="prodready-bench-") as scratch:
        for name in names:
            item = REGISTRY[name]
            print(f"{name}: {item.title} …", flush=True)
            workdir = Path(scratch, name)
            workdir.mkdir()
            ctx = Context(args.runs, workdir)
            result = Result(item, item.measure(ctx), ctx.notes)
            target = f" (target ≤ {seconds(item.target)}: {result.verdict})" if item.target is not None else ""
            print(f"  median {seconds(result.median)}{target}", flush=True)
            results.append(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(results, args.runs, load_at_start), encoding="utf-8")
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
