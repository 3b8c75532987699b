"""In-process cache with TTL and a size bound (development and single-process use)."""

from __future__ import annotations

import time
from collections import OrderedDict


class MemoryCache:
    """A least-recently-used dictionary whose entries expire."""

    def __init__(self, max_entries: int) -> None:
        """Keep at most ``max_entries`` values."""
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max_entries = max_entries

    async def get(self, key: str) -> bytes | None:
        """Return a live value, dropping it when expired."""
        entry = self._data.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= time.monotonic():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        """Store ``value``, evicting the least recently used entry when full."""
        self._data[key] = (time.monotonic() + ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max_entries:
            self._data.popitem(last=False)

    async def incr(self, key: str, ttl: int) -> int:
        """Add one to the counter under ``key``; a new counter expires after ``ttl`` seconds."""
        entry = self._data.get(key)
        now = time.monotonic()
        if entry is None or entry[0] <= now:
            count, expires_at = 1, now + ttl
        else:
            count, expires_at = int(entry[1]) + 1, entry[0]
        self._data[key] = (expires_at, str(count).encode())
        self._data.move_to_end(key)
        while len(self._data) > self._max_entries:
            self._data.popitem(last=False)
        return count

    async def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        self._data.pop(key, None)

    async def ping(self) -> None:
        """Always reachable."""

    async def close(self) -> None:
        """Drop every entry."""
        self._data.clear()
