"""Command-line parser of the ops CLI; each group lives in its own module."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Sequence

from . import config, deps, keys, readiness, security


# Built once per process: argparse looks up translations on disk for every argument it adds,
# which made building the parser cost more than most commands (tests run the CLI hundreds of
# times in one process). Parsing never changes the parser, so sharing it is safe.
@functools.cache
def build_parser() -> argparse.ArgumentParser:
    """Build the parser with every group's commands."""
    parser = argparse.ArgumentParser(
        prog="python -m ops",
        description="Operations on this project: keys, security, config, dependencies, readiness.",
    )
    groups = parser.add_subparsers(dest="group", required=True, metavar="GROUP")
    for module in (keys, security, config, deps, readiness):
        module.register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.handler(args))
