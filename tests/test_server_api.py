"""The REST API through the real ASGI app on a real SQLite file: every route, errors and limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from engram import AsyncMemory, HashingEmbedder
from engram.server import create_app
from engram.server.schemas import MAX_REQUEST_MESSAGES

CHAT = [
    {"role": "user", "content": "I moved to Lisbon in May", "timestamp": "2024-05-08T10:00:00Z"},
    {"role": "assistant", "content": "How do you like Lisbon so far?", "timestamp": "2024-05-08T10:00:05Z"},
    {"role": "user", "content": "My sister Ana visits in July", "timestamp": "2024-05-08T10:01:00Z"},
]


@pytest.fixture
def amem(tmp_path: Path) -> Iterator[AsyncMemory]:
    memory = AsyncMemory(tmp_path / "server.db", embedder=HashingEmbedder())
    yield memory
    memory.sync.close()


@pytest.fixture
def client(amem: AsyncMemory) -> Iterator[TestClient]:
    with TestClient(create_app(amem, require_keys=False)) as test_client:
        yield test_client


def add(client: TestClient, user: str = "alice", session: str = "s1", messages: list[dict] | None = None) -> dict:
    response = client.post("/v1/turns", json={"user_id": user, "session_id": session, "messages": messages or CHAT})
    assert response.status_code == 200, response.text
    return response.json()


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"embedder": "ok", "store": "ok"}}


def test_add_is_idempotent(client: TestClient) -> None:
    first = add(client)
    assert first["added"] == 3 and first["duplicates"] == 0 and len(first["ids"]) == 3
    assert first["facts_added"] and all(i.startswith("f_") for i in first["facts_added"])  # lives in Lisbon, ...
    assert first["episodes"] == 1 and first["facts_superseded"] == []
    again = add(client)
    assert again["added"] == 0 and again["duplicates"] == 3 and again["ids"] == first["ids"]
    assert again["facts_added"] == []


def test_search_with_and_without_explain(client: TestClient) -> None:
    ids = add(client)["ids"]
    plain = client.post("/v1/search", json={"user_id": "alice", "query": "Lisbon", "k": 1}).json()
    assert len(plain["hits"]) == 1 and plain["hits"][0]["turn"]["id"] in ids
    assert plain["hits"][0]["signals"] == {} and plain["left_out"] == []
    traced = client.post("/v1/search", json={"user_id": "alice", "query": "Lisbon", "k": 1, "explain": True}).json()
    assert "rrf" in traced["hits"][0]["signals"]
    assert len(traced["hits"]) + len(traced["left_out"]) == 3
    assert traced["left_out"][0]["rank"] == 2
    for recipe in ("engram", "hybrid", "bm25", "vector"):  # every named recipe, the default ("engram") too
        body = {"user_id": "alice", "query": "Lisbon", "config": recipe, "explain": True}
        assert client.post("/v1/search", json=body).status_code == 200, recipe


def test_search_filters_and_reference_time(client: TestClient) -> None:
    add(client)
    body = {"user_id": "alice", "query": "Lisbon", "filters": {"roles": ["assistant"]}}
    hits = client.post("/v1/search", json=body).json()["hits"]
    assert {hit["turn"]["role"] for hit in hits} == {"assistant"}
    before = client.post("/v1/search", json={"user_id": "alice", "query": "Lisbon", "reference_time": "2024-01-01"})
    assert before.json()["hits"] == []


def test_context_cites_turns(client: TestClient) -> None:
    ids = add(client)["ids"]
    body = {"user_id": "alice", "query": "where does she live", "session_id": "s1", "budget_tokens": 500}
    result = client.post("/v1/context", json=body).json()
    assert "Lisbon" in result["text"] and result["tokens"] <= 500
    assert {item["turn"]["id"] for item in result["items"]} <= set(ids)
    assert all(result["citations"][item["ref"]] == item["turn"]["id"] for item in result["items"])
    assert all(f"[{ref}]" in result["text"] for ref in result["citations"])
    facts = {fact["ref"]: fact for fact in result["facts"]}
    assert any(fact["value"] == "Lisbon" for fact in facts.values())
    assert all(result["citations"][ref] == fact["id"] and ref.startswith("F") for ref, fact in facts.items())


def test_turn_pages_walk_everything_once(client: TestClient) -> None:
    add(client, session="s1")
    add(client, session="s2", messages=[{"role": "user", "content": f"note {n}"} for n in range(5)])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"user_id": "alice", "limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/turns", params=params).json()
        seen += [turn["id"] for turn in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 8
    only_s1 = client.get("/v1/turns", params={"user_id": "alice", "session_id": "s1"}).json()["items"]
    assert {turn["session_id"] for turn in only_s1} == {"s1"}


def test_get_and_delete_turns(client: TestClient) -> None:
    ids = add(client)["ids"]
    turn = client.get(f"/v1/turns/{ids[0]}", params={"user_id": "alice"}).json()
    assert turn["content"] == CHAT[0]["content"] and turn["timestamp"].startswith("2024-05-08T10:00:00")
    one = client.delete(f"/v1/turns/{ids[0]}", params={"user_id": "alice"}).json()
    assert one["deleted_ids"] == [ids[0]]
    assert client.delete(f"/v1/turns/{ids[0]}", params={"user_id": "alice"}).status_code == 404
    many = client.post("/v1/delete", json={"user_id": "alice", "ids": [ids[1], ids[0]]}).json()
    assert many["deleted_ids"] == [ids[1]] and many["not_found_ids"] == [ids[0]]
    missing = client.get(f"/v1/turns/{ids[0]}", params={"user_id": "alice"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_users_and_sessions_paginate(client: TestClient) -> None:
    for user in ("u3", "u1", "u2"):
        add(client, user=user, session="a")
        add(client, user=user, session="b", messages=[{"role": "user", "content": "later", "timestamp": "2025-01-01"}])
    first = client.get("/v1/users", params={"limit": 2}).json()
    assert [u["user_id"] for u in first["items"]] == ["u1", "u2"] and first["next_cursor"] == "u2"
    rest = client.get("/v1/users", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [u["user_id"] for u in rest["items"]] == ["u3"] and rest["next_cursor"] is None
    assert rest["items"][0]["turns"] == 4 and rest["items"][0]["sessions"] == 2
    sessions = client.get("/v1/sessions", params={"user_id": "u1", "limit": 1}).json()
    assert [s["session_id"] for s in sessions["items"]] == ["b"]  # most recently active first
    more = client.get("/v1/sessions", params={"user_id": "u1", "cursor": sessions["next_cursor"]}).json()
    assert [s["session_id"] for s in more["items"]] == ["a"]


def test_stats_hide_the_server_file(client: TestClient) -> None:
    add(client)
    stats = client.get("/v1/stats").json()
    assert stats["turns"] == 3 and stats["users"] == 1 and stats["by_role"] == {"user": 2, "assistant": 1}
    assert "path" not in stats and "store_bytes" not in stats
    assert client.get("/v1/stats", params={"user_id": "nobody"}).json()["turns"] == 0


def test_export_then_import_round_trips(client: TestClient, tmp_path: Path) -> None:
    ids = add(client)["ids"]
    exported = client.get("/v1/export", params={"with_vectors": True})
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    lines = exported.text.strip().split("\n")
    assert json.loads(lines[0])["format"] == "engram-jsonl"
    assert [json.loads(line)["type"] for line in lines[1:]].count("turn") == 3
    other = AsyncMemory(tmp_path / "other.db", embedder=HashingEmbedder())
    try:
        with TestClient(create_app(other, require_keys=False)) as second:
            imported = second.post("/v1/import", content=exported.content,
                                   headers={"content-type": "application/x-ndjson"}).json()
            assert imported == imported | {"turns": 3, "added": 3, "embedded": 0}
            assert [t["id"] for t in second.get("/v1/turns", params={"user_id": "alice"}).json()["items"]] == ids
    finally:
        other.sync.close()


def test_export_streams_large_stores(client: TestClient) -> None:
    messages = [{"role": "user", "content": f"note number {n} " + "x" * 400} for n in range(MAX_REQUEST_MESSAGES)]
    add(client, messages=messages)
    with client.stream("GET", "/v1/export") as response:
        chunks = list(response.iter_text())
    assert len(chunks) > 1  # sent in pieces, not built whole
    assert "".join(chunks).count('"type":"turn"') == MAX_REQUEST_MESSAGES


def test_import_refuses_bad_files(client: TestClient) -> None:
    plain = client.post("/v1/import", content=b"{}", headers={"content-type": "text/plain"})
    assert plain.status_code == 415 and plain.json()["error"]["code"] == "unsupported_media_type"
    broken = client.post("/v1/import", content=b"not json\n", headers={"content-type": "application/x-ndjson"})
    assert broken.status_code == 422 and broken.json()["error"]["code"] == "validation_error"
    binary = client.post("/v1/import", content=b"\xff\xfe", headers={"content-type": "application/x-ndjson"})
    assert binary.status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("post", "/v1/turns", b"{not json", 400, "invalid_json"),
        ("post", "/v1/search", b'{"user_id": "a", "query": "q", "k": 0}', 422, "validation_error"),
        ("post", "/v1/search", b'{"user_id": "a", "query": "q", "k": "3"}', 422, "validation_error"),
        ("post", "/v1/search", b'{"user_id": "a", "query": "q", "surprise": 1}', 422, "validation_error"),
        ("post", "/v1/search", b'{"user_id": " a", "query": "q"}', 422, "validation_error"),
        ("post", "/v1/search", b'{"user_id": "a\\u200b\\u0007", "query": "q"}', 422, "validation_error"),
        ("post", "/v1/search", b'{"user_id": "a", "query": "q", "filters": {"since": "yesterday"}}', 422,
         "validation_error"),
        ("post", "/v1/turns", b'{"user_id": "a", "session_id": "s", "messages": []}', 422, "validation_error"),
        ("post", "/v1/turns", b'{"user_id": "a", "session_id": "s", "messages": [{"role": "boss", "content": "x"}]}',
         422, "validation_error"),
        ("get", "/v1/turns?user_id=a&cursor=garbage", None, 422, "validation_error"),
        ("get", "/v1/turns?user_id=a&limit=100000", None, 422, "validation_error"),
        ("get", "/v1/nothing", None, 404, "not_found"),
        ("put", "/v1/search", b"{}", 405, "method_not_allowed"),
    ],
)
def test_bad_requests_get_clear_json_errors(
    client: TestClient, method: str, path: str, body: bytes | None, status: int, code: str
) -> None:
    response = client.request(method, path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


def test_wrong_method_lists_the_allowed_ones(client: TestClient) -> None:
    response = client.put("/v1/turns")
    assert response.headers["allow"] == "GET, POST"


def test_body_and_batch_limits(tmp_path: Path, amem: AsyncMemory) -> None:
    with TestClient(create_app(amem, require_keys=False, max_body_bytes=10_000)) as small:
        big = {"user_id": "a", "session_id": "s", "messages": [{"role": "user", "content": "x" * 20_000}]}
        response = small.post("/v1/turns", json=big)
        assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"user_id": "a", "session_id": "s", "messages": ['
            for _ in range(100):
                yield b'{"role": "user", "content": "' + b"y" * 200 + b'"},'

        streamed = small.post("/v1/turns", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
    with TestClient(create_app(amem, require_keys=False)) as client:
        many = [{"role": "user", "content": f"m{n}"} for n in range(MAX_REQUEST_MESSAGES + 1)]
        response = client.post("/v1/turns", json={"user_id": "a", "session_id": "s", "messages": many})
        assert response.status_code == 422 and "messages" in response.json()["error"]["message"]
        assert client.get("/v1/stats").json()["turns"] == 0


AGENT_PATHS = {"/v1/runs", "/v1/runs/{run_id}", "/v1/runs/{run_id}/steps", "/v1/runs/{run_id}/subgoals",
               "/v1/runs/{run_id}/subgoals/close", "/v1/runs/{run_id}/finish", "/v1/runs/{run_id}/context",
               "/v1/experience", "/v1/lessons", "/v1/observations", "/v1/world/where", "/v1/world/seen-in"}


def test_openapi_documents_every_route(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = set(schema["paths"])
    assert {"/v1/turns", "/v1/search", "/v1/context", "/v1/turns/{turn_id}", "/v1/delete", "/v1/users",
            "/v1/sessions", "/v1/stats", "/v1/export", "/v1/import", "/health", "/ready",
            "/v1/facts", "/v1/facts/{fact_id}/history", "/v1/profile", "/v1/episodes", "/v1/consolidate",
            "/v1/forget", "/v1/pin"} | AGENT_PATHS == paths
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


def test_the_api_reference_page_is_served_from_here(client: TestClient) -> None:
    """/docs lists every route and schema without a script or anything fetched from elsewhere
    (FastAPI's Swagger UI loads from a CDN: offline, a blank page)."""
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    schema = client.get("/openapi.json").json()
    for path, item in schema["paths"].items():
        for method in item:
            assert f"{method.upper()}</span> <code>{path}</code>" in html
    assert 'id="schema-SearchIn"' in html and "<code>list[HitOut]</code>" in html
    assert "Whose memory to search." in html  # field descriptions are shown
    assert "<script" not in html and "https://" not in html and "http://" not in html
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert client.get("/redoc").status_code == 404


def test_routes_are_documented_in_docs() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "server.md").read_text()
    memory = AsyncMemory(":memory:", embedder=HashingEmbedder())
    schema = create_app(memory, require_keys=False, mcp=False).openapi()
    memory.sync.close()
    for path, item in schema["paths"].items():
        for method in item:
            assert f"{method.upper()} {path}" in docs, f"{method.upper()} {path} is not in docs/server.md"
