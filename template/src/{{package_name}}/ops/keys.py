"""``keys`` group: make sure every key exists, without ever changing one that does."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import shutil
import subprocess
from pathlib import Path

from . import envfile, keyrules

AUDIT_LOG = Path("var/audit/keys.jsonl")


def register(groups: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``keys`` commands."""
    parser = groups.add_parser("keys", help="generate and check the service's keys")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ensure = commands.add_parser(
        "ensure", help="add missing keys to the development .env (existing values never change)"
    )
    ensure.add_argument("--file", type=Path, default=Path(".env"), help="dotenv file (default: .env)")
    ensure.set_defaults(handler=ensure_command)


def is_tracked(path: Path) -> bool:
    """Return True when git tracks ``path`` (False outside a repository or without git)."""
    git = shutil.which("git")
    if git is None:
        return False
    try:
        # A fixed argument list without a shell: nothing here is interpreted.
        result = subprocess.run(  # noqa: S603
            [git, "ls-files", "--error-unmatch", "--", path.name],
            capture_output=True,
            check=False,
            cwd=path.parent,
        )
    except OSError:
        return False
    return result.returncode == 0


def audit(action: str, env: str, name: str, value: str, log: Path = AUDIT_LOG) -> None:
    """Append one event to the key audit log: never the value, only its fingerprint."""
    log.parent.mkdir(parents=True, exist_ok=True)
    event = {
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "env": env,
        "key": name,
        "action": action,
        "actor": os.environ.get("GITHUB_ACTOR") or _user(),
        "fingerprint": keyrules.fingerprint(value),
    }
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, envfile.SECRET_FILE_MODE)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(event) + "\n")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def ensure(path: Path) -> list[str]:
    """Append every missing key to ``path``; return the names added.

    Raises:
        RuntimeError: ``path`` is tracked by git, so a key written there would be committed.
    """
    if is_tracked(path):
        raise RuntimeError(f"{path} is tracked by git: untrack it (git rm --cached {path}) before keys go in")
    existing = envfile.read(path)
    missing: dict[str, str] = {}
    if "APP_ENV" not in existing:
        missing["APP_ENV"] = "development"
    for spec in keyrules.KEYS:
        if not existing.get(spec.name):
            missing[spec.name] = spec.generate()
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    envfile.append(path, missing, header=f"added by `keys ensure` on {stamp}; never commit this file")
    if path.exists() and (path.stat().st_mode & 0o777) != envfile.SECRET_FILE_MODE:
        os.chmod(path, envfile.SECRET_FILE_MODE)
    for name, value in missing.items():
        if name in keyrules.KEY_NAMES:
            audit("generate", "development", name, value)
    return list(missing)


def ensure_command(args: argparse.Namespace) -> int:
    """Run ``keys ensure`` and report the names (never the values) it added."""
    try:
        added = ensure(args.file)
    except RuntimeError as exc:
        print(f"keys ensure: {exc}")
        return 1
    if added:
        print(f"keys ensure: added {', '.join(added)} to {args.file} (mode 0600)")
    else:
        print(f"keys ensure: {args.file} already has every key; nothing changed")
    return 0
