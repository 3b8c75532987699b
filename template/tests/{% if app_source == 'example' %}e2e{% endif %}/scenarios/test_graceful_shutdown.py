"""SIGTERM during traffic: requests already accepted finish, new ones are refused, exit 0 in time.

The server is the production entry point (``python -m <package>.serve``), started for this test
alone with a short grace period. Requests whose bodies are only half sent when SIGTERM arrives
are in flight for as long as the test wants: the server must wait for them and answer each in
full. A stream of other requests runs meanwhile: every answer it gets must be a 200, and its
only failures may be connections the server no longer accepts.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.e2e import loadgen
from tests.factories import ItemPayloadFactory

# Slow: run by `make test-reliability` (CI and the template's slow tier), not `make test`.
pytestmark = pytest.mark.reliability

GRACE_SECONDS = 5
IN_FLIGHT = 8
CONCURRENCY = 32
# Transport errors of requests the server never accepted: a refused connection, or a kept-alive
# connection it closed while idle (the client learns that only when it tries to reuse it).
NOT_ACCEPTED = {"ConnectError", "RemoteProtocolError", "ReadError"}


async def test_sigterm_lets_in_flight_requests_finish_and_exits_0(tmp_path: Path) -> None:
    served = await loadgen.start_serve(tmp_path, SERVER__GRACEFUL_TIMEOUT=str(GRACE_SECONDS))
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=10) as http:
            headers = await loadgen.sign_up(http)
        payloads = [ItemPayloadFactory(title=f"in flight {n}", secret_note="kept") for n in range(IN_FLIGHT)]
        in_flight = [
            await loadgen.HalfSentRequest.send(
                served.address,
                "/items",
                json.dumps(payload).encode(),
                {**headers, "Content-Type": "application/json"},
            )
            for payload in payloads
        ]
        stop = asyncio.Event()
        async with loadgen.clients(served.url, CONCURRENCY) as stream_http:
            streaming = asyncio.create_task(
                loadgen.stream(stream_http, "/health/live", concurrency=CONCURRENCY, stop=stop)
            )
            # A request on a newer connection answered: the server has read the half-sent ones
            # (it reads ready connections in the order they came) and their handlers are waiting.
            async with httpx.AsyncClient(base_url=served.url, timeout=10) as probe:
                assert (await probe.get("/health/live")).status_code == 200
            await asyncio.sleep(0.2)

            signalled = time.monotonic()
            served.process.send_signal(signal.SIGTERM)
            refused = await loadgen.refuses_connections(served.address, within=GRACE_SECONDS - 1)
            answers = [await request.finish(within=GRACE_SECONDS) for request in in_flight]
            stop.set()
            tally = await streaming
        code = await asyncio.to_thread(served.process.wait, GRACE_SECONDS + 5)
        stopped_after = time.monotonic() - signalled
    finally:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait()
    output = served.output()

    assert refused, "the server still accepted connections after SIGTERM"
    assert [answer.status for answer in answers] == [201] * IN_FLIGHT, output
    assert [json.loads(answer.body)["title"] for answer in answers] == [p["title"] for p in payloads]
    assert all(answer.headers.get("connection") == "close" for answer in answers)
    assert set(tally.statuses) == {200}, str(tally)
    assert set(tally.errors) <= NOT_ACCEPTED, str(tally)
    assert code == 0, output
    assert stopped_after < GRACE_SECONDS, f"stopped {stopped_after:.1f} s after SIGTERM"
    assert "graceful shutdown exceeded" not in output
    assert "Application shutdown complete" in output
    with closing(sqlite3.connect(served.database)) as database:
        stored = {title for (title,) in database.execute("SELECT title FROM items")}
    assert stored == {p["title"] for p in payloads}
