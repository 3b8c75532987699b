"""Read and append to dotenv files without ever rewriting what is already there.

A ``.env`` file holds a developer's keys: the ops CLI only appends to it, so every existing
byte (values, comments, ordering, a user's own lines) survives ``keys ensure`` and
``copier update``. Standard library only.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
# Owner read/write only: keys must not be readable by other users of the machine.
SECRET_FILE_MODE = 0o600


def parse(text: str) -> dict[str, str]:
    """Parse dotenv text into a mapping; later assignments win, as in a shell."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            continue
        name, raw = match.groups()
        values[name] = _unquote(raw)
    return values


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    # An unquoted value ends at an inline comment.
    return re.split(r"\s+#", raw, maxsplit=1)[0]


def read(path: Path) -> dict[str, str]:
    """Parse the dotenv file at ``path``; a missing file is empty."""
    if not path.exists():
        return {}
    return parse(path.read_text(encoding="utf-8"))


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
