"""The lifecycle routes through the real ASGI app on a real SQLite file: a user's year, as an
API client sees it: facts that change, their history, the profile, episodes, forgetting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from engram import AsyncMemory, HashingEmbedder
from engram.model.fact import KINDS
from engram.server import create_app
from engram.server.schemas_lifecycle import Kind

# (session, when, what Sam says)
LIFE = [
    ("s1", "2024-01-10T09:00:00Z", "I live in Portland and I work as a barista."),
    ("s2", "2024-02-19T09:00:00Z", "Big news: I moved to Denver last week!"),
    ("s3", "2024-05-01T09:00:00Z", "I adopted a dog named Biscuit."),
]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    memory = AsyncMemory(tmp_path / "lifecycle.db", embedder=HashingEmbedder())
    with TestClient(create_app(memory, require_keys=False, mcp=False)) as test_client:
        yield test_client
    memory.sync.close()


def live(client: TestClient) -> dict[str, dict[str, Any]]:
    """Sam's messages, one session each; returns each session's add response."""
    said = {}
    for session, when, text in LIFE:
        body = {
            "user_id": "sam",
            "session_id": session,
            "messages": [{"role": "user", "name": "Sam", "content": text, "timestamp": when}],
        }
        response = client.post("/v1/turns", json=body)
        assert response.status_code == 200, response.text
        said[session] = response.json()
    return said


def facts(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/facts", params={"user_id": "sam", **params})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def where(items: list[dict[str, Any]]) -> list[str]:
    return [fact["value"] for fact in items if fact["attribute"] == "lives_in"]


def test_a_move_seen_through_the_api_then_forgotten(client: TestClient) -> None:
    said = live(client)
    moved = said["s2"]
    assert moved["facts_added"] and moved["facts_superseded"]  # Denver replaced Portland

    assert where(facts(client)) == ["Denver"]
    assert where(facts(client, as_of="2024-01-20")) == ["Portland"]
    assert where(facts(client, as_of="2024-01-01")) == []  # before Sam said anything

    (denver,) = [f for f in facts(client) if f["attribute"] == "lives_in"]
    assert denver["current"] and denver["valid_to"] is None and denver["source_turn_ids"] == moved["ids"]
    history = client.get(f"/v1/facts/{denver['id']}/history", params={"user_id": "sam"}).json()["items"]
    assert [v["value"] for v in history] == ["Portland", "Denver"]
    portland = history[0]
    assert portland["valid_to"] == denver["valid_from"] and portland["superseded_by"] == denver["id"]
    assert not portland["current"] and portland["superseded_at"] is not None
    every = facts(client, include_history=True)
    assert {f["id"] for f in every} >= {v["id"] for v in history}

    receipt = client.post("/v1/forget", json={"user_id": "sam", "ids": moved["ids"]}).json()
    assert receipt["turn_ids"] == moved["ids"] and receipt["sessions"] == ["s2"]
    assert denver["id"] in receipt["fact_ids"] and len(receipt["episode_ids"]) == 1
    assert where(facts(client)) == ["Portland"]  # the move is forgotten: Portland is current again
    (back,) = [f for f in facts(client) if f["attribute"] == "lives_in"]
    assert back["current"] and back["valid_to"] is None and back["superseded_by"] is None
    gone = client.get(f"/v1/facts/{denver['id']}/history", params={"user_id": "sam"})
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    found = client.post("/v1/search", json={"user_id": "sam", "query": "moved to Denver"}).json()["hits"]
    assert all("Denver" not in hit["turn"]["content"] for hit in found)


def test_facts_filter_by_subject_and_kind(client: TestClient) -> None:
    live(client)
    assert {f["kind"] for f in facts(client, kind="location")} == {"location"}
    assert facts(client, kind="pet") and not facts(client, kind="plan")
    assert facts(client, subject="sam") == facts(client, subject="Sam")  # case-insensitive
    assert facts(client, subject="Nobody") == []
    bad = client.get("/v1/facts", params={"user_id": "sam", "kind": "hobby"})
    assert bad.status_code == 422 and "kind" in bad.json()["error"]["message"]
    late = client.get("/v1/facts", params={"user_id": "sam", "as_of": "last tuesday"})
    assert late.status_code == 422 and "ISO 8601" in late.json()["error"]["message"]


def test_the_api_accepts_every_fact_kind_of_the_library() -> None:
    assert get_args(Kind) == KINDS


def test_profile_now_and_then(client: TestClient) -> None:
    live(client)
    profile = client.get("/v1/profile", params={"user_id": "sam"}).json()
    (person,) = profile["people"]
    assert person["subject"] == "Sam"
    assert [e["value"] for e in person["sections"]["location"]] == ["Denver"]
    assert any("Biscuit" in e["value"] for e in person["sections"]["relationships"])
    entry = person["sections"]["location"][0]
    assert entry["fact_id"].startswith("f_") and entry["source_turn_ids"] and 0 < entry["confidence"] <= 1
    then = client.get("/v1/profile", params={"user_id": "sam", "as_of": "2024-01-20T00:00:00Z"}).json()
    assert then["as_of"].startswith("2024-01-20")
    assert [e["value"] for e in then["people"][0]["sections"]["location"]] == ["Portland"]
    assert client.get("/v1/profile", params={"user_id": "nobody"}).json()["people"] == []


def test_episodes_paginate_and_filter(client: TestClient) -> None:
    said = live(client)
    first = client.get("/v1/episodes", params={"user_id": "sam", "limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get(
        "/v1/episodes", params={"user_id": "sam", "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert rest["next_cursor"] is None
    episodes = first["items"] + rest["items"]
    assert [e["session_id"] for e in episodes] == ["s1", "s2", "s3"]  # oldest first
    assert episodes[1]["turn_ids"] == said["s2"]["ids"] and "Denver" in episodes[1]["summary"]
    assert episodes[1]["keyphrases"] and episodes[1]["start"].startswith("2024-02-19")
    only = client.get("/v1/episodes", params={"user_id": "sam", "session_id": "s3"}).json()["items"]
    assert [e["id"] for e in only] == [episodes[2]["id"]]
    for cursor in ("garbage", "99999999999999999999999.1"):
        bad = client.get("/v1/episodes", params={"user_id": "sam", "cursor": cursor})
        assert bad.status_code == 422, cursor


def test_consolidate_reports_and_is_idempotent(client: TestClient) -> None:
    live(client)
    report = client.post("/v1/consolidate", json={"user_id": "sam", "decay": False}).json()
    assert report["user_id"] == "sam" and report["turns_total"] == 3 and report["turns_caught_up"] == 0
    assert report["llm_calls"] == 0 and report["archived"] == {} and report["links"] > 0
    again = client.post("/v1/consolidate", json={"user_id": "sam", "decay": False}).json()
    assert again["facts_added"] == 0 and again["duplicates_merged"] == 0
    assert where(facts(client)) == ["Denver"]
    bad = client.post("/v1/consolidate", json={"user_id": "sam", "decay": "no"})
    assert bad.status_code == 422


def test_pin_unpin_and_restore(client: TestClient) -> None:
    said = live(client)
    (denver,) = [f for f in facts(client) if f["attribute"] == "lives_in"]
    turn = said["s1"]["ids"][0]
    pinned = client.post(
        "/v1/pin", json={"user_id": "sam", "ids": [denver["id"], turn, "f_nope"], "action": "pin"}
    ).json()
    assert pinned == {"action": "pin", "updated_ids": [turn, denver["id"]], "not_found_ids": ["f_nope"]}
    assert [f["pinned"] for f in facts(client) if f["id"] == denver["id"]] == [True]
    client.post("/v1/pin", json={"user_id": "sam", "ids": [denver["id"]], "action": "unpin"})
    assert [f["pinned"] for f in facts(client) if f["id"] == denver["id"]] == [False]
    restored = client.post("/v1/pin", json={"user_id": "sam", "ids": [turn], "action": "restore"}).json()
    assert restored["updated_ids"] == [turn]
    for body in (
        {"user_id": "sam", "ids": ["nonsense"], "action": "pin"},
        {"user_id": "sam", "ids": [turn], "action": "archive"},
        {"user_id": "sam", "ids": [], "action": "pin"},
    ):
        response = client.post("/v1/pin", json=body)
        assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error", body


def test_forget_a_session_a_fact_or_the_whole_user(client: TestClient) -> None:
    said = live(client)
    (pet,) = [f for f in facts(client) if f["attribute"] == "pet"]
    by_fact = client.post("/v1/forget", json={"user_id": "sam", "ids": [pet["id"]]}).json()
    assert by_fact["fact_ids"] == [pet["id"]] and by_fact["turn_ids"] == []  # the turn stays
    assert not [f for f in facts(client) if f["attribute"] == "pet"]
    assert client.get(f"/v1/turns/{said['s3']['ids'][0]}", params={"user_id": "sam"}).status_code == 200

    session = client.post("/v1/forget", json={"user_id": "sam", "session_id": "s2"}).json()
    assert session["turn_ids"] == said["s2"]["ids"] and session["sessions"] == ["s2"]
    assert where(facts(client)) == ["Portland"]

    nothing = client.post("/v1/forget", json={"user_id": "sam", "ids": ["t_unknown"]}).json()
    assert nothing == {
        "turn_ids": [], "episode_ids": [], "fact_ids": [], "links": 0, "sessions": [], "scrub_pending": False
    }
    bad = client.post("/v1/forget", json={"user_id": "sam", "ids": ["x_1"]})
    assert bad.status_code == 422 and "memory id" in bad.json()["error"]["message"]
    assert client.post("/v1/forget", json={"user_id": "sam", "ids": []}).status_code == 422

    everything = client.post("/v1/forget", json={"user_id": "sam"}).json()
    assert everything["turn_ids"] and everything["sessions"] == ["s1", "s3"]
    assert client.get("/v1/stats", params={"user_id": "sam"}).json()["turns"] == 0
    assert facts(client, include_history=True, include_archived=True) == []
    assert client.get("/v1/episodes", params={"user_id": "sam"}).json()["items"] == []


def test_deleting_a_turn_repairs_facts_and_episodes(client: TestClient) -> None:
    said = live(client)
    moved = said["s2"]["ids"][0]
    assert client.delete(f"/v1/turns/{moved}", params={"user_id": "sam"}).json()["deleted_ids"] == [moved]
    assert where(facts(client)) == ["Portland"]
    sessions = {
        e["session_id"] for e in client.get("/v1/episodes", params={"user_id": "sam"}).json()["items"]
    }
    assert sessions == {"s1", "s3"}


def test_a_forget_while_another_connection_reads_says_its_scrub_is_pending(
    client: TestClient, tmp_path: Path
) -> None:
    import sqlite3

    said = live(client)
    reader = sqlite3.connect(tmp_path / "lifecycle.db", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM turns").fetchone()  # holds a snapshot: the WAL cannot be reset
    client.app.state.engram.base.sync.store.scrub_wait = 0.2  # type: ignore[attr-defined]
    try:
        held = client.post("/v1/forget", json={"user_id": "sam", "session_id": "s2"}).json()
        deleted = client.delete(f"/v1/turns/{said['s3']['ids'][0]}", params={"user_id": "sam"}).json()
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert held["turn_ids"] == said["s2"]["ids"] and held["scrub_pending"] is True
    assert deleted["scrub_pending"] is True
    after = client.post("/v1/forget", json={"user_id": "sam", "session_id": "s1"}).json()
    assert after["scrub_pending"] is False  # the reader is gone: this forget finished every scrub
