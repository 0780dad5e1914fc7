"""The pure steps of the read path: query terms, rank fusion, context assembly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engram.model import Hit, Scope, SearchFilters, Turn
from engram.providers.tokens import ApproximateCounter
from engram.read.analyze import analyze, embedding_text
from engram.read.assemble import MEMORIES_HEADER, WORKING_HEADER, assemble_context, format_turn
from engram.read.fuse import reciprocal_rank_fusion
from engram.read.query import query_terms
from engram.read.retrieve import RetrievalConfig, apply_priors, expand_neighbours

T0 = datetime(2024, 5, 8, 13, 56, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ("Where does Alice live now?", ["alice", "live"]),
        ("What is the name of Caroline's dog?", ["name", "caroline", "dog"]),
        ("the the THE", []),
        ("", []),
        ('quote " and * star', ["quote", "star"]),
        ("Café in São Paulo", ["café", "são", "paulo"]),
        ("dog dog Dog", ["dog"]),
    ],
)
def test_query_terms(query, terms):
    assert query_terms(query) == terms


def test_rrf_rewards_agreement_between_rankings():
    fused = reciprocal_rank_fusion(
        {"bm25": [("a", 9.0), ("b", 5.0), ("c", 1.0)], "vector": [("b", 0.9), ("d", 0.8), ("a", 0.1)]}, k=60
    )
    order = [item.key for item in fused]
    assert order[:2] == ["b", "a"]  # both found b and a; b ranks 2+1, a ranks 1+3
    b = fused[0]
    assert b.score == pytest.approx(1 / 62 + 1 / 61)
    assert b.signals() == {"rrf": b.score, "bm25_rank": 2, "bm25": 5.0, "vector_rank": 1, "vector": 0.9}


@pytest.mark.parametrize(
    ("rankings", "expected"),
    [
        ({}, []),
        ({"bm25": []}, []),
        ({"bm25": [("x", 1.0)]}, ["x"]),
        ({"bm25": [("x", 1.0), ("x", 0.5), ("y", 0.1)]}, ["x", "y"]),  # a key counts once per ranking
        ({"a": [("p", 1), ("q", 1)], "b": [("q", 1), ("p", 1)]}, ["p", "q"]),  # tie: first seen first
    ],
)
def test_rrf_edge_cases(rankings, expected):
    assert [item.key for item in reciprocal_rank_fusion(rankings)] == expected


def test_rrf_weights_shift_the_order():
    rankings = {"bm25": [("a", 1.0)], "vector": [("b", 1.0)]}
    fused = reciprocal_rank_fusion(rankings, weights={"bm25": 1.0, "vector": 2.0})
    assert [item.key for item in fused] == ["b", "a"]


def turn(n: int, text: str, *, session: str = "s1", minutes: int | None = None) -> Turn:
    return Turn(
        id=f"t{n}",
        scope=Scope("t", "u", None, session),
        role="user",
        content=text,
        timestamp=T0 + timedelta(minutes=n if minutes is None else minutes),
        recorded_at=T0,
        content_hash="h",
        name="Ann",
        seq=n,
    )


COUNT = ApproximateCounter().count


def build(working, ranked, budget, **kw):
    return assemble_context(
        user_id="u",
        working=working,
        ranked=ranked,
        budget_tokens=budget,
        count=COUNT,
        reference_time=T0 + timedelta(days=1),
        **kw,
    )[:4]


def test_context_puts_working_memory_first_and_memories_in_time_order():
    working = [turn(11, "latest words"), turn(10, "earlier words")]  # newest first
    ranked = [Hit(turn(3, "third fact"), 0.9), Hit(turn(1, "first fact", session="s0"), 0.8)]
    text, tokens, items, left_out = build(working, ranked, 500)
    lines = text.splitlines()
    assert lines[1] == WORKING_HEADER
    assert lines[2].startswith("[W1]") and "earlier words" in lines[2]
    assert "latest words" in lines[3]
    assert lines[4] == MEMORIES_HEADER
    assert lines[5] == "### Wed 8 May 2024, 13:57"
    assert lines[6] == "[M1] Ann: first fact"
    assert lines[7] == "### Wed 8 May 2024, 13:59"
    assert lines[8] == "[M2] Ann: third fact"
    assert [i.ref for i in items] == ["W1", "W2", "M1", "M2"]
    assert tokens == COUNT(text) <= 500 and left_out == []


def test_context_never_exceeds_the_budget_and_says_what_was_left_out():
    ranked = [Hit(turn(n, f"memory number {n} " + "word " * 20), 1.0 / n) for n in range(1, 30)]
    for budget in (1, 10, 40, 80, 200, 400):
        _, tokens, items, left_out = build([], ranked, budget)
        assert tokens <= budget
        assert len(items) + len(left_out) == len(ranked)
        assert all(
            reason == "did not fit in the token budget" or "budget" in reason for _, reason in left_out
        )


def test_context_skips_a_long_hit_but_keeps_filling_with_shorter_ones():
    ranked = [Hit(turn(1, "long " * 300), 1.0), Hit(turn(2, "short one"), 0.5)]
    _, _, items, left_out = build([], ranked, 100)
    assert [i.turn.id for i in items] == ["t2"]
    assert left_out == [(ranked[0].turn, "did not fit in the token budget")]


def test_working_memory_is_capped_by_its_share_and_is_a_contiguous_window():
    working = [turn(n, "chat " * 10) for n in range(20, 0, -1)]
    _, _, items, _ = build(working, [], 200, working_share=0.5)
    ids = [i.turn.id for i in items]
    assert ids and sum(i.tokens for i in items) <= 100
    assert ids == [f"t{n}" for n in range(21 - len(ids), 21)]  # the newest, in order


def test_a_hit_already_in_working_memory_is_not_repeated():
    shared = turn(5, "the same turn")
    _, _, items, left_out = build([shared], [Hit(shared, 1.0)], 300)
    assert [i.section for i in items] == ["working_memory"]
    assert left_out == [(shared, "already in working memory")]


def test_memories_of_one_session_share_a_header_and_show_a_time_only_where_it_changes():
    ranked = [
        Hit(turn(1, "one", minutes=0), 0.9),
        Hit(turn(2, "two", minutes=0), 0.8),
        Hit(turn(3, "three", minutes=7), 0.7),
        Hit(turn(4, "four", minutes=60 * 30), 0.6),  # the next day, same session
    ]
    text, tokens, _, _ = build([], ranked, 500)
    assert text.splitlines()[2:] == [
        "### Wed 8 May 2024, 13:56",
        "[M1] Ann: one",
        "[M2] Ann: two",
        "[M3] 14:03 Ann: three",
        "[M4] Thu 9 May 2024, 19:56 Ann: four",
    ]
    assert tokens == COUNT(text)


def test_when_estimates_overshoot_the_weakest_memory_is_dropped_first():
    ranked = [Hit(turn(n, f"memory {n} " + "word " * 8, session=f"s{n}"), 1.0 / n) for n in range(1, 12)]
    for budget in range(30, 200, 7):
        text, tokens, items, left_out = build([], ranked, budget)
        assert tokens <= budget and COUNT(text) == tokens
        kept = sorted(int(i.turn.id[1:]) for i in items)
        assert kept == list(range(1, len(kept) + 1))  # a prefix of the ranking
        assert len(items) + len(left_out) == len(ranked)


def test_a_shortened_turn_is_shown_as_its_excerpt_and_marked():
    ranked = [Hit(turn(1, "a long answer " * 40), 0.9), Hit(turn(2, "kept whole"), 0.5)]
    text, _, items, _ = build(
        [], ranked, 500, shorten=lambda h: "an excerpt …" if h.turn.id == "t1" else h.turn.content
    )
    assert "[M1] Ann: an excerpt …" in text and "a long answer" not in text
    assert [(i.turn.id, i.excerpt) for i in items] == [("t1", True), ("t2", False)]


def test_turn_lines_carry_date_weekday_session_and_speaker():
    line = format_turn("M1", turn(0, "hello\n  there", session="s9"), with_session=True)
    assert line == "[M1] Wed 8 May 2024, 13:56 [s9] Ann: hello there"


@pytest.mark.parametrize(
    ("question", "terms", "window"),
    [
        ("What did I buy a week ago?", ["buy"], ("2024-04-29", "2024-05-06")),
        ("Who gave me jewelry last Saturday?", ["gave", "jewelry", "saturday"], ("2024-05-04", "2024-05-05")),
        (
            "When did Melanie go camping in June?",
            ["melanie", "go", "camping", "june"],
            ("2023-06-01", "2023-07-01"),
        ),
        ("How many months ago did I start?", ["months", "ago", "start"], None),  # a duration, no window
    ],
)
def test_time_phrases_narrow_by_time_and_their_relative_words_leave_the_terms(question, terms, window):
    analysis = analyze(question, T0)
    assert analysis.terms == terms
    span = analysis.time_range
    assert (span and (f"{span[0]:%Y-%m-%d}", f"{span[1]:%Y-%m-%d}")) == window or span is window is None


@pytest.mark.parametrize(
    ("question", "role", "names"),
    [
        ("What breed is my dog?", "user", set()),
        ("What did you recommend for my trip?", "assistant", set()),
        ("Can you remind me of the name?", None, set()),
        ("Can you remind me what you said about it?", "assistant", set()),
        ("What did you say about my essay?", "assistant", set()),
        ("Can you suggest some activities that I can do in the evening?", "user", set()),
        ("Could you recommend a book for me?", "user", set()),
        ("Can you suggest a good book?", None, set()),
        ("What kind of place does Caroline want to create?", None, {"caroline"}),
        ("How do Jon and Gina both like to destress?", None, {"jon", "gina"}),
    ],
)
def test_analysis_says_whose_words_answer_the_question(question, role, names):
    analysis = analyze(question, T0)
    assert analysis.speaker_role == role and analysis.names == names


@pytest.mark.parametrize(
    ("question", "embedded"),
    [
        ("What activities does Melanie partake in?", "What activities does partake in?"),
        ("What is Melanie's favourite book?", "What is favourite book?"),
        ("How do Jon and Gina both like to destress?", "How do and both like to destress?"),
        ("What did Jon do in Paris?", "What did do in Paris?"),  # a place is not a speaker
        ("Melanie?", "Melanie?"),  # nothing would be left
        ("What did melanie say?", "What did melanie say?"),  # not written as a name
    ],
)
def test_the_embedded_question_leaves_out_the_speakers_it_names(question, embedded):
    speakers = frozenset({"Melanie", "Jon Smith", "Gina"})
    assert embedding_text(analyze(question, T0), speakers) == embedded


def test_the_speaker_prior_raises_the_named_speakers_turns():
    def said(n: int, name: str, role: str = "user") -> Hit:
        base = turn(n, f"line {n}")
        return Hit(
            Turn(**{**{f: getattr(base, f) for f in base.__slots__}, "name": name, "role": role}), 1.0 / n
        )

    hits = [said(1, "Melanie"), said(2, "Caroline Smith"), said(3, "Melanie"), said(4, "Caroline")]
    named = apply_priors(hits, analyze("What does Caroline paint?", T0), RetrievalConfig(name_boost=1.5))
    assert [h.turn.id for h in named] == ["t2", "t1", "t4", "t3"]
    assert named[0].signals["speaker"] == 1.5 and "speaker" not in named[1].signals
    mine = apply_priors(
        [said(1, "", "assistant"), said(2, "", "user")],
        analyze("Where is my car?", T0),
        RetrievalConfig(role_boost=1.5),
    )
    assert [h.turn.role for h in mine] == ["user", "assistant"]
    every = RetrievalConfig(role_boost=1.0, name_boost=1.0, window_boost=1.0)
    assert apply_priors(hits, analyze("What is the weather like?", T0), every) == hits


def test_the_window_prior_raises_turns_inside_the_questions_time_window():
    inside, outside = turn(1, "in the window"), turn(2, "a day later", minutes=60 * 24)
    hits = [Hit(outside, 1.0), Hit(inside, 0.8)]
    at = T0 + timedelta(days=2)  # "yesterday" is T0 + 1 day, "two days ago" is T0's day
    asked = apply_priors(hits, analyze("What did I do two days ago?", at), RetrievalConfig(window_boost=0.5))
    assert [h.turn.id for h in asked] == ["t1", "t2"] and asked[0].signals["in_window"] == 0.5
    assert apply_priors(hits, analyze("What did I do two days ago?", at), RetrievalConfig()) == hits


class _Adjacent:
    """A store that knows only which turns sit next to which."""

    def __init__(self, turns: list[Turn]):
        self.turns = turns

    def adjacent_turns(self, scope, turn_, *, before=1, after=1):
        at = self.turns.index(turn_)
        return self.turns[max(at - before, 0) : at] + self.turns[at + 1 : at + 1 + after]

    def get_turns(self, scope, ids, *, filters=None, until=None):
        return [t for t in self.turns if t.id in ids and (until is None or t.timestamp <= until)]


def test_neighbours_of_strong_hits_rank_at_half_their_hits_score():
    turns = [turn(n, f"line {n}") for n in range(10)]
    hits = [Hit(turns[2], 1.0), Hit(turns[7], 0.8), Hit(turns[8], 0.45), Hit(turns[5], 0.3)]
    ranked = expand_neighbours(_Adjacent(turns), None, hits, filters=SearchFilters(), until=T0 + timedelta(days=1), strong=2)
    # t1 and t3 (around t2) at 0.5 come after t7 but before t8; t6 (around t7) at 0.4 after t8;
    # t8 is a hit already; t5 (rank 4) is not strong enough to pull in t4.
    assert [(h.turn.id, h.score) for h in ranked] == [
        ("t2", 1.0), ("t7", 0.8), ("t1", 0.5), ("t3", 0.5), ("t8", 0.45), ("t6", 0.4), ("t5", 0.3)
    ]  # fmt: skip
    assert ranked[2].signals == {"neighbour_of_rank": 1} and ranked[5].signals == {"neighbour_of_rank": 2}
