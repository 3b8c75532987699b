"""Smoke: a freshly started server answers its probes and publishes its API description."""

from __future__ import annotations

import asyncio
import re

import httpx

from tests.e2e.conftest import Server


async def test_liveness(http: httpx.AsyncClient) -> None:
    response = await http.get("/health/live")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readiness_checks_the_database_and_the_cache(http: httpx.AsyncClient) -> None:
    response = await http.get("/health/ready")

    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["cache"]["status"] == "ok"


async def test_openapi_describes_every_route(http: httpx.AsyncClient) -> None:
    response = await http.get("/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {
        "/health/live",
        "/health/ready",
        "/auth/register",
        "/auth/token",
        "/users/me",
        "/users",
        "/items",
        "/items/{item_id}",
    } <= set(schema["paths"])


async def test_interactive_docs_are_served_in_development(http: httpx.AsyncClient) -> None:
    response = await http.get("/docs")

    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "swagger-ui" in response.text


async def test_answers_carry_a_request_id_and_security_headers(http: httpx.AsyncClient) -> None:
    mine = await http.get("/health/live", headers={"X-Request-ID": "smoke-test-1"})
    generated = await http.get("/health/live")

    assert mine.headers["x-request-id"] == "smoke-test-1"
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    assert generated.headers["x-content-type-options"] == "nosniff"
    assert generated.headers["x-frame-options"] == "DENY"


async def test_errors_are_json_over_the_wire(http: httpx.AsyncClient) -> None:
    response = await http.get("/no/such/page")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]


async def test_an_oversized_body_is_refused_before_it_is_read(server: Server) -> None:
    # A raw request that announces 2 MiB and sends none of it: the answer must not wait for it.
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2097152\r\n\r\n"
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    finally:
        writer.close()

    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"x-request-id: " in head.lower()
