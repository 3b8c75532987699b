"""Pure ASGI middleware: host check, request ids, access log, security headers, request limits.

It also answers 404 itself for a path whose first segment starts no route (``/wp-login.php``,
``/.env``: what scanners ask for): the router would compare it with every route, twice (once
more with the trailing slash toggled), before answering the same 404.

One class does all of it, written against ASGI directly: every layer of middleware is another
coroutine per request, and ``BaseHTTPMiddleware`` copies every response through an extra task.
On a small request those layers, not the work they do, were most of the cost; see
docs/benchmarks-service.md in the template for the figures.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping

from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_body
from .hosts import HostAllowList
from .logging import log_access, request_id_var

error_logger = logging.getLogger(__name__)
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Request ids made ahead, 256 at a time (see new_request_id).
_REQUEST_IDS: list[str] = []


def new_request_id() -> str:
    """Return 128 random bits as 32 hex characters, like ``uuid4().hex`` without the UUID object.

    ``os.urandom`` releases the GIL for its system call; with inference or other work on
    threads, taking it back can wait for a whole switch interval (5 ms), so one call per
    request stalled the event loop under load. One call makes 256 ids instead. ``list.pop``
    is atomic, so threads never share an id.
    """
    try:
        return _REQUEST_IDS.pop()
    except IndexError:
        block = os.urandom(16 * 256).hex()
        _REQUEST_IDS.extend(block[start : start + 32] for start in range(32, len(block), 32))
        return block[:32]


# A forked worker (gunicorn, multiprocessing) must not hand out its parent's ids.
os.register_at_fork(after_in_child=_REQUEST_IDS.clear)

# The headers OWASP's REST Security Cheat Sheet asks of an API: no caching of answers that may
# be personal, no MIME sniffing, no framing (both the old header and CSP's frame-ancestors),
# and no content loaded by a browser that opens an answer directly. The document-only headers
# (Referrer-Policy, Permissions-Policy, COOP) govern HTML pages, which this service does not
# serve outside development's /docs.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
)
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")
# /docs (development and testing only) loads Swagger UI's script and styles from a CDN; its
# pages get a policy that allows exactly that instead of the API's "nothing at all".
DOCS_CSP = (
    b"default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    b"connect-src 'self'; frame-ancestors 'none'"
)


class _BodyTooLargeError(HTTPException):
    """The body grew past the limit while it was being read.

    An ``HTTPException`` so that FastAPI's body parsing passes it on instead of turning it into
    a generic 400; the app's handler then answers 413 with the JSON error body.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes", headers={"Connection": "close"})


class _BodyTimeoutError(HTTPException):
    """The body did not arrive in time; answered 408 by the app's handler, like the 413 above."""

    def __init__(self, seconds: float) -> None:
        message = f"the request body did not arrive within {seconds:g} seconds"
        super().__init__(408, message, headers={"Connection": "close"})


def routed_segments(routes: list[BaseRoute], prefix: str = "") -> frozenset[str] | None:
    """Return the first path segments of ``routes`` (``items`` for ``/items/{item_id}``).

    None when one of them does not start with a fixed segment (``/{name}``, a mount at the
    root) or is of a kind not known here: then every path may be routed.
    """
    segments: set[str] = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI's included router: its routes, under its include prefix
            context = getattr(route, "include_context", None)
            inner = routed_segments(included.routes, prefix + getattr(context, "prefix", ""))
            if inner is None:
                return None
            segments |= inner
            continue
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            return None
        full = prefix + path
        end = full.find("/", 1)
        first = full[1:] if end < 0 else full[1:end]
        if not full.startswith("/") or "{" in first or (not first and full != "/"):
            return None
        segments.add(first)
    return frozenset(segments)


class RequestContextMiddleware:
    """Check the host, give each request an id, log it, add security headers, bound its size and time."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        hsts: bool,
        allowed_hosts: Iterable[str] = ("*",),
        *,
        max_headers: int = 100,
        max_header_bytes: int = 32_768,
        body_timeout: float = 15.0,
        fixed_answers: Mapping[str, bytes] | None = None,
    ) -> None:
        """Wrap ``app``; ``hsts`` adds Strict-Transport-Security (HTTPS deployments).

        ``max_headers`` and ``max_header_bytes`` (names and values together) bound the request
        headers (431 above either); ``body_timeout`` is the seconds a request's whole body may
        take to arrive (408 after). ``fixed_answers`` maps paths to a JSON body that never
        changes: a ``GET`` of one is answered 200 here, after the checks and before routing (the
        liveness probe: that this process answers is all it says). A request with an ``Origin``
        header, or behind a ``root_path``, goes to the app as any other.
        """
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_headers = max_headers
        self.max_header_bytes = max_header_bytes
        self.body_timeout = body_timeout
        self.headers = SECURITY_HEADERS + ((HSTS,) if hsts else ())
        csp = b"content-security-policy"
        self.docs_headers = tuple((name, DOCS_CSP if name == csp else value) for name, value in self.headers)
        self._header_names = frozenset(name for name, _ in self.headers)
        self.hosts = HostAllowList(allowed_hosts)
        self.fixed_answers = dict(fixed_answers or {})
        # The first path segments the app's routes start with, and the route list they were read from.
        self._routed: tuple[object, int, frozenset[str] | None] = (None, -1, None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request; other scopes pass through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # One pass over the request headers (ASGI servers give their names in lowercase).
        host = incoming = length = None
        has_body = two_hosts = False
        header_bytes = 0
        for name, value in scope["headers"]:
            header_bytes += len(name) + len(value)
            if name == b"host":
                # Starlette reads the first Host header, a check reading the last could be
                # passed with an allowed name after a forged one: more than one is refused.
                two_hosts = two_hosts or host is not None
                host = value
            elif name == b"x-request-id":
                incoming = value
            elif name == b"content-length":
                length, has_body = value, value != b"0"
            elif name == b"transfer-encoding":
                has_body = True
        supplied = incoming.decode("latin-1") if incoming is not None else ""
        request_id = supplied if _VALID_REQUEST_ID.match(supplied) else new_request_id()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        defaults = self.docs_headers if scope["path"].startswith("/docs") else self.headers
        ours = (*defaults, (b"x-request-id", request_id.encode()))

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", ()))
                # A header the app set itself wins over the default (usually there is none).
                for name, _ in headers:
                    if name.lower() in self._header_names:
                        present = {name.lower() for name, _ in headers}
                        headers.extend(header for header in ours if header[0] not in present)
                        break
                else:
                    headers.extend(ours)
                message["headers"] = headers
            await send(message)

        try:
            # The server (httptools) has read the headers by now, so this bounds what the app
            # handles, not the server's memory; a reverse proxy in front bounds that.
            if len(scope["headers"]) > self.max_headers or header_bytes > self.max_header_bytes:
                message = f"the request headers exceed {self.max_headers} fields or {self.max_header_bytes} bytes"
                await self._send_error(send_with_headers, 431, "headers_too_large", message)
                return
            if two_hosts:
                message = "the request has more than one Host header"
                await self._send_error(send_with_headers, 400, "invalid_host", message)
                return
            if not self.hosts.allows(host):
                message = "the Host header names no host served here"
                await self._send_error(send_with_headers, 400, "invalid_host", message)
                return
            if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                message = f"the request body exceeds {self.max_body_bytes} bytes"
                await self._send_error(send_with_headers, 413, "payload_too_large", message)
                return
            fixed = self.fixed_answers.get(scope["path"]) if scope["method"] == "GET" else None
            if fixed is not None and not scope.get("root_path") and not _has_origin(scope):
                await _send_json(send_with_headers, 200, fixed)
                return
            if self._unrouted(scope):
                await self._send_not_found(send_with_headers)
                return
            try:
                # A body over the limit, or one that stops arriving, surfaces as an HTTPException
                # and is answered 413 or 408 by the app's own handler. Without a body there is
                # nothing to count or wait for.
                if has_body:
                    deadline = asyncio.get_running_loop().time() + self.body_timeout
                    await self.app(scope, self._bounded(receive, deadline), send_with_headers)
                else:
                    await self.app(scope, receive, send_with_headers)
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

    def _unrouted(self, scope: Scope) -> bool:
        """Whether no route of the app can match this request's path (its first segment starts none).

        Requests from browsers (an ``Origin`` header, which CORS answers) and behind a
        ``root_path`` always go to the router, as does everything when a route's first segment
        is not a fixed name.
        """
        app = scope.get("app")
        routes: list[BaseRoute] | None = getattr(app, "routes", None)
        if routes is None or scope.get("root_path"):
            return False
        known, size, segments = self._routed
        if known is not routes or size != len(routes):
            segments = routed_segments(routes)
            self._routed = (routes, len(routes), segments)
        if segments is None:
            return False
        path: str = scope["path"]
        end = path.find("/", 1)
        if (path[1:] if end < 0 else path[1:end]) in segments:
            return False
        return not _has_origin(scope)

    def _bounded(self, receive: Receive, deadline: float) -> Receive:
        """Wrap ``receive``: a body past the size limit or the ``deadline`` (loop time) raises.

        Only the body has the deadline: once it is complete, the app may wait on ``receive``
        for as long as it likes (a streaming answer listening for the client to go away).
        """
        received = 0
        complete = False

        async def bounded_receive() -> Message:
            nonlocal received, complete
            if complete:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _BodyTimeoutError(self.body_timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLargeError(self.max_body_bytes)
                complete = not message.get("more_body", False)
            return message

        return bounded_receive

    @staticmethod
    async def _send_not_found(send: Send) -> None:
        """Answer the router's own 404 as the app's handler writes it (core/errors.py), byte for byte."""
        content = error_body("not_found", "Not Found")
        body = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()
        await _send_json(send, 404, body)

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


def _has_origin(scope: Scope) -> bool:
    """Whether the request came from a browser page (CORS answers those, inside the app)."""
    return any(name == b"origin" for name, _ in scope["headers"])


async def _send_json(send: Send, status: int, body: bytes) -> None:
    """Answer ``body`` as JSON, as Starlette's ``Response`` writes it."""
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
