"""Per-question metric records and their aggregation, against hand-computed tables."""

from __future__ import annotations

import math

import pytest

from engram.bench.scoring import budget_record, ratios, retrieval_record, summarize_system

SESSIONS = {"a1": "A", "a2": "A", "b1": "B", "c1": "C", "c2": "C", "d1": "D"}


@pytest.mark.parametrize(
    ("ranked", "gold_turns", "gold_sessions", "expected_turn", "expected_session"),
    [
        # c1 is 4th turn but its session C is the 3rd distinct session.
        (
            ["a1", "a2", "b1", "c1"],
            ["c1"],
            ["C"],
            {"recall_all@2": 0.0, "recall_all@3": 0.0, "recall_any@3": 0.0},
            {"recall_all@2": 0.0, "recall_all@3": 1.0, "recall_any@3": 1.0, "ndcg_any@3": 1 / math.log2(3)},
        ),
        # Two gold sessions; the first found at rank 1, the second at session rank 2.
        (
            ["c2", "a1", "b1", "d1"],
            ["c1", "d1"],
            ["C", "D"],
            {"recall_all@3": 0.0, "recall_any@3": 0.0, "recall_all@4": 0.0, "recall_any@4": 1.0},
            {
                "recall_all@2": 0.0,
                "recall_any@2": 1.0,
                "recall_all@4": 1.0,
                "ndcg_any@2": 0.5,
                "ndcg_any@4": (1 + 1 / math.log2(4)) / 2,
            },
        ),
        # No gold (a single-session-assistant question): every metric is None.
        (
            ["a1", "b1"],
            [],
            [],
            {"recall_all@2": None, "recall_any@2": None, "ndcg_any@2": None},
            {"recall_all@2": None, "ndcg_any@2": None},
        ),
    ],
)
def test_longmemeval_turn_and_session_levels(
    ranked, gold_turns, gold_sessions, expected_turn, expected_session
):
    record = retrieval_record(
        benchmark="longmemeval",
        ranked=ranked,
        gold_turns=gold_turns,
        gold_sessions=gold_sessions,
        turn_to_session=SESSIONS,
        ks=[2, 3, 4],
    )
    for level, expected in (("turn", expected_turn), ("session", expected_session)):
        for name, value in expected.items():
            got = record[level][name]
            if value is None:
                assert got is None, (level, name)
            else:
                assert got == pytest.approx(value), (level, name)


def test_locomo_has_turn_level_only():
    record = retrieval_record(
        benchmark="locomo",
        ranked=["a1", "b1"],
        gold_turns=["b1"],
        gold_sessions=["B"],
        turn_to_session=SESSIONS,
        ks=[1, 2],
    )
    assert set(record) == {"turn"}
    assert record["turn"]["recall_all@1"] == 0.0
    assert record["turn"]["recall_all@2"] == 1.0


@pytest.mark.parametrize(
    ("shown", "gold", "expected"),
    [(["a", "b", "c"], ["a", "c"], 1.0), (["a", "b"], ["a", "c"], 0.0), (["a"], [], None), ([], ["a"], 0.0)],
)
def test_budget_record_needs_every_gold_turn(shown, gold, expected):
    assert budget_record(shown, gold) == expected


def _lme(
    qid, category, *, gold, session_all, session_any, session_ndcg, abstention=False, budget=None, search=1.0
):
    def level(value_all, value_any, value_ndcg):
        return {"recall_all@5": value_all, "recall_any@5": value_any, "ndcg_any@5": value_ndcg}

    return {
        "system": "engram",
        "question_id": qid,
        "category": category,
        "abstention": abstention,
        "gold_turns": gold,
        "gold_sessions": gold,
        "session": level(session_all, session_any, session_ndcg),
        "turn": level(session_all, session_any, session_ndcg),
        "budget": {"1000": budget},
        "context_tokens": {"1000": 900},
        "search_ms": search,
        "context_ms": {"1000": 2 * search},
    }


def test_longmemeval_official_and_strict_views():
    # Hand-computed table:
    #   q1 multi-session, gold found partly: all 0, any 1, ndcg 0.5, budget 0
    #   q2 single-session-assistant, no gold: official counts all 1, any 0, ndcg 0; strict drops it
    #   q3 abstention: skipped everywhere
    #   q4 multi-session, found: all 1, any 1, ndcg 1, budget 1
    records = [
        _lme("q1", "multi-session", gold=2, session_all=0.0, session_any=1.0, session_ndcg=0.5, budget=0.0),
        _lme("q2", "single-session-assistant", gold=0, session_all=None, session_any=None, session_ndcg=None),
        _lme(
            "q3_abs",
            "multi-session",
            gold=1,
            session_all=1.0,
            session_any=1.0,
            session_ndcg=1.0,
            abstention=True,
            budget=1.0,
        ),
        _lme("q4", "multi-session", gold=1, session_all=1.0, session_any=1.0, session_ndcg=1.0, budget=1.0),
    ]
    ingests = [
        {
            "system": "engram",
            "conversation_id": c,
            "turns": 100,
            "seconds": 2.0,
            "store_bytes": 1000,
            "haystack_tokens": 5000,
        }
        for c in ("q1", "q2", "q3_abs", "q4")
    ]
    summary = summarize_system(records, ingests, "longmemeval")
    official, strict = summary["overall"], summary["strict"]
    assert official["questions"] == 3
    assert official["recall_all@5"] == pytest.approx((0 + 1 + 1) / 3)
    assert official["recall_any@5"] == pytest.approx((1 + 0 + 1) / 3)
    assert official["ndcg_any@5"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert official["turn_recall_all@5"] == pytest.approx(2 / 3)
    assert official["budget_recall@1000"] == pytest.approx(0.5)  # q2 has no gold: not counted
    assert strict["questions"] == 2
    assert strict["recall_all@5"] == pytest.approx(0.5)
    assert strict["recall_any@5"] == pytest.approx(1.0)
    assert strict["ndcg_any@5"] == pytest.approx(0.75)
    assert summary["by_category"]["single-session-assistant"]["recall_all@5"] == 1.0
    assert summary["strict_by_category"]["single-session-assistant"]["questions"] == 0
    assert summary["abstention"]["questions"] == 1
    assert official["ingest_turns_per_s"] == pytest.approx(400 / 8)
    assert official["haystack_tokens_mean"] == 5000
    assert official["search_p50_ms"] == 1.0
    assert official["llm_calls_per_turn"] == 0.0


def _locomo(qid, category, value, gold=1):
    return {
        "system": "engram",
        "question_id": qid,
        "category": category,
        "abstention": category == "5",
        "gold_turns": gold,
        "turn": {"recall_all@10": value if gold else None},
        "budget": {"500": value if gold else None},
        "search_ms": 1.0,
        "context_ms": {"500": 1.0},
    }


def test_locomo_overall_is_categories_1_to_4_and_adversarial_apart():
    records = [
        _locomo("a", "1", 0.0),
        _locomo("b", "2", 1.0),
        _locomo("c", "3", 1.0),
        _locomo("d", "4", 1.0),
        _locomo("e", "4", None, gold=0),  # no evidence: counted as a question, not in the mean
        _locomo("f", "5", 0.0),
        _locomo("g", "5", 0.0),
    ]
    summary = summarize_system(records, [], "locomo")
    assert summary["overall"]["questions"] == 5
    assert summary["overall"]["with_gold"] == 4
    assert summary["overall"]["recall_all@10"] == pytest.approx(0.75)
    assert list(summary["by_category"]) == ["1", "2", "3", "4", "5"]
    assert summary["by_category"]["4"]["recall_all@10"] == 1.0
    assert summary["adversarial"]["questions"] == 2
    assert summary["adversarial"]["recall_all@10"] == 0.0
    assert summary["overall"]["ingest_turns_per_s"] is None


def test_ratios_of_engram_to_each_baseline():
    systems = {
        "engram": {"overall": {"recall_all@10": 0.6, "budget_recall@500": 0.5, "search_p50_ms": 4.0}},
        "bm25": {"overall": {"recall_all@10": 0.4, "budget_recall@500": 0.0, "search_p50_ms": 1.0}},
    }
    table = ratios(systems)
    assert table["engram/bm25"]["recall_all@10"] == pytest.approx(1.5)
    assert table["engram/bm25"]["budget_recall@500"] is None  # no ratio to zero
    assert "search_p50_ms" not in table["engram/bm25"]
    assert ratios({"bm25": systems["bm25"]}) == {}


def test_locomo_two_folds_split_conversations_in_natural_id_order():
    records = []
    for number, conversation in enumerate(["conv-9", "conv-10", "conv-26", "conv-30", "conv-41"]):
        record = _locomo(f"q{number}", "4", float(number % 2))
        record["conversation_id"] = conversation
        records.append(record)
    records.append({**_locomo("adv", "5", 1.0), "conversation_id": "conv-9"})  # adversarial: not in a fold
    folds = summarize_system(records, [], "locomo")["by_fold"]
    # conv-9 < conv-10 < conv-26 by number, not by string; the first half takes the odd one.
    assert list(folds) == ["conversations 1-3", "conversations 4-5"]
    assert folds["conversations 1-3"]["questions"] == 3
    assert folds["conversations 1-3"]["recall_all@10"] == pytest.approx(1 / 3)  # conv-10 only
    assert folds["conversations 4-5"]["recall_all@10"] == pytest.approx(1 / 2)  # conv-30 only
