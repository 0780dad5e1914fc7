"""Task runs: recording, lossless round trip, working memory, experience, lessons, forgetting."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest

from engram import HashingEmbedder, Memory, NotFoundError, RetentionPolicy, ValidationError
from engram.testing import ScriptedLLM
from tests.conftest import NOW, FixedClock

LONG_PAGE = "<html>" + "flight results " * 2000 + "</html>"


def tick(clock: FixedClock, minutes: int = 1) -> None:
    clock.moment += timedelta(minutes=minutes)


def record_trip(memory: Memory, clock: FixedClock, run_id: str = "r1", *, agent: str = "travel") -> None:
    run = memory.start_run("Book a flight from SFO to Paris", user_id="sam", agent_id=agent, run_id=run_id)
    with run.subgoal("find flights"):
        tick(clock)
        run.record(tool="search_flights", args={"from": "SFO", "to": "PAR"}, error="unknown airport PAR")
        tick(clock)
        run.record(tool="search_flights", args={"from": "SFO", "to": "CDG"}, result="AF83 at 15:40, $820")
    tick(clock)
    run.record(tool="book", args={"flight": "AF83"}, result={"confirmation": "XK12"})
    run.finish("success", score=1.0, cost=0.02)


def test_a_run_round_trips_losslessly(memory: Memory, clock: FixedClock):
    run = memory.start_run("Summarise the report", user_id="sam", agent_id="a1", metadata={"ticket": 7})
    outer = run.subgoal("fetch")
    inner = run.subgoal("download")
    recorded = [
        run.record(tool="http_get", args={"url": "https://x.test/r", "headers": [1, 2]}, result=LONG_PAGE),
        run.record(tool="parse", args=["a", 3], result={"pages": 3, "ok": True, "list": [1, None]}),
        run.record(tool="ocr", args=None, error="no text layer"),
        run.record("I will read it page by page.", metadata={"thought": True}),
        run.record("the PDF has 3 pages", kind="observation"),
    ]
    inner.close("success", summary="downloaded the report")
    outer.close("partial")
    done = run.finish("partial", score=0.5, cost=1.25, summary="two of three pages")

    stored = memory.get_run(run.id, user_id="sam", agent_id="a1")
    assert stored == done
    assert list(stored.steps) == recorded
    assert stored.goal == "Summarise the report" and stored.metadata == {"ticket": 7}
    assert stored.steps[0].result == LONG_PAGE  # a text result longer than metadata may hold
    assert stored.steps[1].args == ["a", 3] and stored.steps[1].result == {"pages": 3, "ok": True, "list": [1, None]}
    assert stored.steps[2].error == "no text layer" and stored.steps[2].ok is False
    assert stored.steps[3].kind == "message" and stored.steps[3].metadata == {"thought": True}
    assert stored.steps[4].kind == "observation" and stored.steps[4].ok is None
    assert [s.subgoal_id for s in stored.steps] == ["S2", "S2", "S2", "S2", "S2"]
    assert [(s.id, s.parent_id, s.outcome) for s in stored.subgoals] == [("S1", None, "partial"), ("S2", "S1", "success")]
    assert stored.subgoals[1].summary == "downloaded the report"
    assert (stored.outcome, stored.score, stored.cost, stored.summary) == ("partial", 0.5, 1.25, "two of three pages")


def test_a_run_survives_export_and_import(memory: Memory, clock: FixedClock, tmp_path: Path):
    record_trip(memory, clock)
    buffer = io.StringIO()
    memory.export(buffer)
    with Memory(tmp_path / "copy.db", embedder=HashingEmbedder(), clock=clock) as copy:
        copy.import_(buffer.getvalue().splitlines())
        assert copy.get_run("r1", user_id="sam", agent_id="travel") == memory.get_run("r1", user_id="sam", agent_id="travel")


def test_resume_continues_a_run_and_a_finished_run_refuses_more(memory: Memory, clock: FixedClock):
    run = memory.start_run("Water the plants", user_id="u", run_id="plants")
    run.record("checking the soil")
    again = memory.resume_run("plants", user_id="u")
    again.record(tool="water", args={"ml": 200}, result="done")
    done = again.finish("success")
    assert [s.index for s in done.steps] == [1, 2]
    with pytest.raises(ValidationError, match="finished"):
        again.record("one more")
    with pytest.raises(ValidationError, match="exists already"):
        memory.start_run("Water the plants", user_id="u", run_id="plants")
    assert memory.get_run("plants", user_id="u").events == 4


def test_bad_input_is_refused_and_stores_nothing(memory: Memory, clock: FixedClock):
    run = memory.start_run("Tidy up", user_id="u", run_id="t")
    with pytest.raises(ValidationError, match="outcome"):
        run.finish("great")
    with pytest.raises(ValidationError, match="score"):
        run.finish("success", score=float("nan"))
    with pytest.raises(ValidationError, match="tool"):
        run.record(kind="tool_call")
    with pytest.raises(ValidationError, match="no open subgoal"):
        run.close_subgoal()
    with pytest.raises(ValidationError):
        memory.start_run("", user_id="u")
    assert memory.get_run("t", user_id="u").events == 1
    assert not memory.get_run("t", user_id="u").finished


def test_runs_are_isolated_by_tenant_user_and_agent(db_path: Path, clock: FixedClock):
    with Memory(db_path, embedder=HashingEmbedder(), clock=clock) as acme:
        record_trip(acme, clock)
        other = Memory(store=acme.store, embedder=acme.embedder, clock=clock, tenant="other")
        with pytest.raises(NotFoundError):
            other.get_run("r1", user_id="sam")
        with pytest.raises(NotFoundError):
            acme.get_run("r1", user_id="ann")
        with pytest.raises(NotFoundError):
            acme.get_run("r1", user_id="sam", agent_id="someone-else")
        assert other.experience("flight to Paris", user_id="sam").runs == []
        assert acme.experience("flight to Paris", user_id="sam", agent_id="someone-else").runs == []
        assert other.lessons(user_id="sam") == []


def test_runs_lists_by_outcome_and_a_with_block_finishes_the_run(memory: Memory, clock: FixedClock):
    record_trip(memory, clock)
    with pytest.raises(RuntimeError), memory.start_run("Flaky job", user_id="sam", agent_id="travel", run_id="r2"):
        raise RuntimeError("disk full")
    with memory.start_run("Quick job", user_id="sam", agent_id="travel", run_id="r3") as run:
        run.record("done")
    memory.add("hello", user_id="sam", session_id="chat")  # a conversation is not a run
    assert {r.id: r.outcome for r in memory.runs(user_id="sam")} == {"r1": "success", "r2": "failure", "r3": "success"}
    assert [r.id for r in memory.runs(user_id="sam", outcome="failure")] == ["r2"]
    assert "disk full" in (memory.get_run("r2", user_id="sam").summary or "")


def test_working_memory_of_a_100_step_run_fits_a_small_budget(memory: Memory, clock: FixedClock):
    run = memory.start_run("Clean every room of the house", user_id="u", agent_id="robot", run_id="house")
    for room in range(10):
        scope = run.subgoal(f"clean room {room}")
        for step in range(10):
            tick(clock)
            run.record(tool="vacuum", args={"room": room, "spot": step}, result=f"spot {step} of room {room} clean")
        if room < 9:
            scope.close("success")
    context = run.context(budget_tokens=400)
    assert context.tokens <= 400
    assert "Now working on [S10] clean room 9" in context.text
    assert context.verbatim_steps == 10  # the open subgoal whole, first
    assert context.summarised >= 3 and f"({9 - context.summarised} earlier subgoals left out)" in context.text
    roomy = run.context(budget_tokens=800)
    assert roomy.summarised == 9 and "[S1] clean room 0: success" in roomy.text and roomy.tokens <= 800
    assert 'vacuum(room=9, spot=9) → spot 9 of room 9 clean' in context.text  # the newest step, verbatim
    assert 'room=0, spot=3' not in context.text  # a closed subgoal's steps are summarised
    assert context.trace_tokens > 4 * context.tokens
    assert roomy.citations["S1"].startswith("t_") and context.citations["#119"].startswith("t_")
    tiny = run.context(budget_tokens=60)
    assert tiny.tokens <= 60 and "earlier" in tiny.text


def test_subgoal_summaries_use_the_llm_when_configured_and_fall_back(db_path: Path, clock: FixedClock):
    llm = ScriptedLLM(["Found AF83 via CDG after PAR failed."])
    with Memory(db_path, embedder=HashingEmbedder(), clock=clock, llm=llm) as memory:
        run = memory.start_run("Fly to Paris", user_id="u", run_id="x")
        with run.subgoal("find flights"):
            run.record(tool="search", args={"to": "CDG"}, result="AF83")
        with run.subgoal("book"):  # the script is used up: the LLM fails, the summary is extractive
            run.record(tool="book", args={"flight": "AF83"}, result="XK12")
        subgoals = memory.get_run("x", user_id="u").subgoals
    assert subgoals[0].summary == "Found AF83 via CDG after PAR failed."
    assert subgoals[1].summary == 'book(flight="AF83") → XK12'
    assert "find flights" in llm.requests[0].messages[1]["content"]


def test_experience_ranks_similar_successful_runs_first_and_cites_what_mattered(memory: Memory, clock: FixedClock):
    run = memory.start_run("Book a flight from SFO to Paris", user_id="sam", agent_id="travel", run_id="failed")
    run.record(tool="search_flights", args={"from": "SFO", "to": "PAR"}, error="unknown airport PAR")
    run.finish("failure")
    tick(clock)
    record_trip(memory, clock, run_id="worked")
    tick(clock)
    other = memory.start_run("Order groceries for the week", user_id="sam", agent_id="travel", run_id="groceries")
    other.record(tool="shop", args={"items": ["milk"]}, result="ordered")
    other.finish("success")

    found = memory.experience("Book a flight from SFO to Paris for June", user_id="sam", agent_id="travel", budget_tokens=300)
    assert [r.run.id for r in found.runs][:2] == ["worked", "failed"]
    best, failed = found.runs[0], found.runs[1]
    assert [s.tool for s in best.key_steps] == ["search_flights", "book"]  # the calls that worked
    assert [s.error for s in failed.key_steps] == ["unknown airport PAR"]  # the failure that ended it
    assert found.tokens <= 300
    assert found.citations["R1"] == memory.get_run("worked", user_id="sam", agent_id="travel").turn_id
    assert "[L1]" in found.text and "use search_flights" in found.text
    small = memory.experience("flight to Paris", user_id="sam", agent_id="travel", budget_tokens=40)
    assert small.tokens <= 40


def test_lessons_are_versioned_facts_that_reinforce_supersede_and_end(memory: Memory, clock: FixedClock):
    record_trip(memory, clock, "r1")
    tick(clock, 60)
    record_trip(memory, clock, "r2")  # the same lesson again
    (lesson,) = memory.lessons(user_id="sam", agent_id="travel")
    assert lesson.mentions == 2 and lesson.subject == "travel" and lesson.kind == "lesson"
    assert memory.facts(user_id="sam", kind="lesson") == [lesson]

    tick(clock, 60)
    run = memory.start_run("Book a flight from SFO to Paris", user_id="sam", agent_id="travel", run_id="r3")
    run.record(tool="search_flights", args={"from": "SFO", "to": "PAR"}, error="unknown airport PAR")
    run.record(tool="search_flights", args={"from": "SFO", "to": "ORY"}, result="TO12")
    run.finish("success")  # another fix: a new version supersedes the old
    (current,) = memory.lessons(user_id="sam", agent_id="travel")
    assert current.value == 'use search_flights(from="SFO", to="ORY")'
    assert len(memory.history(current.id, user_id="sam")) == 2

    tick(clock, 60)
    fixed_at = clock.moment
    run = memory.start_run("Book a flight from SFO to Paris", user_id="sam", agent_id="travel", run_id="r4")
    run.record(tool="search_flights", args={"from": "SFO", "to": "PAR"}, result="the API knows PAR now")
    run.finish("success")  # the call works now: the lesson no longer holds
    assert memory.lessons(user_id="sam", agent_id="travel") == []
    assert memory.lessons(user_id="sam", agent_id="travel", as_of=fixed_at - timedelta(minutes=1)) == [
        memory.history(current.id, user_id="sam")[-1]
    ]


def test_a_retry_that_worked_teaches_no_lesson(memory: Memory, clock: FixedClock):
    run = memory.start_run("Fetch the weather", user_id="u", run_id="w")
    run.record(tool="weather", args={"city": "Oslo"}, error="timeout")
    run.record(tool="weather", args={"city": "Oslo"}, result="rain")
    run.finish("success")
    assert memory.lessons(user_id="u") == []


def test_failed_runs_fade_faster_unless_pinned(db_path: Path, clock: FixedClock):
    policy = RetentionPolicy(base_days=30, importance_weight=0.0, archive_below=0.05)
    with Memory(db_path, embedder=HashingEmbedder(), clock=clock, retention=policy) as memory:
        for run_id, outcome in (("good", "success"), ("bad", "failure"), ("kept", "failure")):
            run = memory.start_run(f"Task {run_id}", user_id="u", run_id=run_id)
            run.record(tool="do", args={"what": run_id}, error="broken" if outcome == "failure" else None)
            run.finish(outcome)
        kept = memory.get_run("kept", user_id="u")
        memory.pin([kept.turn_id, *(s.turn_id for s in kept.steps)], user_id="u")
        clock.moment = NOW + timedelta(days=40)  # R = exp(-40 / 7.5) for a failed run: under 0.05
        report = memory.consolidate(user_id="u")
        bad = {t.id for t in memory.list(user_id="u", session_id="bad", limit=10)}
        assert bad <= set(report.archived_ids["turn"])
        assert not set(report.archived_ids["turn"]) & {t.id for t in memory.list(user_id="u", session_id="good", limit=10)}
        assert kept.turn_id not in report.archived_ids["turn"]
        assert memory.get_run("bad", user_id="u").outcome == "failure"  # archived, still stored


def test_async_memory_records_and_reads_runs_the_same_way(db_path: Path, clock: FixedClock):
    import asyncio

    from engram import AsyncMemory

    async def scenario() -> tuple[object, object]:
        memory = AsyncMemory(db_path, embedder=HashingEmbedder(), clock=clock)
        try:
            async with await memory.start_run("Fly to Paris", user_id="u", agent_id="a", run_id="x") as run:
                scope = await run.subgoal("search")
                async with scope:
                    await run.record(tool="search", args={"to": "CDG"}, result="AF83")
            found = await memory.experience("flight to Paris", user_id="u", agent_id="a")
            return await memory.get_run("x", user_id="u", agent_id="a"), found.runs[0].run.id
        finally:
            memory.sync.close()

    stored, best = asyncio.run(scenario())
    assert best == "x"
    assert stored.outcome == "success" and stored.subgoals[0].outcome == "success"  # type: ignore[attr-defined]


def test_a_failure_nothing_fixed_keeps_the_fix_another_run_found(memory: Memory, clock: FixedClock):
    record_trip(memory, clock, "r1")  # PAR fails, CDG works: a lesson with a fix
    tick(clock, 60)
    run = memory.start_run("Book a flight from SFO to Paris", user_id="sam", agent_id="travel", run_id="gave-up")
    run.record(tool="search_flights", args={"from": "SFO", "to": "PAR"}, error="unknown airport PAR")
    run.finish("failure")
    (lesson,) = memory.lessons(user_id="sam", agent_id="travel")
    assert lesson.value == 'use search_flights(from="SFO", to="CDG")' and lesson.mentions == 2


def test_forgetting_a_run_removes_its_turns_and_the_lessons_only_it_taught(memory: Memory, clock: FixedClock):
    record_trip(memory, clock, "r1")
    (lesson,) = memory.lessons(user_id="sam", agent_id="travel")
    receipt = memory.forget(user_id="sam", session_id="r1")
    assert len(receipt.turn_ids) == 7 and lesson.id in receipt.fact_ids  # goal, 2 subgoal events, 3 calls, finish
    with pytest.raises(NotFoundError):
        memory.get_run("r1", user_id="sam", agent_id="travel")
    assert memory.lessons(user_id="sam", agent_id="travel") == []
    assert memory.experience("flight to Paris", user_id="sam", agent_id="travel").runs == []



def test_the_timeline_is_in_event_order_when_times_tie(memory: Memory, clock: FixedClock):
    run = memory.start_run("Two steps", user_id="u", run_id="tie")  # the fixed clock: every event at one time
    with run.subgoal("first"):
        run.record("a")
    with run.subgoal("second"):
        run.record("b")
    stored = run.finish("success")
    order = [(kind, getattr(item, "id", None) or getattr(item, "content", "")) for _, kind, item in stored.timeline()]
    assert order == [("open", "S1"), ("step", "a"), ("close", "S1"), ("open", "S2"), ("step", "b"), ("close", "S2")]


def test_experience_takes_a_retrieval_recipe(memory: Memory, clock: FixedClock):
    record_trip(memory, clock)
    for recipe in ("bm25", "vector", "hybrid"):
        found = memory.experience("flight from SFO to Paris", user_id="sam", agent_id="travel", config=recipe)
        assert [r.run.id for r in found.runs] == ["r1"], recipe
    with pytest.raises(ValidationError, match="recipe"):
        memory.experience("flight", user_id="sam", config="nope")
