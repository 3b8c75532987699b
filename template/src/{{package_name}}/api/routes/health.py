"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ...models.schemas import Check, Health

router = APIRouter(prefix="/health", tags=["health"])
logger = logging.getLogger(__name__)
# A probe must answer quickly even when a dependency hangs.
CHECK_TIMEOUT_SECONDS = 2.0


@router.get("/live", response_model=Health)
async def live() -> Health:
    """Answer 200 while the process can serve requests; checks no dependency."""
    return Health(status="ok")


@router.get("/ready", response_model=Health, responses={503: {"model": Health}})
async def ready(request: Request) -> JSONResponse:
    """Check every configured dependency; 503 names the ones that failed.

    The database is required: without it the service cannot answer. The cache is not: when it
    fails, reads bypass it, so the service reports ``degraded`` and stays in rotation.
    """
    checks: dict[str, Check] = {}
    checks["database"] = await _check(request.app.state.database.ping())
    checks["cache"] = await _check(request.app.state.cache.ping())
    if checks["database"].status == "error":
        status, code = "error", 503
    elif checks["cache"].status == "error":
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    body = Health(status=status, checks=checks)
    return JSONResponse(status_code=code, content=body.model_dump())


async def _check(probe) -> Check:  # type: ignore[no-untyped-def]
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure of a dependency is reported, not raised
        logger.warning("readiness check failed: %s", type(exc).__name__)
        return Check(status="error", detail=f"{type(exc).__name__}: unreachable or failing")
    return Check(status="ok")
