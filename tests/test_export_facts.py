"""An export carries the fact versions: history, provenance and forgetting survive a move."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engram import HashingEmbedder, Memory, ValidationError

T0 = datetime(2024, 1, 10, 9, 0, tzinfo=UTC)


def _history(memory: Memory, user_id: str = "sam") -> list[tuple[object, ...]]:
    return sorted(
        (f.id, f.statement, f.valid_from, f.valid_to, f.superseded_by, f.source_turn_ids, f.kind, f.mentions)
        for f in memory.facts(user_id=user_id, include_history=True, include_archived=True)
    )


def _told(memory: Memory) -> str:
    """Sam's home, a move, and a dog whose fact is then forgotten; the export."""
    memory.add("I live in Oslo.", user_id="sam", session_id="s1", timestamp=T0)
    memory.add("I moved to Lisbon last week.", user_id="sam", session_id="s2", timestamp=T0 + timedelta(days=60))
    memory.add("My dog is called Rex.", user_id="sam", session_id="s2", timestamp=T0 + timedelta(days=61))
    (dog,) = memory.facts(user_id="sam", kind="pet")
    memory.forget(ids=[dog.id], user_id="sam")
    out = io.StringIO()
    memory.export(out)
    return out.getvalue()


def _fresh(tmp_path: Path, **options: object) -> Memory:
    return Memory(tmp_path / "copy.db", embedder=HashingEmbedder(), **options)  # type: ignore[arg-type]


def test_facts_move_with_their_history_and_a_forgotten_fact_stays_forgotten(memory: Memory, tmp_path: Path):
    exported = _told(memory)
    assert [f.value for f in memory.facts(user_id="sam", kind="location")] == ["Lisbon"]
    with _fresh(tmp_path) as copy:
        copy.import_(exported.splitlines())
        assert _history(copy) == _history(memory)
        assert copy.facts(user_id="sam", kind="pet") == []  # not derived again from "My dog is called Rex"
        assert [f.value for f in copy.facts(user_id="sam", kind="location")] == ["Lisbon"]


def test_a_file_without_fact_lines_derives_them_as_add_does(memory: Memory, tmp_path: Path):
    header, *records = _told(memory).splitlines()
    old = json.loads(header) | {"version": 1}
    turns = [line for line in records if json.loads(line)["type"] == "turn"]
    with _fresh(tmp_path) as copy:
        copy.import_([json.dumps(old), *turns])
        assert [f.value for f in copy.facts(user_id="sam", kind="pet")] == ["dog named Rex"]


def test_facts_moved_into_another_tenant_get_ids_and_slots_of_their_own(memory: Memory, tmp_path: Path):
    exported = _told(memory)
    with _fresh(tmp_path, tenant="acme") as copy:
        copy.import_(exported.splitlines())
        moved = copy.facts(user_id="sam", include_history=True)
        assert {f.tenant for f in moved} == {"acme"}
        assert not {f.id for f in moved} & {f.id for f in memory.facts(user_id="sam", include_history=True)}
        assert {f.superseded_by for f in moved if f.superseded_by} <= {f.id for f in moved}
        copy.add("I moved to Porto.", user_id="sam", session_id="s3", timestamp=T0 + timedelta(days=90))
        assert [f.value for f in copy.facts(user_id="sam", kind="location")] == ["Porto"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "gossip"}, "kind must be one of"),
        ({"valid_from": "yesterday-ish"}, "valid_from"),
        ({"source_turn_ids": "t_1"}, "source_turn_ids"),
        ({"mentions": -1}, "mentions"),
    ],
)
def test_a_bad_fact_line_is_refused_and_nothing_is_written(memory: Memory, tmp_path: Path, change, message):
    lines = _told(memory).splitlines()
    at = next(n for n, line in enumerate(lines) if json.loads(line).get("type") == "fact")
    lines[at] = json.dumps(json.loads(lines[at]) | change)
    with _fresh(tmp_path) as copy:
        with pytest.raises(ValidationError, match=f"line {at + 1}.*{message}|{message}.*line {at + 1}"):
            copy.import_(lines)
        assert copy.stats().turns == 0


@pytest.mark.parametrize("imported_later", [True, False])
def test_an_import_merged_into_a_user_keeps_one_current_value_per_slot(tmp_path: Path, imported_later: bool):
    early, late = ("I live in Oslo.", T0), ("I live in Lisbon.", T0 + timedelta(days=60))
    mine, theirs = (early, late) if imported_later else (late, early)
    with Memory(tmp_path / "source.db", embedder=HashingEmbedder()) as source:
        source.add(theirs[0], user_id="sam", session_id="elsewhere", timestamp=theirs[1])
        exported = io.StringIO()
        source.export(exported)
    with _fresh(tmp_path) as target:
        target.add(mine[0], user_id="sam", session_id="here", timestamp=mine[1])
        target.import_(exported.getvalue().splitlines())
        assert [f.value for f in target.facts(user_id="sam", kind="location")] == ["Lisbon"]
        oslo, lisbon = sorted(target.facts(user_id="sam", kind="location", include_history=True), key=lambda f: f.valid_from)
        assert (oslo.valid_to, oslo.superseded_by) == (lisbon.valid_from, lisbon.id)
