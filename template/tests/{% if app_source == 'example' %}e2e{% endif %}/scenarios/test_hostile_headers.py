"""Oversized and duplicated headers against the real server, whose parser sees them first.

The requests are written by hand: httpx refuses two Host headers, and its own header handling
takes far longer than the server's for twenty thousand of them.
"""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import Server

ANSWER_TIMEOUT = 10


async def _exchange(server: Server, *headers: bytes) -> tuple[bytes, bytes]:
    """Send ``GET /items/`` with ``headers`` (``Name: value`` lines) and return the answer's head and body."""
    port = int(server.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = b"".join(header + b"\r\n" for header in headers)
        writer.write(b"GET /items/ HTTP/1.1\r\n" + lines + b"Connection: close\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), ANSWER_TIMEOUT)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.lower(), body


async def test_an_8_mib_header_is_answered_431(server: Server) -> None:
    head, body = await _exchange(server, b"Host: 127.0.0.1", b"X-Filler: " + b"a" * 8 * 1024 * 1024)

    assert head.startswith(b"http/1.1 431 ")
    assert b"headers_too_large" in body


async def test_twenty_thousand_headers_are_answered_431(server: Server) -> None:
    head, body = await _exchange(server, b"Host: 127.0.0.1", *(b"X-H%d: 1" % n for n in range(20_000)))

    assert head.startswith(b"http/1.1 431 ")
    assert b"headers_too_large" in body


async def test_two_host_headers_are_answered_400_without_a_redirect(server: Server) -> None:
    head, body = await _exchange(server, b"Host: evil.example.net", b"Host: 127.0.0.1")

    assert head.startswith(b"http/1.1 400 ")
    assert b"location:" not in head
    assert b"invalid_host" in body
