"""Load for the reliability tests: bounded bursts over HTTP, a server of a test's own, raw requests.

Everything here targets 127.0.0.1 and is bounded: a burst sends a fixed number of requests, a
stream of requests stops when told to, and every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import FAST_HASHING_ENV, PACKAGE, ROOT, free_port, run_migrations
from tests.factories import PASSWORD, RegistrationFactory

STARTUP_TIMEOUT = 30
CONNECTIONS_PER_CLIENT = 4


@dataclass
class Tally:
    """What a burst got back: status codes, transport errors by type, how long it took."""

    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    def __str__(self) -> str:
        return f"statuses {dict(self.statuses)}, errors {dict(self.errors)}, {self.seconds:.2f} s"


@asynccontextmanager
async def clients(
    url: str, concurrency: int, headers: dict[str, str] | None = None
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """HTTP clients for ``url`` with ``concurrency`` connections in all.

    httpx's pool does work in proportion to its size on every request, so a single client with
    64 connections makes the client, not the server, the bottleneck: clients of
    :data:`CONNECTIONS_PER_CLIENT` connections each keep the load generator cheap.
    """
    count = -(-concurrency // CONNECTIONS_PER_CLIENT)
    # Idle connections expire on the client before the server's keep-alive timeout (5 s): with
    # both at 5 s, a request can go out on a connection the server is closing at that moment,
    # which is a race of the test's client, not an error of the service.
    limits = httpx.Limits(
        max_connections=CONNECTIONS_PER_CLIENT,
        max_keepalive_connections=CONNECTIONS_PER_CLIENT,
        keepalive_expiry=2.0,
    )
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(httpx.AsyncClient(base_url=url, limits=limits, timeout=30, headers=headers))
            for _ in range(count)
        ]


async def burst(http: list[httpx.AsyncClient], path: str, *, total: int, concurrency: int) -> Tally:
    """GET ``path`` ``total`` times, at most ``concurrency`` requests at once, spread over ``http``."""
    tally = Tally()
    remaining = iter(range(total))

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in remaining:  # one iterator shared by every worker: exactly `total` requests
            try:
                response = await client.get(path)
            except httpx.TransportError as exc:
                tally.errors[type(exc).__name__] += 1
            else:
                tally.statuses[response.status_code] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(http[n % len(http)]) for n in range(concurrency)))
    tally.seconds = time.perf_counter() - started
    return tally


async def stream(http: list[httpx.AsyncClient], path: str, *, concurrency: int, stop: asyncio.Event) -> Tally:
    """GET ``path`` from ``concurrency`` workers until ``stop`` is set or the server refuses them.

    A worker stops at its first transport error: once the server stops accepting connections
    there is nothing more to send.
    """
    tally = Tally()

    async def worker(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            try:
                response = await client.get(path)
            except httpx.TransportError as exc:
                tally.errors[type(exc).__name__] += 1
                return
            tally.statuses[response.status_code] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(http[n % len(http)]) for n in range(concurrency)))
    tally.seconds = time.perf_counter() - started
    return tally


async def sign_up(http: httpx.AsyncClient) -> dict[str, str]:
    """Register a new user and log in through the API; return the Authorization header."""
    registration = RegistrationFactory()
    registered = await http.post("/auth/register", json=registration)
    assert registered.status_code == 201, registered.text
    login = await http.post("/auth/token", data={"username": registration["email"], "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


@dataclass
class Served:
    """A server started with the production entry point (``python -m <package>.serve``)."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    database: Path

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        assert parts.hostname is not None
        assert parts.port is not None
        return parts.hostname, parts.port

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _launch(workdir: Path, variables: dict[str, str]) -> Served:
    database = workdir / "served.db"
    run_migrations(f"sqlite+aiosqlite:///{database}")
    port = free_port()
    env = {
        **os.environ,
        **FAST_HASHING_ENV,
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "APP__LOG_LEVEL": "INFO",
        "SERVER__HOST": "127.0.0.1",
        "SERVER__PORT": str(port),
        "SERVER__WORKERS": "1",
        **variables,
    }
    log = workdir / "served.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - a fixed command line made by the test itself
            [sys.executable, "-m", f"{PACKAGE}.serve"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    return Served(f"http://127.0.0.1:{port}", process, log, database)


async def start_serve(workdir: Path, **variables: str) -> Served:
    """Start ``python -m <package>.serve`` as a container would, on a fresh SQLite file and a free port.

    ``variables`` are extra environment variables (``SERVER__GRACEFUL_TIMEOUT="5"``). Fails the
    test, with the server's output, when it does not answer ``/health/live`` in time.
    """
    served = await asyncio.to_thread(_launch, workdir, variables)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    async with httpx.AsyncClient(base_url=served.url, timeout=1) as http:
        while time.monotonic() < deadline:
            if served.process.poll() is not None:
                pytest.fail(f"the server exited with {served.process.returncode}:\n{served.output()}", pytrace=False)
            try:
                if (await http.get("/health/live")).status_code == 200:
                    return served
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    served.process.kill()
    await asyncio.to_thread(served.process.wait)
    pytest.fail(f"the server did not answer within {STARTUP_TIMEOUT} s:\n{served.output()}", pytrace=False)


async def refuses_connections(address: tuple[str, int], within: float) -> bool:
    """Return True once connecting to ``address`` is refused; False if it still accepts after ``within`` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection(*address)
        except ConnectionRefusedError:
            return True
        except ConnectionResetError:
            # The listener closed with this connection still in its backlog: not yet a refusal,
            # the next attempt shows whether the port is really closed.
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await asyncio.sleep(0.05)
    return False


@dataclass
class Response:
    """A response read off a raw connection."""

    status: int
    headers: dict[str, str]
    body: bytes


class HalfSentRequest:
    """A request whose headers and first half of the body are sent; the rest waits for :meth:`finish`.

    Until then the server has accepted the request and its handler is waiting for the body:
    a request in flight, for as long as the test wants.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rest: bytes) -> None:
        self.reader, self.writer, self.rest = reader, writer, rest

    @classmethod
    async def send(cls, address: tuple[str, int], path: str, body: bytes, headers: dict[str, str]) -> HalfSentRequest:
        reader, writer = await asyncio.open_connection(*address)
        lines = [f"POST {path} HTTP/1.1", f"Host: {address[0]}:{address[1]}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        half = len(body) // 2
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body[:half])
        await writer.drain()
        return cls(reader, writer, body[half:])

    async def finish(self, within: float) -> Response:
        """Send the rest of the body and read the whole response, waiting at most ``within`` s for each part."""
        try:
            self.writer.write(self.rest)
            await self.writer.drain()
            head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), within)
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in header_lines if line)
            }
            body = await asyncio.wait_for(self.reader.readexactly(int(headers["content-length"])), within)
            return Response(int(status_line.split()[1]), headers, body)
        finally:
            self.writer.close()
