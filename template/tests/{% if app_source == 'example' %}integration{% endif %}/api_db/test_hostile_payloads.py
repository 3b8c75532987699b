"""Hostile input against the real database: stored and returned verbatim, or refused with 4xx.

SQL fragments are data, never SQL: they come back byte for byte and the tables they name are
still there. Text in any script (emoji, right-to-left, combining marks, direction overrides)
survives the round trip through the database and the cache. NUL, which PostgreSQL text cannot
hold, is refused with 422 on every text field. Page sizes stay within their bounds.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import auth_headers, build_app, make_settings, running
from tests.factories import create_user

PAYLOADS = {
    "sql-drop": "'; DROP TABLE users; --",
    "sql-bobby": "Robert'); DROP TABLE items;--",
    "sql-tautology": "' OR '1'='1' /* \" OR \"\"=\" */",
    "sql-wildcards": "100% _done_ \\%",
    "emoji": "👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 😀",
    "rtl": "שלום עולם مرحبا بالعالم",
    "bidi-override": "abc\u202edcba\u202c",
    "combining": "e\u0301 n\u0303 Z\u0336\u0335",
    "zero-width": "a\u200bb\u200dc\ufeffd",
    "cjk": "日本語のテキスト 中文 한국어",
    "format-strings": "%s %d {0} {name} ${HOME} $(id)",
    "markup": "<script>alert(1)</script> &amp; </title>",
    "whitespace": " \t leading and trailing \r\n ",
    "backslashes": "C:\\path\\to\\file \\x00 \\u0000",
    "astral": "\U0001d518\U0001d52b\U0001d526 \U00013000 \U0001f004",  # outside the BMP: 4 bytes in UTF-8
}


@pytest.mark.parametrize("text", PAYLOADS.values(), ids=PAYLOADS.keys())
async def test_text_is_stored_and_returned_verbatim(
    client: httpx.AsyncClient, headers: dict[str, str], text: str
) -> None:
    body = {"title": text[:200], "description": text, "secret_note": text}

    created = await client.post("/items", json=body, headers=headers)
    assert created.status_code == 201, created.text
    item_url = f"/items/{created.json()['id']}"
    first_read = (await client.get(item_url, headers=headers)).json()
    cached_read = (await client.get(item_url, headers=headers)).json()
    updated = await client.patch(item_url, json={"description": text + text}, headers=headers)
    listed = (await client.get("/items", headers=headers, params={"limit": 100})).json()

    for read in (created.json(), first_read, cached_read):
        assert (read["title"], read["description"], read["secret_note"]) == (text[:200], text, text)
    assert updated.json()["description"] == text + text
    assert any(item["id"] == created.json()["id"] and item["title"] == text[:200] for item in listed["items"])


async def test_sql_in_every_field_stays_data_and_the_tables_stay(client: httpx.AsyncClient) -> None:
    registration = {
        "email": "o'reilly+drop@example.com",
        "password": "'; DROP TABLE users; --Aa1",
        "full_name": "'; DELETE FROM users; --",
    }

    registered = await client.post("/auth/register", json=registration)
    login = await client.post(
        "/auth/token", data={"username": registration["email"], "password": registration["password"]}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    me = await client.get("/users/me", headers=headers)
    wrong = await client.post("/auth/token", data={"username": "' OR 1=1 --", "password": "' OR 1=1 --"})
    malformed_id = await client.get("/items/' OR 1=1 --", headers=headers)

    assert registered.status_code == 201, registered.text
    assert login.status_code == 200
    assert me.json()["full_name"] == registration["full_name"]
    assert me.json()["email"] == registration["email"]
    assert wrong.status_code == 401
    assert malformed_id.status_code == 422
    assert (await client.get("/items", headers=headers)).json()["total"] == 0


@pytest.mark.parametrize("field", ["title", "description", "secret_note"])
async def test_nul_is_refused_in_every_text_field(
    client: httpx.AsyncClient, headers: dict[str, str], field: str
) -> None:
    body = {"title": "fine", field: "before\x00after"}

    created = await client.post("/items", json=body, headers=headers)
    registered = await client.post(
        "/auth/register", json={"email": "nul@example.com", "password": "Valid-Password-1", "full_name": "a\x00b"}
    )

    for response in (created, registered):
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "validation_error"


async def test_page_sizes_stay_within_their_bounds(database_url: str, session: AsyncSession) -> None:
    # An app of its own with a small maximum, so that a full page costs a few rows only.
    owner = await create_user(session)
    settings = make_settings(app_env="testing", database_url=database_url, app={"max_page_size": 5})
    async with running(build_app(settings)) as client:
        headers = auth_headers(owner, settings)
        for n in range(7):
            assert (await client.post("/items", json={"title": f"row {n}"}, headers=headers)).status_code == 201

        clamped = (await client.get("/items", headers=headers, params={"limit": 1000})).json()
        last = (await client.get("/items", headers=headers, params={"limit": 5, "offset": 5})).json()
        refused = [
            await client.get("/items", headers=headers, params=params)
            for params in ({"limit": 1001}, {"limit": 0}, {"offset": -1}, {"offset": 1_000_001}, {"limit": "1; --"})
        ]

    assert (clamped["limit"], len(clamped["items"]), clamped["total"]) == (5, 5, 7)
    assert [item["title"] for item in last["items"]] == ["row 5", "row 6"]
    assert [response.status_code for response in refused] == [422] * 5
