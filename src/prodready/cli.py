"""The ``prodready`` command line; each group lives in its own module."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import adopt, config, deps, envfile, keyrules, keys, readiness, security, version


class _Version(argparse.Action):
    # argparse's own "version" action formats its text when the parser is built; this one
    # looks the version up only when asked.
    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        parser.exit(message=f"prodready {version()}\n")


# Built once per process: argparse looks up translations on disk for every argument it adds,
# which made building the parser cost more than most commands (tests run the CLI hundreds of
# times in one process). Parsing never changes the parser, so sharing it is safe.
@functools.cache
def build_parser() -> argparse.ArgumentParser:
    """Build the parser with every group's commands."""
    parser = argparse.ArgumentParser(
        prog="prodready",
        description="Production readiness of a Python service: check any repository; keys, security, "
        "configuration and dependencies of a project made by the prodready template.",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    parser.add_argument("-C", dest="directory", type=Path, metavar="DIR", help="run as if started in DIR (like git -C)")
    groups = parser.add_subparsers(dest="group", required=True, metavar="GROUP")
    for module in (readiness, adopt, keys, security, config, deps):
        module.register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.directory is not None:
        try:
            os.chdir(args.directory)
        except OSError as exc:
            parser.error(f"-C {args.directory}: {exc.strerror}")
    try:
        return int(args.handler(args))
    except (keyrules.KeyRulesError, envfile.EnvFileError) as exc:
        # A project file the command needs is missing or unreadable: one line, not a traceback.
        print(f"prodready {args.group}: {exc}", file=sys.stderr)
        return 2
