"""Liveness and readiness probes.

The probes are added to the app itself (:func:`register`), not through an included router as
the API's routes are: an orchestrator calls them every few seconds on every replica, and
FastAPI's included-router dispatch and response-model validation would be most of their cost.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from ...models.schemas import Check, Health

logger = logging.getLogger(__name__)
# A probe must answer quickly even when a dependency hangs.
CHECK_TIMEOUT_SECONDS = 2.0
# The liveness answer never changes: Health(status="ok") serialized once.
_LIVE_BODY = Health(status="ok").model_dump_json().encode()


def register(app: FastAPI) -> None:
    """Add ``GET /health/live`` and ``GET /health/ready`` to ``app``."""
    app.add_api_route("/health/live", live, methods=["GET"], response_model=Health, tags=["health"])
    app.add_api_route(
        "/health/ready",
        ready,
        methods=["GET"],
        response_model=Health,
        responses={503: {"model": Health}},
        tags=["health"],
    )


async def live() -> Response:
    """Answer 200 while the process can serve requests; checks no dependency."""
    return Response(_LIVE_BODY, media_type="application/json")


async def ready(request: Request) -> JSONResponse:
    """Check every configured dependency; 503 names the ones that failed.

    The database is required: without it the service cannot answer. The cache is not: when it
    fails, reads bypass it, so the service reports ``degraded`` and stays in rotation.

    The answer is public (load balancers call it without credentials), so a failed dependency
    is only "unavailable" there; what failed, and how, is in the log.
    """
    checks: dict[str, Check] = {}
    checks["database"] = await _check("database", request.app.state.database.ping())
    checks["cache"] = await _check("cache", request.app.state.cache.ping())
    if checks["database"].status == "error":
        status, code = "error", 503
    elif checks["cache"].status == "error":
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    body = Health(status=status, checks=checks)
    return JSONResponse(status_code=code, content=body.model_dump())


async def _check(name: str, probe) -> Check:  # type: ignore[no-untyped-def]
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure of a dependency is reported, not raised
        # The class only: a driver's message may carry hosts and user names (URLs with passwords).
        logger.warning("readiness check of %s failed: %s", name, type(exc).__name__)
        return Check(status="error", detail="unavailable")
    return Check(status="ok")
