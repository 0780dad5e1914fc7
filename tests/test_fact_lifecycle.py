"""Facts you can trust (issue 10): history survives retention, late history does not fade at
once, and the context never presents a contradicted fact as current."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engram import HashingEmbedder, Memory
from engram.cli.importers import ImportSummary, ingest
from engram.formats.dataset import Conversation, Session
from tests.conftest import FixedClock, shared_data

TODAY = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def say(memory: Memory, clock: FixedClock, when: datetime, text: str, session: str) -> None:
    clock.moment = when
    memory.add(
        [{"role": "user", "name": "Sam", "content": text}], user_id="sam", session_id=session, timestamp=when
    )


# -- finding 3: a version that was true stays answerable as of its time --------------------------


def test_consolidate_keeps_superseded_versions_answerable_as_of_their_time(db_path: Path):
    clock = FixedClock()
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    say(memory, clock, datetime(2023, 1, 10, tzinfo=UTC), "I live in Paris.", "s1")
    say(memory, clock, datetime(2024, 1, 10, tzinfo=UTC), "I just moved to Berlin.", "s2")
    for years in (0, 3, 10):  # today, and long after: retention never takes a version away
        clock.moment = TODAY + timedelta(days=365 * years)
        report = memory.consolidate(user_id="sam")
        assert report.archived.get("fact", 0) == 0
        then = memory.facts(user_id="sam", as_of=datetime(2023, 6, 1, tzinfo=UTC))
        assert [f.value for f in then if f.attribute == "lives_in"] == ["Paris"]
        history = memory.facts(user_id="sam", include_history=True)
        assert [f.value for f in history if f.attribute == "lives_in"] == ["Paris", "Berlin"]
        assert [f.value for f in memory.facts(user_id="sam") if f.attribute == "lives_in"] == ["Berlin"]
        assert memory.retention(then[0].id, user_id="sam") == 1.0
    memory.close()


def test_an_archived_version_is_still_answered_as_of_its_time(db_path: Path):
    """Archive (by hand, or by the decay of older versions) leaves a version out of retrieval,
    never out of questions about time."""
    clock = FixedClock()
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    say(memory, clock, datetime(2023, 1, 10, tzinfo=UTC), "I live in Paris.", "s1")
    say(memory, clock, datetime(2024, 1, 10, tzinfo=UTC), "I just moved to Berlin.", "s2")
    (paris,) = [f for f in memory.facts(user_id="sam", include_history=True) if f.value == "Paris"]
    assert memory.archive([paris.id], user_id="sam") == [paris.id]
    then = memory.facts(user_id="sam", as_of=datetime(2023, 6, 1, tzinfo=UTC))
    assert [f.id for f in then] == [paris.id] and then[0].archived_at is not None
    assert paris.id in {f.id for f in memory.facts(user_id="sam", include_history=True)}
    person = memory.profile(user_id="sam", as_of=datetime(2023, 6, 1, tzinfo=UTC)).person("Sam")
    assert person is not None and [e.value for e in person.sections["location"]] == ["Paris"]
    memory.close()


# -- finding 4: history that arrives late is measured from when memory learned it -----------------


SMALL_TALK = ["ok", "haha yes", "sure thing", "lol", "cool", "nice", "hmm okay", "right"]


def old_conversation() -> Conversation:
    """A 2023 chat between two people over six months: facts, plans and a lot of small talk."""
    sessions = []
    start = datetime(2023, 3, 4, 18, 0, tzinfo=UTC)
    for number in range(6):
        when = start + timedelta(days=30 * number)
        messages = []
        for index in range(12):
            speaker = "Ana" if index % 2 == 0 else "Ben"
            text = (
                f"In month {number} I started pottery class number {number} at the community studio."
                if index == 0
                else SMALL_TALK[(index + number) % len(SMALL_TALK)]
            )
            messages.append(
                {
                    "role": "user",
                    "name": speaker,
                    "content": text,
                    "timestamp": when + timedelta(minutes=index),
                }
            )
        sessions.append(Session(f"s{number}", when, messages))
    return Conversation("ana", sessions)


def search_ids(memory: Memory, user_id: str, queries: list[str]) -> list[list[str]]:
    return [[h.turn.id for h in memory.search(q, user_id=user_id, k=10)] for q in queries]


def test_consolidate_on_history_imported_today_archives_nothing_and_search_is_unchanged(db_path: Path):
    clock = FixedClock(TODAY)
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    conversation = old_conversation()
    ingest(memory, [conversation], summary=ImportSummary("test", "old"))
    queries = ["pottery class at the studio", "haha yes", "sure thing"]
    before = search_ids(memory, "ana", queries)
    report = memory.consolidate(user_id="ana")
    assert sum(report.archived.values()) == 0, report.archived
    assert report.retention_clock == TODAY and not any(report.archived_ids.values())
    assert search_ids(memory, "ana", queries) == before
    clock.moment = TODAY + timedelta(days=3 * 365)  # years later, never recalled: small talk fades
    later = memory.consolidate(user_id="ana")
    assert later.archived["turn"] > 0 and set(later.archived_ids["turn"]) and later.archive_reason
    assert len(later.archived_ids["turn"]) == later.archived["turn"]
    memory.close()


def test_consolidate_on_locomo_imported_today_archives_nothing(db_path: Path):
    from engram.formats.locomo import load_locomo

    dataset = load_locomo(shared_data("locomo10.json"))
    conversation = dataset.conversations[0]
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=FixedClock(TODAY))
    ingest(memory, [conversation], summary=ImportSummary("locomo", "locomo10.json"))
    queries = [q.question for q in dataset.questions if q.conversation_id == conversation.id][:20]
    before = search_ids(memory, conversation.id, queries)
    report = memory.consolidate(user_id=conversation.id)
    assert sum(report.archived.values()) == 0, report.archived
    assert search_ids(memory, conversation.id, queries) == before
    memory.close()


# -- with an LLM, consolidation states ends and past spans through the same reconciler ---------


def test_llm_extraction_can_end_a_value_and_place_a_past_span(db_path: Path):
    import json

    from engram import ScriptedLLM

    def fact(turn: int, attribute: str, value: str, **extra: object) -> dict[str, object]:
        return {
            "turn": turn, "subject": "Sam", "attribute": attribute, "value": value,
            "statement": f"Sam {attribute} {value}", "kind": "location" if attribute == "lives_in" else "work",
            "multi": False, "valid_from": None, **extra,
        }  # fmt: skip

    replies = [
        json.dumps({"facts": [fact(1, "lives_in", "Chicago"), fact(1, "employer", "Google")]}),
        json.dumps(
            {
                "facts": [
                    fact(1, "lives_in", "Chicago", ends=True),
                    fact(1, "lives_in", "Seattle"),
                    fact(1, "employer", "", ends=True),
                    fact(1, "lives_in", "Paris", valid_from="2015-01-01", valid_to="2018-01-01"),
                    fact(1, "lives_in", "Rome", valid_from="2019-01-01", valid_to="2012-01-01"),  # dropped
                ]
            }
        ),
    ]
    clock = FixedClock()
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock, llm=ScriptedLLM(replies))
    say(memory, clock, datetime(2024, 1, 10, tzinfo=UTC), "Hello there, it is a quiet day.", "s1")
    memory.consolidate(user_id="sam")
    say(memory, clock, datetime(2024, 5, 10, tzinfo=UTC), "Lots of change lately, more soon.", "s2")
    memory.consolidate(user_id="sam")
    now = {f.attribute: f.value for f in memory.facts(user_id="sam")}
    assert now == {"lives_in": "Seattle"}  # Chicago ended and replaced; Google ended, nothing added
    history = [(f.value, f.valid_from.year, f.valid_to.year if f.valid_to else None)
               for f in memory.facts(user_id="sam", include_history=True) if f.attribute == "lives_in"]  # fmt: skip
    assert history == [("Paris", 2015, 2018), ("Chicago", 2024, 2024), ("Seattle", 2024, None)]
    (google,) = [f for f in memory.facts(user_id="sam", include_history=True) if f.attribute == "employer"]
    assert google.valid_to == datetime(2024, 5, 10, tzinfo=UTC) and google.superseded_by is None
    memory.close()


# -- the context never presents a contradicted fact as current, and shows only what bears ---------


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("Where does Sam live now?", {"location"}),
        ("Where is Caroline from?", {"location"}),
        ("What pet did Sam get?", {"pet"}),
        ("What did Sam say about the new job?", {"work"}),
        ("What does Sam drink in the morning these days?", {"preference"}),
        ("What is the name of Sam's dog?", {"identity", "pet"}),
        ("Who is Maya?", {"identity"}),
        ("What did we talk about on Tuesday?", set()),
        ("Summarise the hike", set()),
        (
            "What do you know about me?",
            {"identity", "location", "work", "family", "pet", "possession", "plan", "preference", "instruction", "other"},
        ),
    ],
)
def test_kinds_asked(question: str, kinds: set[str]):
    from engram.read.fact_guard import kinds_asked

    assert kinds_asked(question) == kinds


def fact_version(
    value: str, start: datetime, *, attribute: str = "lives_in", multi: bool = False, source: str = "t0"
):
    from engram.model.fact import FactVersion

    return FactVersion(
        id=f"f_{value}", slot=f"k_{attribute}", tenant="default", user_id="sam", agent_id=None, subject="Sam",
        attribute=attribute, value=value, statement=f"Sam {attribute} {value}", kind="location", multi=multi,
        valid_from=start, valid_to=None, recorded_at=start, superseded_at=None, superseded_by=None,
        confidence=0.8, source="rules", source_turn_ids=(source,),
    )  # fmt: skip


def turn(text: str, when: datetime, *, name: str | None = "Sam", role: str = "user", turn_id: str = "t1"):
    from engram.model import Turn
    from engram.model.scope import Scope

    return Turn(turn_id, Scope("default", "sam", None, "s"), role, text, when, when, "h", name)


JAN, MAR, MAY, JUL = (datetime(2024, month, 10, tzinfo=UTC) for month in (1, 3, 5, 7))


@pytest.mark.parametrize(
    ("fact", "said", "at", "until"),
    [
        pytest.param(
            fact_version("Portland", JAN), turn("I moved to Denver.", MAR), JUL, MAR, id="new-value-later"
        ),
        pytest.param(
            fact_version("Portland", JAN),
            turn("I moved to Denver.", MAR),
            datetime(2024, 2, 1, tzinfo=UTC),
            None,
            id="said-after-the-question-time",
        ),
        pytest.param(
            fact_version("Denver", MAR), turn("I live in Portland.", JAN), JUL, None, id="said-before-it"
        ),
        pytest.param(fact_version("Denver", JAN), turn("I live in Denver.", MAR), JUL, None, id="same-value"),
        pytest.param(
            fact_version("Portland", JAN),
            turn("My sister moved to Denver.", MAR),
            JUL,
            None,
            id="someone-else",
        ),
        pytest.param(
            fact_version("Portland", JAN),
            turn("I moved to Denver.", MAR, name="Maya"),
            JUL,
            None,
            id="another-speaker",
        ),
        pytest.param(
            fact_version("Portland", JAN),
            turn("I moved to Denver.", MAR, turn_id="t0"),
            JUL,
            None,
            id="its-own-source",
        ),
        pytest.param(
            fact_version("dog named Rex", JAN, attribute="pet", multi=True),
            turn("I adopted a cat named Mo.", MAR),
            JUL,
            None,
            id="multi-valued-slot",
        ),
        pytest.param(
            fact_version("Portland", JAN),
            turn("I moved to Denver in 2023.", MAR),
            JUL,
            None,
            id="a-statement-dated-before-the-fact",
        ),
    ],
)
def test_contradictions(fact, said, at, until):
    from engram.read.fact_guard import contradictions

    found = contradictions([fact], [said], at)
    assert (found[fact.id].until if fact.id in found else None) == until
    if until is not None:
        assert "Denver" in found[fact.id].said and found[fact.id].turn_id == said.id


def test_a_fact_a_later_memory_contradicts_is_shown_with_its_end_even_when_the_write_path_missed_it(
    db_path: Path, monkeypatch
):
    import engram.write.ingest as ingest_module
    from engram.write.absorb import AbsorbReport

    clock = FixedClock()
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    say(memory, clock, JAN, "I live in Portland and I love the rain.", "s1")
    monkeypatch.setattr(ingest_module, "absorb", lambda *a, **k: AbsorbReport())  # a crash after commit
    say(memory, clock, MAR, "Big news: I moved to Denver, the mountains are great.", "s2")
    monkeypatch.undo()
    assert [f.value for f in memory.facts(user_id="sam") if f.attribute == "lives_in"] == ["Portland"]
    context = memory.context("Where does Sam live now?", user_id="sam", reference_time=JUL, budget_tokens=400)
    facts_part = context.text.split("## Relevant memories")[0]
    assert "lives in Portland (2024-01-10 until 2024-03-10; later said: Sam lives in Denver)" in facts_part
    assert "since 2024-01-10" not in facts_part
    before = memory.context(
        "Where does Sam live now?", user_id="sam", reference_time=datetime(2024, 2, 1, tzinfo=UTC)
    )
    assert "lives in Portland (since 2024-01-10)" in before.text  # as of February it held
    memory.close()


def test_a_fact_is_shown_only_when_it_bears_on_the_question(db_path: Path):
    clock = FixedClock()
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    say(memory, clock, JAN, "I live in Portland.", "s1")
    say(memory, clock, MAR, "I adopted a dog named Biscuit.", "s2")
    say(memory, clock, MAY, "We went hiking on Saturday, the trail was steep.", "s3")
    shown = {
        question: [
            fact.attribute for _, fact in memory.context(question, user_id="sam", reference_time=JUL).facts
        ]
        for question in ("Where does Sam live?", "What pet does Sam have?", "How was the hike?")
    }
    assert shown == {
        "Where does Sam live?": ["lives_in"],
        "What pet does Sam have?": ["pet"],
        "How was the hike?": [],
    }
    no_profile = memory.context(
        "What pet does Sam have?", user_id="sam", reference_time=JUL, include_profile=False
    )
    assert no_profile.facts == []  # retrieval's facts only: none of their statements says "pet"
    memory.close()


# -- the demo: no stale fact shown as current, nothing left behind -------------------------------------

#: What held at each demo question's time, per slot; a fact shown as current in one of these
#: slots must have one of these values (case-insensitive substrings; pets are multi-valued).
DEMO_TRUTH = {
    "2024-07-20": {"lives_in": ("denver",), "occupation": ("designer",), "employer": ("trailmark",),
                   "preference:espresso": ("dislike", "quit", "stopped"), "preference:green tea": ("dislike", "bored")},
    "2024-02-10": {"lives_in": ("portland",), "occupation": ("barista",), "employer": ("ridgeline",), "pet": ()},
}  # fmt: skip


def demo_json(tmp_path: Path, monkeypatch) -> dict:
    import json
    import tempfile

    from click.testing import CliRunner

    from engram.cli import cli

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    env = {"ENGRAM_EMBEDDER": "hashing", "ENGRAM_DB": None, "ENGRAM_TENANT": None, "ENGRAM_DEBUG": None}
    result = CliRunner().invoke(cli, ["--json", "demo"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def stale_facts(question: dict) -> list[str]:
    """Facts the context presents as current that did not hold at the question's time."""
    truth = DEMO_TRUTH[question["reference_time"][:10]]
    lines = {
        line.split("]")[0] + "]": line
        for line in question["context"]["text"].splitlines()
        if line.startswith("[F")
    }
    stale = []
    for fact in question["context"]["facts"]:
        line = lines[f"[{fact['ref']}]"]
        shown_as_current = "since" in line and "until" not in line
        allowed = truth.get(fact["attribute"])
        if (
            shown_as_current
            and allowed is not None
            and not any(a in fact["value"].casefold() for a in allowed)
        ):
            stale.append(line)
    return stale


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> tuple[dict, Path]:
    monkeypatch = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("demo")
    try:
        return demo_json(tmp, monkeypatch), tmp
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize(
    "number",
    [0, 1, 2, 3, 4],
)
def test_the_demo_shows_no_stale_fact_as_current(demo_run, number: int):
    out, _ = demo_run
    question = out["questions"][number]
    assert stale_facts(question) == []
    if number >= 2:  # pet, job and drink questions: no fact about where Sam lives
        assert all(f["kind"] != "location" for f in question["context"]["facts"]), question["context"]["text"]


def test_the_demo_leaves_no_temporary_directory(demo_run, tmp_path: Path, monkeypatch):
    out, tmp = demo_run
    assert out["kept"] is False and list(tmp.iterdir()) == []
    import engram.cli.demo as demo

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "ingest", interrupted)
    import tempfile

    from click.testing import CliRunner

    from engram.cli import cli

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = CliRunner().invoke(cli, ["demo"], env={"ENGRAM_EMBEDDER": "hashing", "ENGRAM_DB": None})
    assert result.exit_code != 0 and list(tmp_path.iterdir()) == []
