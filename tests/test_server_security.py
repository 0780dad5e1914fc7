"""Tenancy and auth: a key of tenant A never shows tenant B's memory, on any route.

Both tenants store memories for a user with the same id ("alice"); B's contain a secret and
facts learned from it. Every route is called with A's key, aimed at B's data, and its whole
response is searched for B's secret and B's turn, fact and episode ids; B's memory must be
unchanged afterwards. A final check fails when a route is added without a case here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient
from httpx import Response

from engram import AsyncMemory, HashingEmbedder
from engram.auth import create_key, revoke_key
from engram.server import create_app
from tests.agent_isolation_cases import AGENT_ROUTE_CASES

SECRET = "globex launch code is 7741"
B_FACTS = "I live in Zanzibar and I work as a rocket engineer."
MARKERS = (SECRET, "globex", "b-secret", "gina", "Zanzibar", "rocket")


@dataclass
class World:
    client: TestClient
    key_a: str
    key_b: str
    b_ids: list[str]
    b_export: bytes
    b_fact_ids: list[str]
    b_episode_ids: list[str]

    @property
    def b_memory_ids(self) -> list[str]:
        """B's alice's turn, fact and episode ids."""
        return self.b_ids + self.b_fact_ids + self.b_episode_ids

    def b_lifecycle(self) -> tuple[list[tuple[str, bool, bool]], list[tuple[str, bool, bool]]]:
        """B's alice's facts and episodes, with their pinned and archived flags."""
        params = {"user_id": "alice", "include_history": True, "include_archived": True}
        facts = self.client.get("/v1/facts", headers=self.as_b(), params=params).json()["items"]
        params = {"user_id": "alice", "include_archived": True}
        episodes = self.client.get("/v1/episodes", headers=self.as_b(), params=params).json()["items"]
        return ([(f["id"], f["pinned"], f["archived_at"] is None) for f in facts],
                [(e["id"], e["pinned"], e["archived_at"] is None) for e in episodes])

    def as_a(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key_a}"}

    def as_b(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key_b}"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with tenant_world(tmp_path / "tenants.db") as built:
        yield built


@contextmanager
def tenant_world(path: Path) -> Iterator[World]:
    """Two tenants on one server, B's alice holding a secret (also used by tests/reliability_probes.py)."""
    memory = AsyncMemory(path, embedder=HashingEmbedder())
    _, key_a = create_key(memory.sync.store, "acme")
    _, key_b = create_key(memory.sync.store, "globex")
    with TestClient(create_app(memory, require_keys=True)) as client:
        b = {"Authorization": f"Bearer {key_b}"}
        chat = [{"role": "user", "content": SECRET}, {"role": "assistant", "content": "noted, launch code kept"},
                {"role": "user", "content": B_FACTS}]
        b_ids = client.post("/v1/turns", headers=b, json={"user_id": "alice", "session_id": "b-secret",
                                                         "messages": chat}).json()["ids"]
        client.post("/v1/turns", headers=b, json={"user_id": "gina", "session_id": "b-only",
                                                  "messages": [{"role": "user", "content": "globex only"}]})
        a = {"Authorization": f"Bearer {key_a}"}
        client.post("/v1/turns", headers=a, json={"user_id": "alice", "session_id": "a-public",
                                                  "messages": [{"role": "user", "content": "acme launch plan"}]})
        export = client.get("/v1/export", headers=b, params={"with_vectors": True}).content
        world = World(client, key_a, key_b, b_ids, export, [], [])
        facts, episodes = world.b_lifecycle()
        world.b_fact_ids, world.b_episode_ids = [f[0] for f in facts], [e[0] for e in episodes]
        assert len(world.b_fact_ids) == 2 and len(world.b_episode_ids) == 1
        yield world
    memory.sync.close()


def assert_clean(world: World, response: Response, *, echoed: tuple[str, ...] = ()) -> None:
    """Nothing of B's in the response, beyond what A's request itself named (``echoed``, ids)."""
    assert response.status_code < 500, response.text
    text = response.text
    for marker in MARKERS:
        assert marker in echoed or marker not in text, marker
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        if "not_found_ids" in body:  # a delete or pin receipt echoes the ids asked for: none was touched
            assert body.get("deleted_ids", body.get("updated_ids")) == []
            assert set(body["not_found_ids"]) <= set(world.b_memory_ids)
            return
        if response.status_code == 404:  # "no turn 't_…' for user 'alice'": the id asked for
            return
    assert not any(memory_id in text for memory_id in world.b_memory_ids)


Case = Callable[[World], Response]

#: (method, path) → a call of that route with tenant A's key, aimed at tenant B's data.
ROUTE_CASES: dict[tuple[str, str], Case] = {
    ("POST", "/v1/turns"): lambda w: w.client.post(
        "/v1/turns", headers=w.as_a(),
        json={"user_id": "alice", "session_id": "b-secret", "messages": [{"role": "user", "content": SECRET}]}),
    ("POST", "/v1/search"): lambda w: w.client.post(
        "/v1/search", headers=w.as_a(), json={"user_id": "alice", "query": "launch code 7741", "k": 50,
                                              "explain": True}),
    ("POST", "/v1/context"): lambda w: w.client.post(
        "/v1/context", headers=w.as_a(), json={"user_id": "alice", "query": "launch code",
                                               "session_id": "b-secret"}),
    ("GET", "/v1/turns"): lambda w: w.client.get("/v1/turns", headers=w.as_a(), params={"user_id": "alice"}),
    ("GET", "/v1/turns/{turn_id}"): lambda w: w.client.get(
        f"/v1/turns/{w.b_ids[0]}", headers=w.as_a(), params={"user_id": "alice"}),
    ("DELETE", "/v1/turns/{turn_id}"): lambda w: w.client.delete(
        f"/v1/turns/{w.b_ids[0]}", headers=w.as_a(), params={"user_id": "alice"}),
    ("POST", "/v1/delete"): lambda w: w.client.post(
        "/v1/delete", headers=w.as_a(), json={"user_id": "alice", "ids": w.b_ids}),
    ("GET", "/v1/users"): lambda w: w.client.get("/v1/users", headers=w.as_a()),
    ("GET", "/v1/sessions"): lambda w: w.client.get("/v1/sessions", headers=w.as_a(), params={"user_id": "alice"}),
    ("GET", "/v1/stats"): lambda w: w.client.get("/v1/stats", headers=w.as_a()),
    ("GET", "/v1/export"): lambda w: w.client.get("/v1/export", headers=w.as_a(), params={"with_vectors": True}),
    ("POST", "/v1/import"): lambda w: w.client.post(
        "/v1/import", headers=w.as_a() | {"content-type": "application/x-ndjson"}, content=w.b_export),
    ("GET", "/v1/facts"): lambda w: w.client.get(
        "/v1/facts", headers=w.as_a(), params={"user_id": "alice", "include_history": True,
                                               "include_archived": True}),
    ("GET", "/v1/facts/{fact_id}/history"): lambda w: w.client.get(
        f"/v1/facts/{w.b_fact_ids[0]}/history", headers=w.as_a(), params={"user_id": "alice"}),
    ("GET", "/v1/profile"): lambda w: w.client.get("/v1/profile", headers=w.as_a(), params={"user_id": "alice"}),
    ("GET", "/v1/episodes"): lambda w: w.client.get(
        "/v1/episodes", headers=w.as_a(), params={"user_id": "alice", "include_archived": True}),
    ("POST", "/v1/consolidate"): lambda w: w.client.post(
        "/v1/consolidate", headers=w.as_a(), json={"user_id": "alice"}),
    ("POST", "/v1/forget"): lambda w: w.client.post(
        "/v1/forget", headers=w.as_a(), json={"user_id": "alice", "session_id": "b-secret", "ids": w.b_memory_ids}),
    ("POST", "/v1/pin"): lambda w: w.client.post(
        "/v1/pin", headers=w.as_a(), json={"user_id": "alice", "ids": w.b_memory_ids, "action": "pin"}),
    **AGENT_ROUTE_CASES,
}


@pytest.mark.parametrize("route", sorted(ROUTE_CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_tenant_a_never_sees_tenant_b(world: World, route: tuple[str, str]) -> None:
    b_before = world.b_lifecycle()
    assert_clean(world, ROUTE_CASES[route](world))
    # B's memory is untouched, whatever A did
    b_turns = world.client.get("/v1/turns", headers=world.as_b(), params={"user_id": "alice"}).json()["items"]
    assert [turn["id"] for turn in b_turns] == world.b_ids
    assert world.b_lifecycle() == b_before
    stats_a = world.client.get("/v1/stats", headers=world.as_a()).json()
    if route == ("POST", "/v1/import"):
        # A imported a file holding B's export: A now owns copies under ids of its own,
        # and B's turns are neither reached nor revealed.
        a_turns = world.client.get("/v1/turns", headers=world.as_a(), params={"user_id": "alice"}).json()["items"]
        assert not {turn["id"] for turn in a_turns} & set(world.b_ids)
    else:
        assert stats_a["users"] == 1  # acme has only its own alice, whatever it wrote


def test_a_sees_only_its_own_counts(world: World) -> None:
    assert world.client.get("/v1/stats", headers=world.as_a()).json()["turns"] == 1
    assert world.client.get("/v1/stats", headers=world.as_b()).json()["turns"] == 4
    users = world.client.get("/v1/users", headers=world.as_a()).json()["items"]
    assert [(u["user_id"], u["turns"]) for u in users] == [("alice", 1)]


def test_every_route_has_an_isolation_case(world: World) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    served = {(method.upper(), path) for path, item in paths.items() if path.startswith("/v1") for method in item}
    assert served == set(ROUTE_CASES)


@pytest.mark.parametrize("path", ["/", "/user?user_id=alice", "/search?user_id=alice&q=launch+code+7741",
                                  "/search?user_id=alice&q=where+do+I+live+and+work",
                                  "/user?user_id=alice&session_id=b-secret"])
def test_inspector_shows_only_the_key_tenant(world: World, path: str) -> None:
    response = world.client.get(path, headers=world.as_a())
    assert response.status_code == 200
    assert_clean(world, response, echoed=("b-secret",) if "b-secret" in path else ())


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing API key"),
        ({"Authorization": "Bearer engram_not-a-real-key"}, "unknown or revoked"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "must be 'Bearer KEY'"),
        ({"Authorization": "Bearer"}, "must be 'Bearer KEY'"),
    ],
)
def test_requests_without_a_valid_key_are_refused(world: World, headers: dict[str, str], message: str) -> None:
    for method, path in ROUTE_CASES:
        concrete = path.replace("{turn_id}", "t_x").replace("{fact_id}", "f_x")
        response = world.client.request(method, concrete, headers=headers, params={"user_id": "alice"})
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
        assert message in response.json()["error"]["message"]


def test_probes_need_no_key(world: World) -> None:
    assert world.client.get("/health").status_code == 200
    assert world.client.get("/ready").status_code == 200


def test_revoked_key_stops_working_at_once(world: World) -> None:
    store = world.client.app.state.engram.tenants.store  # type: ignore[attr-defined]
    assert world.client.get("/v1/stats", headers=world.as_a()).status_code == 200
    key_id = next(key.id for key in store.list_api_keys("acme"))
    revoke_key(store, key_id)
    response = world.client.get("/v1/stats", headers=world.as_a())
    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]


def test_inspector_redirects_to_sign_in_and_keeps_the_key_in_a_strict_cookie(world: World) -> None:
    client = world.client
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    wrong = client.post("/login", content=b"key=engram_wrong", headers={"content-type": "application/x-www-form-urlencoded"})
    assert wrong.status_code == 401 and "unknown or revoked" in wrong.text
    signed = client.post("/login", content=f"key={world.key_a}".encode(),
                         headers={"content-type": "application/x-www-form-urlencoded"}, follow_redirects=False)
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    page = client.get("/")
    assert page.status_code == 200 and "acme" in page.text
    assert_clean(world, page)
    # the cookie opens the inspector only, never the API (no cross-site requests with it)
    assert client.get("/v1/stats").status_code == 401
    client.post("/logout")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_keyless_server_checks_the_host_header(tmp_path: Path) -> None:
    memory = AsyncMemory(tmp_path / "local.db", embedder=HashingEmbedder())
    app = create_app(memory, require_keys=False, allowed_hosts=["127.0.0.1", "localhost"], mcp=False)
    with TestClient(app, base_url="http://127.0.0.1:8765") as local:
        assert local.get("/v1/stats").status_code == 200
    with TestClient(app, base_url="http://attacker.example") as rebound:  # DNS rebinding
        assert rebound.get("/v1/stats").status_code == 400
    memory.sync.close()


def test_stored_markup_is_escaped_in_the_inspector(world: World) -> None:
    payload = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    name = "<svg onload=alert(3)>"
    world.client.post("/v1/turns", headers=world.as_a(), json={
        "user_id": "x<b>y", "session_id": "s\"><i>", "messages": [
            {"role": "user", "content": payload, "name": name},
            {"role": "user", "content": "I live in Paris <script>alert(4)</script>", "name": name}]})
    facts = world.client.get("/v1/facts", headers=world.as_a(), params={"user_id": "x<b>y"}).json()["items"]
    assert facts and facts[0]["subject"] == name  # markup reaches the facts, the profile and the episodes
    for path in ["/", "/user?user_id=x%3Cb%3Ey", "/search?user_id=x%3Cb%3Ey&q=script+alert",
                 "/search?user_id=x%3Cb%3Ey&q=where+does+svg+live+Paris"]:
        page = world.client.get(path, headers=world.as_a())
        assert page.status_code == 200
        assert "<script>" not in page.text and "<img" not in page.text and "<svg" not in page.text
        assert "<b>y" not in page.text
        assert "script-src" not in page.headers["content-security-policy"]  # no scripts at all
        assert "default-src 'none'" in page.headers["content-security-policy"]
    user_page = world.client.get("/user?user_id=x%3Cb%3Ey", headers=world.as_a()).text
    assert "&lt;script&gt;" in user_page and "&lt;svg onload=alert(3)&gt; lives in Paris" in user_page
