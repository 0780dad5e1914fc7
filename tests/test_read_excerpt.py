"""Query-focused excerpts of long turns (engram.read.excerpt)."""

from __future__ import annotations

import pytest

from engram.providers.tokens import ApproximateCounter, default_counter
from engram.read.excerpt import excerpt, stem

COUNT = ApproximateCounter().count

ANSWER = (
    "Great question! Here are some ideas.\n"
    "1. A sturdy case protects the phone from drops.\n"
    "2. A screen protector keeps scratches away.\n"
    "3. Wireless earbuds are handy on the go.\n"
    "4. A portable charger helps on long trips.\n"
    "5. A car mount keeps directions in view while driving.\n"
    "Let me know if you want brand suggestions for any of these accessories."
)


def test_a_turn_that_fits_is_returned_unchanged():
    assert excerpt("short and sweet.", ["sweet"], max_tokens=50, count=COUNT) == "short and sweet."


def test_the_sentences_that_match_the_question_are_kept_in_their_order():
    shown = excerpt(ANSWER, ["charger", "trips", "earbuds"], max_tokens=30, count=COUNT)
    assert "Wireless earbuds" in shown and "portable charger" in shown
    assert shown.index("earbuds") < shown.index("charger")
    assert "screen protector" not in shown
    assert shown.startswith("…") and shown.endswith("…")  # text was left out before and after
    assert COUNT(shown) <= 30


def test_without_a_matching_sentence_the_opening_is_shown():
    shown = excerpt(ANSWER, ["volcano"], max_tokens=20, count=COUNT)
    assert shown.startswith("Great question!") and shown.endswith("…")


@pytest.mark.parametrize("cap", [5, 8, 16, 40, 80])
def test_the_cap_holds_even_for_one_giant_sentence(cap):
    giant = "word " * 500 + "needle here."
    for count in (COUNT, default_counter().count):
        shown = excerpt(giant, ["needle"], max_tokens=cap, count=count)
        assert count(shown) <= cap and shown


def test_stems_match_plurals_and_longer_forms():
    assert stem("accessories") == stem("accessory")
    assert stem("Dogs") == stem("dog")
    assert stem("workshop") == stem("workshops")
    assert stem("parking") == stem("park") and stem("painted") == stem("painting") == stem("paint")
