"""Benchmarks of the post-generation hook and the readiness report: medians, written to docs/benchmarks-readiness.md.

Run ``.venv/bin/python bench/readiness.py`` from the repository root (``--runs N`` samples per
static figure, ``--test-runs N`` for the slow one, ``--only NAME,…``). Targets are goals, not
tests: a miss is reported in the file, never raised.

Each benchmark is a function taking a :class:`Context` and returning its samples in seconds;
it does its own setup and warm-up outside the samples (the same shape as ``bench/run.py``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import harness
from harness import ROOT, copy_command, copy_samples, fresh, project_env, timed

DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks-readiness.md"
SERVER_DEFAULTS = {
    "TEST_DATABASE_URL": "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/postgres",
    "TEST_REDIS_URL": "redis://127.0.0.1:6379/0",
}


@dataclass(frozen=True)
class Context(harness.Context):
    """The shared context (samples, scratch folder), plus how many samples the slow figure takes."""

    test_runs: int = 1


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: its title, goal in seconds (None: no goal) and the function that measures it."""

    name: str
    title: str
    target: float | None
    measure: Callable[[Context], list[float]]

    @property
    def description(self) -> str:
        """The measuring function's docstring on one line."""
        return " ".join((self.measure.__doc__ or "").split())


@dataclass(frozen=True)
class Result:
    """Samples of one benchmark and their summary."""

    benchmark: Benchmark
    samples: list[float]
    note: str = ""

    @property
    def median(self) -> float:
        """Median of the samples."""
        return statistics.median(self.samples)

    @property
    def verdict(self) -> str:
        """``met``, ``missed`` or ``—`` when there is no target."""
        if self.benchmark.target is None:
            return "—"
        return "met" if self.median <= self.benchmark.target else "missed"


def hook_command(operation: str) -> list[str]:
    """The command Copier's task runs (copier.yml ``_tasks``), with Copier's own interpreter."""
    return [sys.executable, str(ROOT / "hooks" / "post_gen.py"), f"--operation={operation}", f"--source={ROOT / 'src'}"]


def prodready_command(*args: str) -> list[str]:
    """``prodready ARGS`` from this working tree with Copier's interpreter, as the hook imports it."""
    return [sys.executable, "-m", "prodready", *args]


def uvx_command(*args: str) -> list[str]:
    """``uvx --from <this checkout> prodready ARGS``: what a project's Makefile runs (``PRODREADY``)."""
    return [str(harness.BIN / "uvx"), "--quiet", "--from", str(ROOT), "prodready", *args]


# ---------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------
def hook_on_copy(ctx: Context) -> list[float]:
    """The hook's share of `copier copy`: a project copied with `--skip-tasks` gets the hook run
    exactly as Copier's task runs it after a first copy (keys ensure, git init, uv lock and the
    requirements export, readiness validation). Each sample starts from a fresh skip-tasks copy;
    one warm-up is not counted."""
    samples = []
    for i in range(ctx.runs + 1):
        project = fresh(ctx, f"hook-{i}")
        timed(copy_command(project, "--skip-tasks"))
        elapsed = timed(hook_command("copy"), cwd=project, env=project_env())
        if i:
            samples.append(elapsed)
    return samples


def hook_on_update(ctx: Context) -> list[float]:
    """The hook after `copier update`: keys ensure and the readiness validation only."""
    project = fresh(ctx, "update")
    timed(copy_command(project))
    command = hook_command("update")
    timed(command, cwd=project, env=project_env())
    return [timed(command, cwd=project, env=project_env()) for _ in range(ctx.runs)]


def copy_with_hook(ctx: Context) -> list[float]:
    """Context for the hook figures: the whole `copier copy --defaults --trust` a user types, into
    a new folder, hook included."""
    return copy_samples(ctx)


def readiness_static_hook(ctx: Context) -> list[float]:
    """`prodready check --json` in static mode on a fresh project, with Copier's interpreter, as the
    hook runs it (no project environment: `deps.installed` is not run)."""
    project = fresh(ctx, "static-hook")
    timed(copy_command(project))
    env = project_env()
    command = prodready_command("check", "--json")
    timed(command, cwd=project, env=env)
    return [timed(command, cwd=project, env=env) for _ in range(ctx.runs)]


def readiness_static_make(ctx: Context) -> list[float]:
    """`uvx --from <checkout> prodready check` (what `make readiness` runs, warm uv cache) in static
    mode on a fresh project after `uv sync`: every static check, including `deps check` in the
    project's environment."""
    project = fresh(ctx, "static-uv")
    env = project_env()
    timed(copy_command(project))
    timed(["uv", "sync", "--quiet"], cwd=project, env=env)
    command = uvx_command("check", "--json")
    timed(command, cwd=project, env=env)
    return [timed(command, cwd=project, env=env) for _ in range(ctx.runs)]


def readiness_with_tests(ctx: Context) -> list[float]:
    """`prodready check --run-tests` on a fresh project after `uv sync` (warm venv): the static checks
    plus the whole test suite with coverage (unit, integration against real PostgreSQL and
    Redis, e2e against uvicorn). One warm-up run is not counted."""
    project = fresh(ctx, "run-tests")
    env = project_env(**{k: os.environ.get(k, v) for k, v in SERVER_DEFAULTS.items()})
    timed(copy_command(project))
    timed(["uv", "sync", "--quiet"], cwd=project, env=env)
    command = uvx_command("check", "--run-tests", "--json")
    timed(command, cwd=project, env=env)
    return [timed(command, cwd=project, env=env) for _ in range(ctx.test_runs)]


BENCHMARKS = [
    Benchmark(
        "hook-copy", "post-generation hook after a first copy (the hook's share of `copier copy`)", None, hook_on_copy
    ),
    Benchmark(
        "hook-update", "post-generation hook after `copier update` (keys ensure + validation)", 3.0, hook_on_update
    ),
    Benchmark("copy", "`copier copy --defaults --trust`, hook included (context)", None, copy_with_hook),
    Benchmark(
        "static-hook", "`prodready check --json`, static, Copier's Python (as in the hook)", 1.5, readiness_static_hook
    ),
    Benchmark("static-make", "`uvx … prodready check`, static (as `make readiness`)", 3.0, readiness_static_make),
    Benchmark(
        "run-tests", "`uvx … prodready check --run-tests` (whole suite with coverage)", None, readiness_with_tests
    ),
]


def score_line(project: Path) -> str:
    """The score of a fresh default project in static mode, for the report."""
    result = subprocess.run(
        prodready_command("check", "--json"),
        cwd=project,
        env=project_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        document = json.loads(result.stdout)
    except ValueError:
        return "unknown (readiness printed no JSON)"
    return f"{document['score']}/100 ({document['grade']}), {document['measured']:.0%} of the weight measured"


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
def seconds(value: float) -> str:
    """Seconds with two decimals."""
    return f"{value:.2f} s"


def machine() -> list[tuple[str, str]]:
    """What the figures were measured on."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return [
        ("date (UTC)", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")),
        ("cores", str(os.cpu_count())),
        ("OS", platform.platform()),
        ("Python (Copier's)", platform.python_version()),
        ("template", f"{commit or 'unknown'}{' + uncommitted changes' if dirty else ''}"),
    ]


def render(results: list[Result], runs: int, test_runs: int, score: str) -> str:
    """The Markdown report."""
    lines = [
        "# Benchmarks: post-generation hook and readiness report",
        "",
        f"Medians over {runs} runs ({test_runs} for `run-tests`), written by `bench/readiness.py`;",
        "do not edit by hand. Targets are goals, not tests: a miss is reported here and never fails a build.",
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
    lines += ["", f"Score of a fresh default project, static mode: {score}.", "", "## Machine", ""]
    lines += [f"- {key}: {value}" for key, value in machine()]
    lines += ["", "## What each figure measures", ""]
    lines += [f"- `{result.benchmark.name}`: {result.benchmark.description}" for result in results]
    lines += [
        "",
        "## Reproducing",
        "",
        "```",
        ".venv/bin/python bench/readiness.py                      # every figure",
        ".venv/bin/python bench/readiness.py --only static-hook,static-make --runs 9",
        "```",
        "",
        "`run-tests` needs PostgreSQL and Redis, like the generated project's `make test`",
        "(TEST_DATABASE_URL / TEST_REDIS_URL, defaults on 127.0.0.1).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, print each median as it comes, write the Markdown report."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="samples per static figure (default 5)")
    parser.add_argument("--test-runs", type=int, default=3, help="samples of run-tests (default 3)")
    parser.add_argument("--only", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown report to write")
    args = parser.parse_args(argv)
    known = {item.name: item for item in BENCHMARKS}
    names = args.only.split(",") if args.only else list(known)
    unknown = [name for name in names if name not in known]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if args.runs < 1 or args.test_runs < 1:
        parser.error("--runs and --test-runs must be at least 1")

    results = []
    with tempfile.TemporaryDirectory(prefix="prodready-bench-readiness-") as scratch:
        for name in names:
            item = known[name]
            print(f"{name}: {item.title} …", flush=True)
            workdir = Path(scratch, name)
            workdir.mkdir()
            result = Result(item, item.measure(Context(args.runs, workdir, test_runs=args.test_runs)))
            target = f" (target ≤ {seconds(item.target)}: {result.verdict})" if item.target is not None else ""
            print(f"  median {seconds(result.median)}{target}", flush=True)
            results.append(result)
        sample = Path(scratch, "score")
        timed(copy_command(sample))
        score = score_line(sample)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(results, args.runs, args.test_runs, score), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
