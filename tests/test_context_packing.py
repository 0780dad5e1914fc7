"""Packing a context's budget (issue 11): the ranked memories first, nothing said twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engram.model import Hit, Scope, Turn
from engram.model.fact import FactVersion
from engram.providers.tokens import ApproximateCounter
from engram.read.assemble import FACTS_HEADER, assemble_context
from engram.read.context import shortener

T0 = datetime(2024, 5, 8, 13, 56, tzinfo=UTC)
AT = T0 + timedelta(days=1)
COUNT = ApproximateCounter().count


def turn(n: int, text: str, *, role: str = "user", session: str = "s1") -> Turn:
    return Turn(
        id=f"t{n}",
        scope=Scope("t", "u", None, session),
        role=role,
        content=text,
        timestamp=T0 + timedelta(minutes=n),
        recorded_at=T0,
        content_hash="h",
        name="Ann" if role == "user" else None,
        seq=n,
    )


def fact(n: int, statement: str, sources: tuple[str, ...], *, valid_to: datetime | None = None) -> FactVersion:
    return FactVersion(
        id=f"f{n}", slot=f"k{n}", tenant="t", user_id="u", agent_id=None, subject="Ann", attribute=f"a{n}",
        value="v", statement=statement, kind="other", multi=False, valid_from=T0, valid_to=valid_to,
        recorded_at=T0, superseded_at=None, superseded_by=None, confidence=0.8, source="rules",
        source_turn_ids=sources,
    )  # fmt: skip


def assemble(ranked, budget, facts, notes=None, settled=None):
    return assemble_context(
        user_id="u",
        working=[],
        ranked=ranked,
        budget_tokens=budget,
        count=COUNT,
        reference_time=AT,
        facts=facts,
        facts_share=0.5,
        fact_notes=notes,
        settled={fact.id for fact in facts} if settled is None else settled,
    )


RANKED = [Hit(turn(n, f"memory {n} about the garden and the roses " + "word " * 12), 1.0 / n) for n in range(1, 9)]
LONG_STATEMENT = "Ann grows roses, tulips, lilies and dahlias in the back garden every single summer " * 2
SAID_BY_T1 = fact(1, LONG_STATEMENT, ("t1",))
BUDGET = 200


def test_a_fact_that_only_repeats_a_shown_turn_gives_its_room_to_the_next_memory():
    text, tokens, items, _, refs = assemble(RANKED, BUDGET, [SAID_BY_T1])
    assert "t1" in {i.turn.id for i in items} and tokens <= BUDGET
    assert refs == [] and FACTS_HEADER not in text and "tulips" not in text
    no_facts = assemble(RANKED, BUDGET, [])[2]
    assert [i.turn.id for i in items] == [i.turn.id for i in no_facts]
    said_elsewhere = assemble(RANKED, BUDGET, [fact(2, LONG_STATEMENT, ("t99",))])[2]
    assert len(said_elsewhere) < len(items)  # the same line, needed, takes a memory's room


def test_a_fact_whose_slot_held_other_values_stays_though_it_repeats_a_shown_turn():
    text, _, _, _, refs = assemble(RANKED, BUDGET, [SAID_BY_T1], settled=set())
    assert refs == [("F1", SAID_BY_T1)] and "tulips" in text  # it says which value is current


def test_a_fact_whose_source_is_not_shown_stays_and_keeps_its_citation():
    elsewhere = fact(2, "Ann grows roses in the back garden every single summer", ("t99",))
    text, _, _, _, refs = assemble(RANKED, BUDGET, [elsewhere])
    assert refs == [("F1", elsewhere)] and f"[F1] {elsewhere.statement}" in text


def test_a_fact_with_an_end_or_a_later_contradiction_is_kept_though_its_source_is_shown():
    ended = fact(3, "Ann grew roses in the back garden", ("t1",), valid_to=T0 + timedelta(hours=1))
    noted = fact(4, "Ann grows roses in the back garden", ("t1",))
    notes = {"f4": "until 2024-05-09; later said: I gave up on roses"}
    text, _, _, _, refs = assemble(RANKED, BUDGET, [ended, noted], notes)
    assert [f.id for _, f in refs] == ["f3", "f4"]
    assert "to 2024-05-08" in text and "later said: I gave up on roses" in text


def test_dropping_a_repeated_fact_renumbers_the_facts_left():
    repeated = SAID_BY_T1
    kept = fact(5, "Ann owns a greenhouse", ("t99",))
    text, _, _, _, refs = assemble(RANKED, BUDGET, [repeated, kept])
    assert refs == [("F1", kept)] and "[F1] Ann owns a greenhouse" in text and "[F2]" not in text


LONG_USER_TURN = " ".join(
    [f"Sentence {n} is about the weather and the sky today." for n in range(12)]
    + ["My sister Mia moved to Lisbon last spring."]
    + [f"Sentence {n} is about the traffic in town." for n in range(12, 20)]
)


def test_in_a_small_budget_the_users_long_turn_is_cut_to_a_share_of_it():
    hit = Hit(turn(1, LONG_USER_TURN), 1.0)
    assert COUNT(LONG_USER_TURN) > 200
    small = shortener("where did Mia move?", 60, COUNT, budget_tokens=500)
    large = shortener("where did Mia move?", 60, COUNT, budget_tokens=4000)
    assert small is not None and large is not None
    shown = small(hit)
    assert "Mia moved to Lisbon" in shown and COUNT(shown) <= 60
    assert COUNT(large(hit)) > 60  # with room to spare, the user's words keep their larger cap


def test_the_budget_share_never_cuts_below_the_excerpt_cap_and_spares_short_turns():
    shorten = shortener("how was the weather and the sky?", 60, COUNT, budget_tokens=100)
    assert shorten is not None
    assert 40 < COUNT(shorten(Hit(turn(1, LONG_USER_TURN), 1.0))) <= 60  # the cap stays 60, not 10
    assert shorten(Hit(turn(2, "Mia moved to Lisbon."), 1.0)) == "Mia moved to Lisbon."


def test_when_the_best_memories_do_not_fit_their_excerpts_are_tightened_until_they_do(memory):
    notes = [
        " ".join(f"Note {n}.{line}: the roses in garden {n} need water at dawn." for line in range(14))
        for n in range(6)
    ]
    for n, text in enumerate(notes):
        memory.add([{"role": "user", "content": text}], user_id="ann", session_id=f"s{n}")
    assert all(memory.token_counter.count(text) > 150 for text in notes)
    ctx = memory.context("roses garden water", user_id="ann", budget_tokens=400, expand=False, reinforce=False)
    shown = {item.turn.content for item in ctx.items}
    assert shown == set(notes) and ctx.tokens <= 400  # at the first cap (60 tokens) only five fit
    assert all(item.excerpt for item in ctx.items)


def test_a_relative_date_is_annotated_but_a_date_that_names_its_year_is_not_repeated():
    from engram.read.assemble import resolve_dates

    said = datetime(2024, 4, 8, 9, 0, tzinfo=UTC)
    assert resolve_dates("I ran yesterday, and again on Friday.", said) == (
        "I ran yesterday [2024-04-07], and again on Friday [2024-04-05]."
    )
    absolute = "The freeze is April 10, 2024; deploy at moment('2024-04-20'); we met in March 2023."
    assert resolve_dates(absolute, said) == absolute


def test_a_fact_that_only_repeats_its_shown_turn_is_left_out_of_a_memorys_context(memory):
    memory.add("I just adopted a beagle called Biscuit.", user_id="sam", session_id="s1", timestamp="2024-05-01T10:00:00Z")
    (pet,) = memory.facts(user_id="sam")
    found = memory.context("Biscuit the beagle", user_id="sam", budget_tokens=400, reinforce=False)
    assert "adopted a beagle called Biscuit" in found.text
    assert pet.statement not in found.text and found.facts == []  # retrieval found it; the turn says it


def test_a_fact_of_the_kind_the_question_asks_about_is_shown_though_it_repeats_its_turn(memory):
    memory.add("I live in Paris now, near the river.", user_id="sam", session_id="s1", timestamp="2024-05-01T10:00:00Z")
    context = memory.context("where do I live?", user_id="sam", budget_tokens=400, reinforce=False)
    assert "I live in Paris" in context.text and "lives in Paris (since 2024-05-01)" in context.text
