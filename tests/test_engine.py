"""Engine scenarios on real SQLite files: the Python API a user sees."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import timedelta

import pytest

from engram import (
    CorruptStoreError,
    EmbedderMismatchError,
    HashingEmbedder,
    Hit,
    Memory,
    NotFoundError,
    SchemaVersionError,
    ValidationError,
)
from engram.read.context import shortener
from tests.conftest import NOW

CHAT = [
    {"role": "user", "content": "I just adopted a beagle called Biscuit", "name": "Sam"},
    {"role": "assistant", "content": "Congratulations! Beagles are lively."},
    {"role": "user", "content": "I work as a nurse at the city hospital", "name": "Sam"},
    {"role": "user", "content": "My favourite food is ramen", "name": "Sam"},
]


def test_add_then_search_finds_the_turn_with_its_fields(memory):
    added = memory.add(
        CHAT, user_id="sam", session_id="s1", timestamp="2024-05-01T10:00:00Z", metadata={"src": "app"}
    )
    assert (added.added, added.duplicates, added.embedded) == (4, 0, 4)
    hit = memory.search("which beagle did Sam adopt", user_id="sam", k=3)[0]
    assert hit.turn.content == CHAT[0]["content"]
    assert hit.turn.name == "Sam" and hit.turn.role == "user" and hit.turn.session_id == "s1"
    assert hit.turn.metadata == {"src": "app"}
    assert hit.turn.timestamp.isoformat() == "2024-05-01T10:00:00+00:00"
    assert hit.signals == {}  # only with explain


def test_adding_the_same_turns_twice_stores_them_once(memory):
    first = memory.add(CHAT, user_id="sam", session_id="s1")
    second = memory.add(CHAT, user_id="sam", session_id="s1")
    assert (second.added, second.duplicates, second.embedded) == (0, 4, 0)
    assert [t.id for t in first.turns] == [t.id for t in second.turns]
    assert memory.stats(user_id="sam").turns == 4


def test_identical_text_of_the_same_user_is_embedded_once(memory):
    embedder = memory.embedder
    memory.add("hello there", user_id="a", session_id="s1")
    before = embedder.texts_embedded
    result = memory.add("hello there", user_id="a", session_id="s9")
    assert result.added == 1 and result.embedded == 0 and embedder.texts_embedded == before
    other = memory.add("hello there", user_id="b", session_id="s9")  # another user's cache never answers
    assert other.added == 1 and other.embedded == 1


def test_another_users_identical_text_is_embedded_again_so_embedded_reveals_nothing(memory):
    memory.add("My bank PIN is 7391.", user_id="b", session_id="s1")
    guesses = [memory.add(f"My bank PIN is {pin}.", user_id="a", session_id="s1") for pin in ("1234", "7391")]
    assert [g.embedded for g in guesses] == [1, 1]


def test_explain_returns_every_signal_and_the_candidates_below_the_cut(memory):
    memory.add(CHAT, user_id="sam", session_id="s1")
    result = memory.search("beagle Biscuit", user_id="sam", k=1, explain=True)
    (hit,) = result.hits
    assert {"rrf", "bm25", "bm25_rank", "vector", "vector_rank"} <= set(hit.signals)
    assert hit.signals["bm25_rank"] == 1
    assert len(result.left_out) == 3 and all("rrf" in h.signals for h in result.left_out)


def test_reference_time_hides_later_turns(memory):
    memory.add("I live in Paris", user_id="u", session_id="s1", timestamp="2023-01-01T00:00:00Z")
    memory.add(
        "I moved to Rome, I live there now", user_id="u", session_id="s2", timestamp="2024-01-01T00:00:00Z"
    )
    then = memory.search("where do I live", user_id="u", reference_time="2023-06-01T00:00:00Z")
    assert [h.turn.content for h in then] == ["I live in Paris"]
    assert len(memory.search("where do I live", user_id="u")) == 2


def test_search_filters(memory):
    memory.add(CHAT, user_id="sam", session_id="s1")
    memory.add("ramen again tonight", user_id="sam", session_id="s2")
    only_s2 = memory.search("ramen", user_id="sam", filters={"session_id": "s2"})
    assert [h.turn.session_id for h in only_s2] == ["s2"]
    assistant = memory.search("beagle", user_id="sam", filters={"role": "assistant"})
    assert {h.turn.role for h in assistant} == {"assistant"}


def test_context_fits_the_budget_and_cites_turns(memory, clock):
    memory.add(CHAT, user_id="sam", session_id="s1", timestamp=NOW - timedelta(days=30))
    memory.add([{"role": "user", "content": "Off to the park with the dog"}], user_id="sam", session_id="s2")
    ctx = memory.context("what is my beagle called?", user_id="sam", session_id="s2", budget_tokens=120)
    assert ctx.tokens <= 120
    assert "Biscuit" in ctx.text and "Off to the park" in ctx.text
    assert ctx.text.index("Off to the park") < ctx.text.index("Biscuit")  # working memory first
    for ref, turn_id in ctx.citations.items():
        assert f"[{ref}]" in ctx.text and memory.get(turn_id, user_id="sam").id == turn_id
    tiny = memory.context("dog", user_id="sam", budget_tokens=5)
    assert tiny.tokens <= 5


def test_context_shows_a_long_reply_as_the_excerpt_the_question_needs(memory):
    tips = [f"Tip {n}: keep the {word} tidy and check it every week." for n, word in enumerate(
        ["garage", "garden", "attic", "kitchen", "basement", "balcony", "shed", "porch", "hallway"]
    )]  # fmt: skip
    reply = " ".join([*tips[:5], "For your beagle Biscuit, a harness beats a collar.", *tips[5:]])
    memory.add(
        [{"role": "user", "content": "Any advice for walking my beagle?"}, {"role": "assistant", "content": reply}],
        user_id="sam",
        session_id="s1",
    )
    ctx = memory.context("harness or collar for the beagle?", user_id="sam", budget_tokens=400)
    (item,) = [i for i in ctx.items if i.turn.role == "assistant"]
    assert item.excerpt and "a harness beats a collar" in ctx.text and "garage" not in ctx.text
    assert "… For your beagle Biscuit, a harness beats a collar. …" in ctx.text
    whole = memory.context("harness or collar for the beagle?", user_id="sam", budget_tokens=400, excerpt_tokens=None)
    assert "garage" in whole.text and not any(i.excerpt for i in whole.items)
    user = [i for i in ctx.items if i.turn.role == "user"]
    assert user and not user[0].excerpt  # the user's own words: a far larger cap
    with pytest.raises(ValidationError, match="excerpt_tokens"):
        memory.context("beagle", user_id="sam", excerpt_tokens=3)


def test_a_neighbour_pulled_in_around_a_hit_is_shown_in_a_third_of_the_cap(memory):
    reply = (
        "Sounds lovely. The coast road has three viewpoints worth a stop. "
        "Pack water and a light jacket because the wind picks up by noon. "
        "Parking fills early on weekends, so leave before eight."
    )
    (turn,) = memory.add([{"role": "assistant", "content": reply}], user_id="sam", session_id="s1").turns
    assert memory.token_counter.count(reply) <= 60
    shorten = shortener("where to park?", 60, memory.token_counter.count)
    assert shorten is not None and shorten(Hit(turn, 1.0)) == reply  # a hit: under the cap, whole
    around = shorten(Hit(turn, 0.5, {"neighbour_of_rank": 1}))
    assert "Parking fills early" in around and "viewpoints" not in around
    assert memory.token_counter.count(around) <= 20


def test_get_list_delete(memory):
    turns = memory.add(CHAT, user_id="sam", session_id="s1", timestamp="2024-01-01T00:00:00Z").turns
    assert memory.get(turns[0].id, user_id="sam") == turns[0]
    with pytest.raises(NotFoundError):
        memory.get(turns[0].id, user_id="someone-else")
    page1 = memory.list(user_id="sam", limit=3)
    page2 = memory.list(user_id="sam", limit=3, cursor=page1.next_cursor)
    assert [t.id for t in page1] + [t.id for t in page2] == [t.id for t in turns]
    assert page2.next_cursor is None
    receipt = memory.delete([turns[0].id, "t_nope"], user_id="sam")
    assert receipt.deleted_ids == [turns[0].id] and receipt.not_found_ids == ["t_nope"]
    assert all(h.turn.id != turns[0].id for h in memory.search("beagle Biscuit", user_id="sam"))
    with pytest.raises(ValidationError, match="cursor"):
        memory.list(user_id="sam", cursor="garbage")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.add("", user_id="u", session_id="s"), "empty"),
        (lambda m: m.add("hi", user_id="", session_id="s"), "user_id"),
        (lambda m: m.add("hi", user_id="u", session_id=None), "session_id"),
        (lambda m: m.add("hi", user_id="u", session_id="s", timestamp="noon-ish"), "ISO 8601"),
        (lambda m: m.search("", user_id="u"), "query"),
        (lambda m: m.search("x", user_id=None), "user_id"),
        (lambda m: m.search("x", user_id="u", k=0), "k must"),
        (lambda m: m.search("x", user_id="u", config="magic"), "recipe"),
        (lambda m: m.search("x", user_id="u", config={"base": "engram"}), "recipe name"),
        (lambda m: m.context("x", user_id="u", budget_tokens=0), "budget_tokens"),
        (lambda m: m.list(user_id="u", limit=0), "limit"),
        (lambda m: m.delete([], user_id="u"), "no turn ids"),
    ],
)
def test_bad_calls_raise_validation_errors_and_write_nothing(memory, call, message):
    memory.add("kept safe", user_id="u", session_id="s")
    with pytest.raises(ValidationError, match=message):
        call(memory)
    assert memory.stats().turns == 1


def test_a_batch_with_one_bad_message_writes_none_of_it(memory):
    with pytest.raises(ValidationError):
        memory.add(
            [{"role": "user", "content": "fine"}, {"role": "user", "content": ""}],
            user_id="u",
            session_id="s",
        )
    assert memory.stats().turns == 0


def test_export_import_round_trips_losslessly(memory, tmp_path, clock):
    memory.add(CHAT, user_id="sam", session_id="s1", timestamp="2024-05-01T10:00:00.123456+02:00")
    memory.add(
        "second user", user_id="kim", session_id="k1", agent_id="helper", metadata={"nested": {"a": [1, 2]}}
    )
    first = io.StringIO()
    assert memory.export(first) == 5
    other = Memory(tmp_path / "copy.db", embedder=HashingEmbedder(), clock=clock)
    embedder = other.embedder
    result = other.import_(io.StringIO(first.getvalue()))
    assert (result.added, embedder.texts_embedded) == (5, 0)  # vectors reused, nothing re-embedded
    second = io.StringIO()
    other.export(second)
    assert first.getvalue().splitlines()[1:] == second.getvalue().splitlines()[1:]
    assert other.import_(io.StringIO(first.getvalue())).added == 0  # idempotent
    other.close()


def test_an_export_before_the_embedder_is_loaded_names_the_vectors_length_and_its_vectors_are_reused(
    tmp_path, clock
):
    writer = Memory(tmp_path / "m.db", embedder=HashingEmbedder(), clock=clock)
    writer.add(CHAT, user_id="sam", session_id="s1", timestamp="2024-05-01")
    writer.close()
    reopened = Memory(tmp_path / "m.db", clock=clock)  # the default embedder: not loaded to export
    out = io.StringIO()
    reopened.export(out)
    assert reopened._embedder is None
    header, *lines = out.getvalue().splitlines(keepends=True)
    assert json.loads(header)["dim"] == HashingEmbedder().dim  # was null: the file's vectors went unused
    for name, head in (("new", header), ("old", header.replace(f'"dim": {HashingEmbedder().dim}', '"dim": null'))):
        target = Memory(tmp_path / f"{name}.db", embedder=HashingEmbedder(), clock=clock)
        result = target.import_([head, *lines])
        turns = sum(json.loads(line)["type"] == "turn" for line in lines)
        assert (result.added, target.embedder.texts_embedded) == (turns, 0), name  # vectors reused
        target.close()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("", "empty"),
        ('{"not": "a header"}\n', "header"),
        ('{"format": "engram-jsonl", "version": 99}\n', "version 99"),
        ('{"format": "engram-jsonl", "version": 1}\n{broken\n', "line 2 is not JSON"),
        ('{"format": "engram-jsonl", "version": 1}\n{"type": "turn", "id": "x"}\n', "line 2 lacks"),
    ],
)
def test_bad_imports_are_rejected_before_anything_is_written(memory, payload, message):
    with pytest.raises(ValidationError, match=message):
        memory.import_(io.StringIO(payload))
    assert memory.stats().turns == 0


def test_a_corrupt_file_is_refused_with_a_clear_error(tmp_path):
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(CorruptStoreError, match="cannot open"):
        Memory(path, embedder=HashingEmbedder())


def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    before = path.read_bytes()
    with pytest.raises(CorruptStoreError, match="not an Engram store"):
        Memory(path, embedder=HashingEmbedder())
    assert path.read_bytes() == before


def test_a_newer_schema_is_refused(db_path):
    Memory(db_path, embedder=HashingEmbedder()).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO engram_migrations VALUES ('9999_from_the_future', 'now')")
    with pytest.raises(SchemaVersionError, match="newer version"):
        Memory(db_path, embedder=HashingEmbedder())


def test_another_embedder_is_refused_on_an_existing_store(db_path):
    with Memory(db_path, embedder=HashingEmbedder(64)) as mem:
        mem.add("hi", user_id="u", session_id="s")
    with Memory(db_path, embedder=HashingEmbedder(32)) as mem, pytest.raises(EmbedderMismatchError):
        mem.search("hi", user_id="u")


def test_two_processes_worth_of_connections_see_each_others_writes(db_path):
    a = Memory(db_path, embedder=HashingEmbedder())
    b = Memory(db_path, embedder=HashingEmbedder())
    a.add("first note about kayaks", user_id="u", session_id="s")
    assert len(b.search("kayaks", user_id="u")) == 1  # b builds its vector index
    a.add("second note about kayaks", user_id="u", session_id="s")
    assert len(b.search("kayaks", user_id="u", config="vector")) == 2  # b notices a's write
    a.close()
    b.close()


def test_an_import_carrying_another_tenants_ids_never_reaches_their_turns(db_path):
    from engram import SQLiteStore

    store = SQLiteStore(db_path)
    alice = Memory(store=store, embedder=HashingEmbedder(), tenant="acme")
    mallory = Memory(store=store, embedder=HashingEmbedder(), tenant="evil")
    secret = alice.add("the vault code is 0451", user_id="u", session_id="s").turns[0]
    exported = io.StringIO()
    alice.export(exported)
    forged = exported.getvalue().replace("0451", "1234")  # same ids, other content, other tenant
    result = mallory.import_(io.StringIO(forged))
    (mine,) = result.turns
    assert result.added == 1 and mine.id != secret.id and mine.content == "the vault code is 1234"
    assert mine.scope.tenant == "evil"
    assert alice.get(secret.id, user_id="u").content == "the vault code is 0451"
    assert mallory.import_(io.StringIO(forged)).added == 0  # and it stays idempotent
    store.close()


def test_a_speaker_the_question_names_is_left_out_of_its_vector(memory):
    """The name prior favours the named speaker's turns; in the vector the name would only pull
    in the turns that greet them."""
    memory.add(
        [
            {"role": "user", "name": "Caroline", "content": "Melanie! Hi Melanie, so good to see you Melanie"},
            {"role": "user", "name": "Melanie", "content": "my pottery class keeps me creative"},
        ],
        user_id="u",
        session_id="s1",
    )
    hits = memory.search("What pottery does Melanie do?", user_id="u", k=2, config="vector")
    assert [hit.turn.name for hit in hits] == ["Melanie", "Caroline"]


def test_the_query_embedding_threads_start_again_in_a_forked_child():
    """A forked child inherits no threads: work given to its parent's pool would never run."""
    import os

    from engram.providers.background import WorkerThreads

    pool = WorkerThreads("test-workers", workers=1)
    assert pool.submit(len, "abc").result(timeout=5) == 3  # the parent's thread is up and idle
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            ok = pool.submit(len, "abcd").result(timeout=5) == 4
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
