"""One JSON error body for every failure: ``{"error": {"code", "message", "request_id"}}``."""

from __future__ import annotations

import logging
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .logging import request_id_var

logger = logging.getLogger(__name__)


class AppError(Exception):
    """An error the API reports to the client with a status and a stable code."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        """Keep the client-facing message."""
        super().__init__(message)
        self.message = message


class NotFoundError(AppError):
    """The resource does not exist (or is not visible to the caller)."""

    status_code = 404
    code = "not_found"


class ConflictError(AppError):
    """The request conflicts with existing state, such as a taken email."""

    status_code = 409
    code = "conflict"


class AuthenticationError(AppError):
    """Missing or invalid credentials."""

    status_code = 401
    code = "unauthorized"


class PermissionDeniedError(AppError):
    """Authenticated, but not allowed."""

    status_code = 403
    code = "forbidden"


class StoredValueError(AppError):
    """A stored value failed its integrity check (tampered, or moved from another row).

    A server-side fault, not the client's; the value is withheld rather than guessed at.
    """

    status_code = 500
    code = "stored_value_unreadable"


class RateLimitedError(AppError):
    """Too many attempts in the current window."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        """Keep the seconds until the window resets, for the Retry-After header."""
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailableError(AppError):
    """A dependency the request needs is unreachable."""

    status_code = 503
    code = "service_unavailable"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """Build the error body shared by every handler."""
    error: dict[str, Any] = {"code": code, "message": message, "request_id": request_id_var.get()}
    if details is not None:
        error["details"] = details
    return {"error": error}


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=body, headers=headers)


# Starlette types every handler as taking Exception; each is registered for one class only.
async def _app_error(_: Request, raised: Exception) -> JSONResponse:
    exc = cast(AppError, raised)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    if isinstance(exc, RateLimitedError):
        headers = {"Retry-After": str(exc.retry_after)}
    return _json(exc.status_code, error_body(exc.code, exc.message), headers)


_HTTP_ERROR_CODES = {404: "not_found", 405: "method_not_allowed", 408: "request_timeout", 413: "payload_too_large"}


async def _http_error(_: Request, raised: Exception) -> JSONResponse:
    exc = cast(StarletteHTTPException, raised)
    code = _HTTP_ERROR_CODES.get(exc.status_code, "http_error")
    return _json(exc.status_code, error_body(code, str(exc.detail)), getattr(exc, "headers", None))


async def _validation_error(_: Request, raised: Exception) -> JSONResponse:
    exc = cast(RequestValidationError, raised)
    details = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return _json(422, error_body("validation_error", "the request is not valid", details))


# PostgreSQL's query_canceled: a statement ran past database.statement_timeout.
_STATEMENT_TIMEOUT = "57014"


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == _STATEMENT_TIMEOUT:
        # Slow, not broken: 503 so clients retry later, as for any other overload.
        logger.error("database statement timed out", exc_info=exc)
        return _json(503, error_body("service_unavailable", "the database did not answer in time"))
    refused = isinstance(exc, DBAPIError) and not isinstance(exc, OperationalError | InterfaceError)
    if refused and not cast(DBAPIError, exc).connection_invalidated:
        # The database is up but refused the statement (bad data, a constraint): a bug to fix,
        # not an outage, so it must not send clients and load balancers away with a 503.
        return await _unexpected(request, exc)
    # Connection failures become 503 so clients and load balancers retry elsewhere;
    # the exception is logged, never sent to the client.
    logger.error("database unavailable", exc_info=exc)
    return _json(503, error_body("service_unavailable", "the database is unavailable"))


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error", exc_info=exc)
    return _json(500, error_body("internal_error", "an unexpected error occurred"))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into the JSON error body."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(OSError, _database_error)
    # No pooled connection freed up within database.pool_timeout: overloaded, so 503 as well.
    app.add_exception_handler(PoolTimeoutError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
