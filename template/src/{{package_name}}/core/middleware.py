"""Pure ASGI middleware: request ids, access log, security headers and a body-size limit.

Written against ASGI directly rather than ``BaseHTTPMiddleware``, which copies every response
through an extra task and costs a large share of throughput on small requests.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_body
from .logging import log_access, request_id_var

error_logger = logging.getLogger(__name__)
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
    (b"cache-control", b"no-store"),
)
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


class _BodyTooLargeError(HTTPException):
    """The body grew past the limit while it was being read.

    An ``HTTPException`` so that FastAPI's body parsing passes it on instead of turning it into
    a generic 400; the app's handler then answers 413 with the JSON error body.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes", headers={"Connection": "close"})


class RequestContextMiddleware:
    """Give each request an id, log it, add security headers and bound its body size."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, hsts: bool) -> None:
        """Wrap ``app``; ``hsts`` adds Strict-Transport-Security (HTTPS deployments)."""
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.headers = SECURITY_HEADERS + ((HSTS,) if hsts else ())
        self._header_names = frozenset(name for name, _ in self.headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request; other scopes pass through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = dict(scope["headers"])
        incoming = request_headers.get(b"x-request-id", b"").decode("latin-1")
        # 128 random bits as 32 hex characters, like uuid4().hex without the UUID object.
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else os.urandom(16).hex()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                # A header the app set itself wins over the default (usually there is none).
                ours = (
                    self.headers
                    if present.isdisjoint(self._header_names)
                    else [header for header in self.headers if header[0] not in present]
                )
                headers += ours
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            length = request_headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                await self._too_large(send_with_headers)
                return
            received = 0

            async def bounded_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        raise _BodyTooLargeError(self.max_body_bytes)
                return message

            try:
                # A body over the limit met while streaming surfaces as an HTTPException and is
                # answered 413 by the app's own handler.
                await self.app(scope, bounded_receive, send_with_headers)
            except Exception:
                if response_started:
                    raise
                # Answered here rather than by Starlette's outermost error middleware, so that
                # the 500 carries the request id and the security headers like every answer.
                error_logger.exception("unhandled error")
                await self._send_error(send_with_headers, 500, "internal_error", "an unexpected error occurred")
        finally:
            log_access(scope["method"], scope["path"], status, round((time.perf_counter() - started) * 1000, 2))
            request_id_var.reset(token)

    async def _too_large(self, send: Send) -> None:
        message = f"the request body exceeds {self.max_body_bytes} bytes"
        await self._send_error(send, 413, "payload_too_large", message)

    @staticmethod
    async def _send_error(send: Send, status: int, code: str, message: str) -> None:
        body = json.dumps(error_body(code, message))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})
