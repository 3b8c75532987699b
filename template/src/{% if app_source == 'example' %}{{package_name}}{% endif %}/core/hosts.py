"""The Host header values a deployment answers to (``app.allowed_hosts``)."""

from __future__ import annotations

from collections.abc import Iterable

# Accepted Host values are remembered, up to this many, so the usual request skips parsing.
_HOST_CACHE_SIZE = 256


class HostAllowList:
    """The Host header values a deployment answers to: exact names and ``*.domain`` wildcards.

    Outside development the service accepts only its own names, so a forged Host header can't
    steer absolute URLs, caches or routing in front of it (``app.allowed_hosts``; ``*`` is
    refused there by ``config validate``).
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        """Accept ``patterns``: ``api.example.com``, ``*.example.com`` (subdomains only) or ``*``."""
        self.any = False
        self.names: set[str] = set()
        self.suffixes: list[str] = []
        for pattern in (pattern.strip().lower() for pattern in patterns):
            if pattern == "*":
                self.any = True
            elif pattern.startswith("*.") and "*" not in pattern[2:] and len(pattern) > 2:
                self.suffixes.append(pattern[1:])
            elif "*" in pattern:
                raise ValueError(f"allowed host {pattern!r}: a wildcard must be the first label, as in *.example.com")
            elif not pattern:
                raise ValueError("allowed host '': empty; name a host such as api.example.com")
            else:
                self.names.add(pattern)
        self._accepted: set[bytes] = set()

    def allows(self, header: bytes | None) -> bool:
        """Return True when the raw Host header ``header`` names an allowed host (any port)."""
        if self.any:
            return True
        if header is None:
            return False
        if header in self._accepted:
            return True
        host = _host_name(header.decode("latin-1"))
        if host is None:
            return False
        allowed = host in self.names or any(host.endswith(suffix) for suffix in self.suffixes)
        if allowed and len(self._accepted) < _HOST_CACHE_SIZE:
            self._accepted.add(header)
        return allowed


def _host_name(value: str) -> str | None:
    """Return the lowercase host of a Host header (``name[:port]``, ``[v6][:port]``), or None."""
    host, port = value, ""
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[: end + 1], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:]
    elif ":" in value:
        host, _, port = value.rpartition(":")
    if not host or (port and not port.isdigit()) or any(c in host for c in " /\\@?#"):
        return None
    return host.lower()
