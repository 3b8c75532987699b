"""Bounded bursts against the real server: every request answered, none failed.

2,000 requests with 64 in flight at once: half on the probe, half on an authenticated read that
goes through the token check, the database and the cache. The server's own log must show no
error either: a 200 that hid a logged failure would not count as a success.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e import loadgen
from tests.e2e.conftest import Server
from tests.factories import ItemPayloadFactory

# Slow: run by `make test-reliability` (CI and the template's slow tier), not `make test`.
pytestmark = pytest.mark.reliability

REQUESTS = 1_000  # per burst
CONCURRENCY = 64


def _errors_logged_since(server: Server, offset: int) -> list[str]:
    lines = server.output()[offset:].splitlines()
    return [line for line in lines if line.startswith("{") and json.loads(line)["level"] in ("ERROR", "CRITICAL")]


async def test_a_burst_on_liveness_answers_every_request(server: Server) -> None:
    offset = len(server.output())
    async with loadgen.clients(server.url, CONCURRENCY) as http:
        tally = await loadgen.burst(http, "/health/live", total=REQUESTS, concurrency=CONCURRENCY)

    assert tally.statuses == {200: REQUESTS}, str(tally)
    assert not tally.errors, str(tally)
    assert _errors_logged_since(server, offset) == []


async def test_a_burst_on_an_authenticated_read_answers_every_request(server: Server, http: httpx.AsyncClient) -> None:
    headers = await loadgen.sign_up(http)
    created = await http.post("/items", json=ItemPayloadFactory(secret_note="under load"), headers=headers)
    assert created.status_code == 201, created.text
    offset = len(server.output())

    item_path = f"/items/{created.json()['id']}"
    async with loadgen.clients(server.url, CONCURRENCY, headers) as burst_http:
        tally = await loadgen.burst(burst_http, item_path, total=REQUESTS, concurrency=CONCURRENCY)
    last = await http.get(item_path, headers=headers)

    assert tally.statuses == {200: REQUESTS}, str(tally)
    assert not tally.errors, str(tally)
    assert last.json() == created.json()
    assert _errors_logged_since(server, offset) == []
