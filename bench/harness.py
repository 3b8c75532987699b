"""What the benchmarks of ``bench/run.py`` and ``bench/peers.py`` share: how one is registered,
what it gets, and how it runs and times commands.

A benchmark is a function that takes the :class:`Context` and returns its samples: seconds for a
timed one, or a single count for a figure (``unit`` names what is counted). It does its own setup
and warm-up, outside the samples.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Commits in scratch repositories must work on a machine without a git identity.
GIT_IDENTITY = ["-c", "user.name=Benchmark", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false"]
# Folders that are not part of a generated project's files: git's store and the virtualenv.
NOT_PROJECT_FILES = {".git", ".venv"}


@dataclass(frozen=True)
class Context:
    """What every benchmark gets: how many samples to take, a scratch folder of its own, and
    a list for remarks that belong next to its figures (e.g. a command that failed)."""

    runs: int
    workdir: Path
    notes: list[str] = field(default_factory=list)


Measure = Callable[[Context], list[float]]


@dataclass(frozen=True)
class Benchmark:
    """One registered benchmark."""

    name: str
    title: str
    target: float | None  # in ``unit``; None: context for the other figures, no goal
    description: str
    measure: Measure
    unit: str = "s"  # "s": timed, several samples; anything else: one count of that unit

    @property
    def timed(self) -> bool:
        return self.unit == "s"

    def format(self, value: float) -> str:
        """``value`` with its unit: ``3.05 s``, ``147 files``."""
        return f"{value:.2f} s" if self.timed else f"{value:,.0f} {self.unit}"


class Registry(dict[str, Benchmark]):
    """Benchmarks by name, in the order they were registered (the report's order)."""

    def register(
        self, name: str, title: str, target: float | None = None, unit: str = "s"
    ) -> Callable[[Measure], Measure]:
        """Register the decorated function as benchmark ``name``; its docstring describes what it measures."""

        def register(function: Measure) -> Measure:
            description = " ".join((function.__doc__ or "").split())
            self.include({name: Benchmark(name, title, target, description, function, unit)})
            return function

        return register

    def include(self, other: dict[str, Benchmark]) -> None:
        """Add the benchmarks of ``other`` (another module's registry) after these."""
        for name, item in other.items():
            if name in self:
                raise ValueError(f"benchmark {name!r} is registered twice")
            self[name] = item


# ---------------------------------------------------------------------------
# Running commands
# ---------------------------------------------------------------------------


def project_env(**extra: str) -> dict[str, str]:
    """Environment for a generated project: no template virtualenv leaking in, uv on PATH, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH"}}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.update(extra)
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


def warm_samples(
    ctx: Context, command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> list[float]:
    """One untimed run of ``command`` (warm caches), then ``ctx.runs`` timed ones.

    A run that fails still counts; the report notes how many failed.
    """
    failures: list[str] = []
    timed(command, cwd=cwd, env=env, failures=failures)
    samples = [timed(command, cwd=cwd, env=env, failures=failures) for _ in range(ctx.runs)]
    if failures:
        ctx.notes.append(
            f"{failures[0]} in {len(failures)} of {ctx.runs + 1} runs (warm-up included): the figure "
            "includes the failed runs."
        )
    return samples


def copy_command(dst: Path, *extra: str, template: Path = ROOT, ref: str = "HEAD") -> list[str]:
    """``copier copy --defaults --trust`` of ``template`` at ``ref``; by default this working
    tree (HEAD plus uncommitted changes)."""
    return [
        str(BIN / "copier"),
        "copy",
        "--defaults",
        "--trust",
        "--quiet",
        f"--vcs-ref={ref}",
        *extra,
        str(template),
        str(dst),
    ]


def copy_samples(ctx: Context, *extra: str, template: Path = ROOT, ref: str = "HEAD") -> list[float]:
    """One untimed copy (warm caches), then ``ctx.runs`` timed ones, each into a new folder."""
    timed(copy_command(fresh(ctx, "warm-up"), *extra, template=template, ref=ref))
    return [timed(copy_command(fresh(ctx, f"copy-{i}"), *extra, template=template, ref=ref)) for i in range(ctx.runs)]


def fresh(ctx: Context, name: str) -> Path:
    """A destination path that does not exist yet."""
    path = ctx.workdir / name
    shutil.rmtree(path, ignore_errors=True)
    return path


def git(*args: str, cwd: Path) -> str:
    """Run git with a fixed identity; return its output, raise when it fails."""
    result = subprocess.run(["git", *GIT_IDENTITY, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"`git {' '.join(args)}` exited {result.returncode} in {cwd}\n{result.stderr[-4000:]}")
    return result.stdout


def commit_all(repo: Path, message: str) -> None:
    """Commit everything in ``repo`` (made a repository first if it is not one)."""
    if not (repo / ".git").exists():
        git("init", "--quiet", "--initial-branch=main", cwd=repo)
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "--allow-empty", "-m", message, cwd=repo)


def project_files(project: Path) -> list[Path]:
    """The files of a generated project, without git's store and the virtualenv."""
    return [
        path
        for path in project.rglob("*")
        if path.is_file() and not NOT_PROJECT_FILES.intersection(path.relative_to(project).parts)
    ]
