"""Benchmarks of the template: medians over several runs, written to docs/benchmarks.md.

Run ``make bench`` (or ``.venv/bin/python bench/run.py --runs 5``) from the repository root,
with the tool environment's bin on PATH. ``--only NAME`` runs some benchmarks and replaces only
their rows: every result is also kept in bench/results.json, with the machine and load of the
run that measured it, and the report is written from there. ``--list`` names the benchmarks.
Targets are goals, not tests: a miss is reported in the file, never raised.

Adding a benchmark: write a function that takes the ``Context`` and returns its samples in
seconds (it does its own setup and warm-up, outside the samples), and register it with
``@benchmark(name, title, target)``; a figure that is a count (files, lines) returns one sample
and names its ``unit``. The report picks it up; nothing else changes. Comparisons with peer
templates, measured in the same run, are in bench/peers.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    BIN,
    ROOT,
    Benchmark,
    Context,
    Registry,
    copy_command,
    copy_samples,
    fresh,
    project_env,
    project_files,
    timed,
    warm_samples,
)

DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
DEFAULT_RESULTS = ROOT / "bench" / "results.json"

REGISTRY = Registry()
benchmark = REGISTRY.register


@dataclass(frozen=True)
class Result:
    """The summary of one benchmark's samples, and the run that took them."""

    benchmark: Benchmark
    median: float
    low: float
    high: float
    runs: int
    run: str  # when that run started (UTC): the key of its machine in the report
    notes: list[str]

    @classmethod
    def of(cls, item: Benchmark, samples: list[float], run: str, notes: list[str]) -> Result:
        return cls(item, statistics.median(samples), min(samples), max(samples), len(samples), run, list(notes))

    @property
    def verdict(self) -> str:
        if self.benchmark.target is None:
            return "—"
        return "met" if self.median <= self.benchmark.target else "missed"

    def stored(self) -> dict[str, Any]:
        """What bench/results.json keeps of it."""
        return {
            "median": self.median,
            "min": self.low,
            "max": self.high,
            "runs": self.runs,
            "run": self.run,
            "notes": self.notes,
        }


# ---------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------


@benchmark("copy", "`copier copy --defaults --trust`, CLI, with the post-generation hook", target=0.9)
def copy_with_hook(ctx: Context) -> list[float]:
    """Wall time of the command a user types, from process start to exit, into a new folder:
    Copier's start-up, rendering from a temporary git clone, and the hook (keys, git init,
    dependency lock, configuration and security checks). One warm-up run is not counted."""
    return copy_samples(ctx)


@benchmark("copy-no-hook", "the same copy with `--skip-tasks` (no hook)")
def copy_without_hook(ctx: Context) -> list[float]:
    """The copy benchmark without the post-generation hook: the difference is the hook's share."""
    return copy_samples(ctx, "--skip-tasks")


@benchmark("copier-import", "`python -c 'import copier'` (start-up floor of any copier command)")
def copier_import(ctx: Context) -> list[float]:
    """Interpreter start plus importing Copier: no copier command can be faster than this."""
    return warm_samples(ctx, [sys.executable, "-c", "import copier"])


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
    return warm_samples(ctx, ["make", "test"], cwd=project, env=env)


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
    return warm_samples(ctx, ["uv", "sync", "--locked", "--quiet"], cwd=project, env=env)


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


@benchmark("check-static", "`prodready check` (no options) in a freshly generated project", target=1.5)
def check_static(ctx: Context) -> list[float]:
    """The score a team sees first: `prodready check` with no options (the static checks; the
    build and test checks are opt-in) in a project just copied with the default answers, hook
    included. One warm-up run is not counted."""
    project = fresh(ctx, "project")
    timed(copy_command(project))
    return warm_samples(ctx, [str(BIN / "prodready"), "check"], cwd=project, env=project_env())


@functools.cache
def default_project(scratch: Path) -> Path:
    """A project copied with the default answers, hook included: made once per run, in the run's
    scratch folder, for the figures, which only read it."""
    project = scratch / "default-project"
    timed(copy_command(project))
    return project


@benchmark("files", "files of a new project, default answers (without .git, .venv)", target=120, unit="files")
def files(ctx: Context) -> list[float]:
    """Every file a team starts with after `copier copy --defaults`, hook included (the lock,
    `.env`, the audit log folder …): what it reads, reviews and keeps up to date. Not timed."""
    return [float(len(project_files(default_project(ctx.workdir.parent))))]


@benchmark("python-lines", "lines of Python under a new project's `src/`, default answers", target=3000, unit="lines")
def python_lines(ctx: Context) -> list[float]:
    """All lines, blank and comment lines included, of the `.py` files under `src/` in a project
    copied with the default answers: the service code a team owns. Not timed."""
    sources = (default_project(ctx.workdir.parent) / "src").rglob("*.py")
    return [float(sum(len(path.read_text(encoding="utf-8").splitlines()) for path in sources))]


# Listed after this file's benchmarks, so the report shows prodready's own rows first.
import peers  # noqa: E402 - see above

REGISTRY.include(peers.REGISTRY)


# ---------------------------------------------------------------------------
# Results kept between runs
# ---------------------------------------------------------------------------


def load(path: Path) -> tuple[dict[str, dict[str, str]], dict[str, Result]]:
    """The machines (by run) and the results (by benchmark) of earlier runs; results of
    benchmarks no longer registered are dropped."""
    if not path.is_file():
        return {}, {}
    stored = json.loads(path.read_text(encoding="utf-8"))
    results = {
        name: Result(REGISTRY[name], r["median"], r["min"], r["max"], r["runs"], r["run"], r["notes"])
        for name, r in stored["results"].items()
        if name in REGISTRY
    }
    return stored["machines"], results


def save(path: Path, machines: dict[str, dict[str, str]], results: dict[str, Result]) -> None:
    """Keep ``results`` and the machines of the runs that measured them."""
    runs = {result.run for result in results.values()}
    stored = {
        "machines": {run: items for run, items in sorted(machines.items()) if run in runs},
        "results": {name: result.stored() for name, result in results.items()},
    }
    path.write_text(json.dumps(stored, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


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


def machine(load_at_start: str) -> dict[str, str]:
    """What the figures of this run were measured on."""
    memory_kb = read_field("/proc/meminfo", "MemTotal")
    memory = f"{int(memory_kb.split()[0]) / 1024 / 1024:.1f} GiB" if memory_kb else "unknown"
    commit = first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "CPU": f"{read_field('/proc/cpuinfo', 'model name') or platform.processor() or 'unknown'}",
        "cores": str(os.cpu_count()),
        "load average (1 min) at start / at end": f"{load_at_start} / {load_average()}",
        "memory": memory,
        "OS": read_field("/etc/os-release", "PRETTY_NAME=") or platform.platform(),
        "Python (Copier's)": platform.python_version(),
        "copier": importlib.metadata.version("copier"),
        "uv": first_line([str(BIN / "uv"), "--version"]),
        "template": f"{commit}{' + uncommitted changes' if dirty else ''}",
    }


def timing_rows(results: list[Result]) -> list[str]:
    rows = ["| benchmark | median | min | max | runs | target | | run |", "|---|---|---|---|---|---|---|---|"]
    for result in results:
        item = result.benchmark
        target = f"≤ {item.format(item.target)}" if item.target is not None else "—"
        rows.append(
            f"| {item.title} | **{item.format(result.median)}** | {item.format(result.low)} | "
            f"{item.format(result.high)} | {result.runs} | {target} | {result.verdict} | {result.run} |"
        )
    return rows


def figure_rows(results: list[Result]) -> list[str]:
    rows = ["| figure | value | target | | run |", "|---|---|---|---|---|"]
    for result in results:
        item = result.benchmark
        target = f"≤ {item.format(item.target)}" if item.target is not None else "—"
        rows.append(f"| {item.title} | **{item.format(result.median)}** | {target} | {result.verdict} | {result.run} |")
    return rows


def comparison_rows(results: dict[str, Result]) -> list[str]:
    """prodready against the peer: a ratio only for two figures measured in the same run."""
    rows = ["| | prodready | copier-uv | ratio prodready / copier-uv | target | |", "|---|---|---|---|---|---|"]
    for comparison in peers.COMPARISONS:
        ours, peer = results.get(comparison.ours), results.get(comparison.peer)
        if ours is None or peer is None:
            continue
        target = f"≤ {comparison.target:.2f}" if comparison.target is not None else "—"
        if ours.run != peer.run:
            ratio, verdict = "not measured in one run", "—"
        else:
            value = ours.median / peer.median
            ratio = f"**{value:.2f}**"
            verdict = "—" if comparison.target is None else "met" if value <= comparison.target else "missed"
        rows.append(
            f"| {comparison.what} | {ours.benchmark.format(ours.median)} | {peer.benchmark.format(peer.median)} | "
            f"{ratio} | {target} | {verdict} |"
        )
    return rows if len(rows) > 2 else []


def machine_rows(machines: dict[str, dict[str, str]]) -> list[str]:
    runs = sorted(machines)
    rows = ["| run (UTC) | " + " | ".join(runs) + " |", "|---|" + "---|" * len(runs)]
    keys = list(dict.fromkeys(key for run in runs for key in machines[run]))
    rows += [f"| {key} | " + " | ".join(machines[run].get(key, "") for run in runs) + " |" for key in keys]
    return rows


def render(results: dict[str, Result], machines: dict[str, dict[str, str]]) -> str:
    ordered = [results[name] for name in REGISTRY if name in results]
    lines = [
        "# Benchmarks",
        "",
        "Medians written by `bench/run.py` (`make bench`) from bench/results.json; do not edit by hand.",
        "Each row names the run that measured it (its start, UTC; see Machine): a run with `--only`",
        "replaces only its own rows. Targets are goals, not tests: a miss is reported here and never",
        "fails a build.",
        "",
        *timing_rows([result for result in ordered if result.benchmark.timed]),
    ]
    figures = [result for result in ordered if not result.benchmark.timed]
    if figures:
        lines += ["", "## Figures (not timed)", "", *figure_rows(figures)]
    side_by_side = comparison_rows(results)
    if side_by_side:
        lines += [
            "",
            "## Side by side",
            "",
            "prodready against copier-uv (bench/peers.py), both measured in the same run on the same",
            "machine; the ratio is prodready's median over copier-uv's.",
            "",
            *side_by_side,
        ]
    lines += ["", "## Machine", "", *machine_rows(machines), "", "## What each figure measures", ""]
    for result in ordered:
        lines.append(f"- `{result.benchmark.name}`: {result.benchmark.description}")
        lines += [f"  - Note: {note}" for note in result.notes]
    lines += [
        "",
        "## Reproducing",
        "",
        "```",
        "make bench                                   # every benchmark, 5 runs each",
        ".venv/bin/python bench/run.py --runs 9 --only copy,copy-copier-uv",
        "```",
        "",
        "The suite benchmark needs PostgreSQL and Redis, like the generated project's `make test`",
        "(TEST_DATABASE_URL / TEST_REDIS_URL, defaults on 127.0.0.1). The side-by-side benchmarks",
        "need the peer bundles (`BENCH_PEERS`, default `../shared/peers`) and the dev group's",
        "`copier-template-extensions`.",
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
    parser.add_argument(
        "--results", type=Path, default=DEFAULT_RESULTS, help="results kept between runs, the report's source"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)

    if args.list:
        for item in REGISTRY.values():
            print(f"{item.name:17} {item.title}")
        return 0
    names = args.only.split(",") if args.only else list(REGISTRY)
    unknown = [name for name in names if name not in REGISTRY]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    # Python keeps its bytecode cache, as on a user's machine, so the warm-up runs fill it: with
    # PYTHONDONTWRITEBYTECODE set, every sample would compile Copier's modules again (seconds).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    machines, results = load(args.results)
    run = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    load_at_start = load_average()
    with tempfile.TemporaryDirectory(prefix="prodready-bench-") as scratch:
        for name in names:
            item = REGISTRY[name]
            print(f"{name}: {item.title} …", flush=True)
            workdir = Path(scratch, name)
            workdir.mkdir()
            ctx = Context(args.runs, workdir)
            result = Result.of(item, item.measure(ctx), run, ctx.notes)
            target = f" (target ≤ {item.format(item.target)}: {result.verdict})" if item.target is not None else ""
            print(f"  median {item.format(result.median)}{target}", flush=True)
            results[name] = result
    machines[run] = machine(load_at_start)
    save(args.results, machines, results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(results, machines), encoding="utf-8")
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
