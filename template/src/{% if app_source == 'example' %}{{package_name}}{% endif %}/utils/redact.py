"""Keep credentials out of logs and reports."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "***"


def redact_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***``; other parts are kept."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"{user}:{MASK}@{host}", parts.path, parts.query, parts.fragment))


def mask(value: str) -> str:
    """Describe a secret for display without revealing any of it."""
    return f"{MASK} ({len(value)} characters)" if value else "(empty)"
