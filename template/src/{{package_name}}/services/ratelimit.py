"""Fixed-window rate limiting, shared by every worker through the cache (Redis when present).

When the cache backend fails the limiter lets the request through (fail open) and logs it:
an outage of the cache must not lock every user out of logging in.
"""

from __future__ import annotations

import hashlib
import logging
import time

from ..cache import SafeCache
from ..core.errors import RateLimitedError
from ..core.settings import RateLimitConfig

logger = logging.getLogger(__name__)


async def hit(cache: SafeCache, config: RateLimitConfig, scope: str, client: str) -> None:
    """Count one attempt by ``client`` on ``scope``.

    Raises:
        RateLimitedError: the client used up its attempts in the current window.
    """
    if not config.enabled:
        return
    window = int(time.time()) // config.window_seconds
    # Hash the client id so addresses never appear in cache keys (or a Redis MONITOR log).
    client_id = hashlib.sha256(client.encode()).hexdigest()[:16]
    count = await cache.incr(f"ratelimit:{scope}:{client_id}:{window}", config.window_seconds)
    if count is None:
        logger.warning("rate limiter unavailable; allowing the request", extra={"scope": scope})
        return
    if count > config.login_attempts:
        retry_after = config.window_seconds - int(time.time()) % config.window_seconds
        raise RateLimitedError(f"too many attempts; retry in {retry_after} seconds", retry_after=retry_after)
