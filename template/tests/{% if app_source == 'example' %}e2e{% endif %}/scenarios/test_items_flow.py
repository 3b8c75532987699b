"""Scenarios a client runs against the real server: sign up, log in, manage items."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.loadgen import sign_up
from tests.factories import PASSWORD, ItemPayloadFactory


@pytest.fixture(scope="module")
async def alice(http: httpx.AsyncClient) -> dict[str, str]:
    return await sign_up(http)


@pytest.fixture(scope="module")
async def bob(http: httpx.AsyncClient) -> dict[str, str]:
    return await sign_up(http)


async def test_a_user_manages_their_items(http: httpx.AsyncClient, alice: dict[str, str]) -> None:
    first = await http.post("/items", json=ItemPayloadFactory(title="first", secret_note="psst"), headers=alice)
    second = await http.post("/items", json=ItemPayloadFactory(title="second"), headers=alice)
    assert first.status_code == second.status_code == 201

    listed = (await http.get("/items", headers=alice)).json()
    assert [item["title"] for item in listed["items"]] == ["first", "second"]
    assert listed["total"] == 2

    item_url = f"/items/{first.json()['id']}"
    updated = await http.patch(item_url, json={"title": "first, renamed"}, headers=alice)
    assert updated.status_code == 200
    assert updated.json()["secret_note"] == "psst"
    assert (await http.get(item_url, headers=alice)).json()["title"] == "first, renamed"

    assert (await http.delete(item_url, headers=alice)).status_code == 204
    assert (await http.get(item_url, headers=alice)).status_code == 404
    assert (await http.get("/items", headers=alice)).json()["total"] == 1


async def test_users_never_see_each_others_items(
    http: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    private = await http.post("/items", json=ItemPayloadFactory(title="alice only"), headers=alice)
    item_url = f"/items/{private.json()['id']}"

    assert all(item["title"] != "alice only" for item in (await http.get("/items", headers=bob)).json()["items"])
    assert (await http.get(item_url, headers=bob)).status_code == 404
    assert (await http.patch(item_url, json={"title": "bob was here"}, headers=bob)).status_code == 404
    assert (await http.delete(item_url, headers=bob)).status_code == 404
    assert (await http.get(item_url, headers=alice)).json()["title"] == "alice only"


async def test_me_and_the_admin_only_user_list(http: httpx.AsyncClient, bob: dict[str, str]) -> None:
    me = await http.get("/users/me", headers=bob)

    assert me.status_code == 200
    assert me.json()["role"] == "user"
    assert (await http.get("/users", headers=bob)).status_code == 403


async def test_requests_without_a_valid_token_are_refused(http: httpx.AsyncClient) -> None:
    assert (await http.get("/items")).status_code == 401
    assert (await http.get("/items", headers={"Authorization": "Bearer forged.token.value"})).status_code == 401


async def test_a_wrong_password_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.post("/auth/token", data={"username": "nobody@example.com", "password": PASSWORD})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
