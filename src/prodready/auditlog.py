"""The append-only key audit log: who made or rotated which key, when — never the value.

One JSON object per line in ``var/audit/keys.jsonl`` (git-ignored, mode 0600). Lines are only
ever appended (``O_APPEND``), so concurrent writers cannot interleave half-lines and no
command rewrites history. A key's age is the time since its last ``generate`` or ``rotate``
event for that environment. Standard library only.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from pathlib import Path
from typing import Any

from . import envfile, keyrules

AUDIT_LOG = Path("var/audit/keys.jsonl")
# Events that give a key a new value, and so restart its age.
CHANGES = ("generate", "rotate")


def now() -> dt.datetime:
    """Return the current time in UTC (a function so tests can pin it)."""
    return dt.datetime.now(dt.UTC)


def actor() -> str:
    """Return who runs the command: the CI actor, else the login name."""
    name = os.environ.get("GITHUB_ACTOR") or os.environ.get("GITLAB_USER_LOGIN")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record(
    action: str, env: str, name: str, value: str, previous: str | None = None, log: Path = AUDIT_LOG
) -> dict[str, str]:
    """Append one event; the value appears only as its fingerprint.

    Returns:
        The event as written.
    """
    event = {
        "time": now().isoformat(timespec="seconds"),
        "env": env,
        "key": name,
        "action": action,
        "actor": actor(),
        "fingerprint": keyrules.fingerprint(value),
    }
    if previous is not None:
        event["previous_fingerprint"] = keyrules.fingerprint(previous)
    log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, envfile.SECRET_FILE_MODE)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(event, sort_keys=True) + "\n")
    return event


def events(log: Path = AUDIT_LOG) -> list[dict[str, Any]]:
    """Read every well-formed event, oldest first; a missing log has none."""
    if not log.exists():
        return []
    found = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            # A torn or hand-edited line must not hide the events around it.
            continue
        if isinstance(event, dict) and {"time", "env", "key", "action"} <= event.keys():
            found.append(event)
    return found


def last_changes(env: str, log: Path = AUDIT_LOG) -> dict[str, dict[str, Any]]:
    """Return the latest ``generate``/``rotate`` event of each key in ``env``, by key name."""
    return {event["key"]: event for event in events(log) if event["env"] == env and event["action"] in CHANGES}


def last_reencryption(env: str, log: Path = AUDIT_LOG) -> dict[str, Any] | None:
    """Return the latest ``reencrypt`` event of ``env``, or None.

    The service's re-encryption command (``python -m <package>.admin reencrypt``) appends it
    after a finished run: the fingerprint of the key every value is now on, and the counts.
    """
    found = [event for event in events(log) if event["env"] == env and event["action"] == "reencrypt"]
    return found[-1] if found else None


def age_days(event: dict[str, Any]) -> float | None:
    """Return the days since ``event``, or None when its time does not parse."""
    try:
        when = dt.datetime.fromisoformat(str(event["time"]))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return (now() - when).total_seconds() / 86400


def overdue(env: str, max_age_days: int, log: Path = AUDIT_LOG) -> dict[str, float]:
    """Return the keys of ``env`` whose last change is older than ``max_age_days``, with their age."""
    late: dict[str, float] = {}
    changes = last_changes(env, log)
    for name in keyrules.KEY_NAMES:
        event = changes.get(name)
        age = age_days(event) if event else None
        if age is not None and age > max_age_days:
            late[name] = age
    return late
