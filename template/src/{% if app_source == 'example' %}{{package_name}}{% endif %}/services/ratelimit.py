"""Fixed-window rate limiting, shared by every worker through the cache (Redis when present).

When the cache backend fails the limiter lets the request through (fail open) and logs a
warning per refused count: an outage of the cache must not lock every user out of logging in
or signing up. For as long as it lasts, login and registration are not limited; the readiness
probe reports the service ``degraded`` meanwhile, and the warnings say which limit was skipped.
"""

from __future__ import annotations

import hashlib
import logging
import time

from ..cache import SafeCache
from ..core.errors import RateLimitedError
from ..core.settings import RateLimitConfig

logger = logging.getLogger(__name__)


async def hit(cache: SafeCache, config: RateLimitConfig, scope: str, client: str, limit: int) -> None:
    """Count one attempt by ``client`` (an address, an account) on ``scope``; ``limit`` per window.

    Raises:
        RateLimitedError: the client used up its attempts in the current window.
    """
    if not config.enabled:
        return
    window = int(time.time()) // config.window_seconds
    # Hash the client id so addresses and emails never appear in cache keys (or a Redis MONITOR log).
    client_id = hashlib.sha256(client.encode()).hexdigest()[:16]
    count = await cache.incr(f"ratelimit:{scope}:{client_id}:{window}", config.window_seconds)
    if count is None:
        logger.warning("rate limiter unavailable; allowing the request", extra={"scope": scope})
        return
    if count > limit:
        retry_after = config.window_seconds - int(time.time()) % config.window_seconds
        raise RateLimitedError(f"too many attempts; retry in {retry_after} seconds", retry_after=retry_after)
