"""Read dotenv files as the service does, and append to them without rewriting what is there.

Reading goes through python-dotenv, the parser pydantic-settings reads the service's ``.env``
with, so prodready and the service always agree on a value. ``${VAR}`` is expanded only on
request (``interpolate=True``: what the service would load, for ``config show``); the checks
read values as written, because a ``${DB_HOST}`` left in a file is exactly what they look for,
and expanding it would fill it from whatever shell runs the check.
Writing only appends: every existing byte of a developer's ``.env`` (values, comments,
ordering, their own lines) survives ``keys ensure`` and ``copier update``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from dotenv import dotenv_values

# Owner read/write only: keys must not be readable by other users of the machine.
SECRET_FILE_MODE = 0o600


class EnvFileError(ValueError):
    """A dotenv file cannot be read (not a file, not UTF-8)."""


def parse(text: str, interpolate: bool = False) -> dict[str, str]:
    """Parse dotenv text into a mapping; a name without a value maps to an empty string.

    With ``interpolate``, ``${VAR}`` is expanded from the text and the environment, as the
    service does; without it, values are as written.
    """
    values = dotenv_values(stream=io.StringIO(text), interpolate=interpolate)
    return {name: value or "" for name, value in values.items()}


def read(path: Path, interpolate: bool = False) -> dict[str, str]:
    """Parse the dotenv file at ``path`` (see :func:`parse`); a missing file is empty.

    Raises:
        EnvFileError: ``path`` is not a regular file or not UTF-8 text.
    """
    if not path.exists():
        return {}
    try:
        return parse(path.read_text(encoding="utf-8"), interpolate)
    except IsADirectoryError:
        raise EnvFileError(f"{path} is a directory, not a dotenv file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvFileError(f"{path} cannot be read as UTF-8 text ({exc})") from None


def append(path: Path, values: dict[str, str], header: str | None = None) -> None:
    """Append ``values`` to ``path``, creating it with mode 0600 when missing.

    Existing content is never rewritten; a missing final newline is added before the new
    lines so the last existing assignment is not corrupted.
    """
    if not values:
        return
    existed = path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, SECRET_FILE_MODE)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        prefix = ""
        if existed:
            content = path.read_bytes()
            if content and not content.endswith(b"\n"):
                prefix = "\n"
        lines = [prefix]
        if header:
            lines.append(f"# {header}\n")
        lines.extend(f"{name}={value}\n" for name, value in values.items())
        handle.write("".join(lines))
    if not existed:
        os.chmod(path, SECRET_FILE_MODE)
