"""Side by side: prodready against a peer template, measured in the same run on the same machine.

The peer is copier-uv (pawamoy/copier-uv, a Python library template), from a git bundle that
holds its releases 1.12.0 and 1.13.0 (``/work/shared/peers``, or the folder ``BENCH_PEERS``
names; its README.md lists the bundles). Copier loads copier-uv's Jinja extensions from the
``copier-template-extensions`` package of the dev group. ``bench/run.py`` includes this module's
benchmarks and renders :data:`COMPARISONS` as ratios of medians.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from harness import (
    BIN,
    ROOT,
    Context,
    Registry,
    commit_all,
    copy_command,
    copy_samples,
    fresh,
    git,
    project_env,
    project_files,
    timed,
)

REGISTRY = Registry()
benchmark = REGISTRY.register

PEERS = Path(os.environ.get("BENCH_PEERS", ROOT.parent / "shared" / "peers"))
COPIER_UV_OLD, COPIER_UV_NEW = "1.12.0", "1.13.0"
# copier-uv's two questions without a default; `--defaults` answers the rest.
COPIER_UV_ANSWERS = ("--data=project_name=x", "--data=project_description=y")
# The new prodready release of the update benchmark: a comment in one template file.
RELEASE_FILE = "template/.gitignore.jinja"
RELEASE_CHANGE = "\n# Local state of editors and tools stays out of version control (bench release).\n"


@dataclass(frozen=True)
class Comparison:
    """prodready's benchmark ``ours`` against the peer's ``peer``, as the ratio of their medians."""

    what: str
    ours: str
    peer: str
    target: float | None = None  # the highest acceptable ratio; None: context, no goal


COMPARISONS = (
    Comparison("`copier copy --defaults --trust` (prodready with its hook)", "copy", "copy-copier-uv", 1.5),
    Comparison("`copier update --defaults --trust` to a newer release", "update-prodready", "update-copier-uv", 1.5),
    Comparison("files of a new project (without .git, .venv)", "files", "files-copier-uv"),
)


# ---------------------------------------------------------------------------
# Templates with two releases
# ---------------------------------------------------------------------------


def copier_uv(ctx: Context) -> Path:
    """A clone of the copier-uv bundle, with its release tags."""
    bundle = PEERS / "copier-uv.bundle"
    if not bundle.is_file():
        raise RuntimeError(f"{bundle} not found: set BENCH_PEERS to the folder of the peer bundles")
    clone = fresh(ctx, "copier-uv")
    git("clone", "--quiet", str(bundle), str(clone), cwd=ctx.workdir)
    return clone


def prodready_releases(ctx: Context) -> Path:
    """A repository with two prodready releases, as tests/test_update.py builds them: ``v1.0.0``
    is this working tree (uncommitted changes included), ``v1.0.1`` adds a comment to one
    template file. Only the working tree is copied: the history of this repository is not needed."""
    template = fresh(ctx, "prodready")
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # a tracked file deleted in the working tree is not in it
            (template / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, template / name)
    commit_all(template, "bench release v1.0.0: the working tree")
    git("tag", "v1.0.0", cwd=template)
    changed = template / RELEASE_FILE
    if not changed.is_file():
        raise RuntimeError(f"{RELEASE_FILE} is gone: choose another file for peers.RELEASE_FILE")
    with changed.open("a", encoding="utf-8") as handle:
        handle.write(RELEASE_CHANGE)
    commit_all(template, "bench release v1.0.1: a comment")
    git("tag", "v1.0.1", cwd=template)
    return template


def update_samples(ctx: Context, template: Path, old: str, new: str, *answers: str) -> list[float]:
    """Copy ``template`` at ``old`` and commit the project, as a team does; then one untimed and
    ``ctx.runs`` timed ``copier update`` to ``new``, each in a fresh copy of that project."""
    project = fresh(ctx, "project")
    timed(copy_command(project, *answers, template=template, ref=old), env=project_env())
    commit_all(project, f"generated at {old}")
    command = [str(BIN / "copier"), "update", "--defaults", "--trust", "--quiet", f"--vcs-ref={new}"]
    samples = []
    for i in range(ctx.runs + 1):
        sample = fresh(ctx, f"update-{i}")
        shutil.copytree(project, sample, symlinks=True)
        samples.append(timed(command, cwd=sample, env=project_env()))
    return samples[1:]


# ---------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------


@benchmark("copy-copier-uv", f"copier-uv {COPIER_UV_NEW}: `copier copy --defaults --trust`, CLI")
def copy_copier_uv(ctx: Context) -> list[float]:
    """The `copy` benchmark's command for copier-uv at its newer release, from a local clone of
    its bundle: Copier's start-up, rendering from a temporary git clone, and its tasks (it
    declares none). One warm-up run is not counted."""
    return copy_samples(ctx, *COPIER_UV_ANSWERS, template=copier_uv(ctx), ref=COPIER_UV_NEW)


@benchmark("update-prodready", "prodready: `copier update --defaults --trust` to a release with one change")
def update_prodready(ctx: Context) -> list[float]:
    """A project copied with the default answers from release v1.0.0 (this working tree) and
    committed, updated to v1.0.1 (the same plus a comment in one template file): Copier renders
    both releases and merges the difference, then the hook runs its update steps. Each sample
    updates a fresh copy of the committed project; one warm-up update is not counted."""
    return update_samples(ctx, prodready_releases(ctx), "v1.0.0", "v1.0.1")


@benchmark("update-copier-uv", f"copier-uv: `copier update --defaults --trust`, {COPIER_UV_OLD} → {COPIER_UV_NEW}")
def update_copier_uv(ctx: Context) -> list[float]:
    """The same update for copier-uv between its two real releases (a larger change than
    prodready's one comment)."""
    return update_samples(ctx, copier_uv(ctx), COPIER_UV_OLD, COPIER_UV_NEW, *COPIER_UV_ANSWERS)


@benchmark("files-copier-uv", f"files of a new copier-uv {COPIER_UV_NEW} project (without .git)", unit="files")
def files_copier_uv(ctx: Context) -> list[float]:
    """Files that `copier copy --defaults` of copier-uv writes: what a team starts with."""
    project = fresh(ctx, "project")
    timed(copy_command(project, *COPIER_UV_ANSWERS, template=copier_uv(ctx), ref=COPIER_UV_NEW))
    return [float(len(project_files(project)))]
