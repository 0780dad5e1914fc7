"""A write's text analysis does each piece of work once (issue 16, item 2, fifth pass): an episode's
key phrases come from its turns' tokens, a turn's time-rule trigger words from the same tokens,
and the regexes, parsing and segmentation do less for the same output. The values pinned here are
the ones the code before this pass gave."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from engram.errors import ValidationError
from engram.model import Scope, Turn
from engram.model.scope import check_id
from engram.model.turn import check_metadata, turn_id
from engram.text.keyphrases import (
    PhraseRuns,
    entities,
    joined_keyphrases,
    keyphrases,
    phrase_runs,
    phrase_tokens,
    salience,
)
from engram.text.timeexpr import find_time_mentions
from engram.text.timerules import RULES, trigger_tokens, trigger_tokens_from
from engram.write.episodes import KEEP_TOKENS_CHARS, build_episode, text_signals
from engram.write.extract import _SENTENCE_BREAK, _normalise
from engram.write.segment import segment

T0 = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)

#: Texts whose tokens join in every way that matters: a dash between spaces across the line break
#: (a phrase splitter only there), phrases running across it, a repeat, the four-word limit, a
#: possessive dropped next to a dash, Greek final sigma, a dotted capital I, nothing but "'s".
GROUPS = [
    ["We hiked the ridge -", "lake trail"],
    ["pottery class", "- new glaze colours"],
    ["x -'s", "lake trail"],
    ["-", "lake trail", "-"],
    ["I love hiking", "Mountains are great"],
    ["dog", "dog dog"],
    ["alpha beta gamma", "delta epsilon zeta eta"],
    ["ΟΔΟΣ", "ΣΟΦΙΑΣ"],
    ["İstanbul", "trip"],
    ["'s", "ok"],
    ["Caroline’s art show", "opening night - pottery"],
    ["2023", "2024 plans"],
    ["alpha beta gamma delta", "epsilon zeta"],  # four words: the run closes at the text's end
    ["we saw 2023", "2024 was", "fine"],  # an open run of a bare number carried on
    ["ok", "", "lake trail", "trail"],
]


@pytest.mark.parametrize("texts", GROUPS)
def test_joined_keyphrases_are_those_of_the_joined_text(texts: list[str]) -> None:
    expected = keyphrases("\n".join(texts))
    assert joined_keyphrases(texts) == expected
    assert joined_keyphrases(texts, tokens=[phrase_tokens(text) for text in texts]) == expected
    some = [phrase_tokens(text) if number % 2 else None for number, text in enumerate(texts)]
    assert joined_keyphrases(texts, tokens=some) == expected
    assert joined_keyphrases(texts, top=2) == keyphrases("\n".join(texts), top=2)
    runs = [phrase_runs(text) for text in texts]
    assert joined_keyphrases(texts, runs=runs) == expected
    some_runs = [found if number % 3 else None for number, found in enumerate(runs)]
    assert joined_keyphrases(texts, tokens=some, runs=some_runs) == expected


def test_a_texts_phrase_runs_are_found_once_for_its_episode_and_the_next_turns_notes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from engram.text import keyphrases as module

    texts = ["We hiked the ridge", "lake trail was muddy.", "Caroline’s art show opening!", "so fun"]
    signals = [text_signals(text) for text in texts]  # before: no candidate phrases found here
    found: list[int] = []
    original = module._runs
    def counted(tokens: tuple[str, ...], carried: list[str]) -> PhraseRuns:
        found.append(len(carried))
        return original(tokens, carried)

    monkeypatch.setattr(module, "_runs", counted)
    assert [keyphrases(text, top=4) for text in texts[:-1]] == [
        ["hiked", "ridge"],
        ["lake trail", "muddy"],
        ["caroline art show opening"],
    ]  # the next turns' notes: the runs text_signals found, cached
    turns = _turns(texts)
    held = dict(zip([t.id for t in turns], signals, strict=True))
    episode, _ = build_episode(turns, np.eye(len(texts), 8, dtype=np.float32), held)
    assert found == [1]  # only the text continuing the run "ridge" that the first left open
    assert episode.keyphrases == tuple(keyphrases("\n".join(texts)))


def test_a_dash_at_a_texts_edge_splits_phrases_across_the_break() -> None:
    # " -\n" is one splitter token of the joined text that neither text holds alone
    assert joined_keyphrases(["We hiked the ridge -", "lake trail"]) == ["lake trail", "hiked", "ridge"]
    assert joined_keyphrases(["We hiked the ridge", "lake trail"]) == ["ridge lake trail", "hiked"]


def test_text_signals_hold_the_tokens_of_a_chat_message_only() -> None:
    short = "I moved to Lisbon last May."
    assert text_signals(short).tokens == phrase_tokens(short)
    document = "word " * (KEEP_TOKENS_CHARS // 5 + 1)
    assert len(document) > KEEP_TOKENS_CHARS
    assert text_signals(document).tokens is None


def _turns(texts: list[str]) -> list[Turn]:
    scope = Scope("default", "u", None, "s")
    return [
        Turn(f"t{n}", scope, "user", text, T0 + timedelta(minutes=n), T0, f"h{n}", name="Sam")
        for n, text in enumerate(texts)
    ]


def test_an_episodes_key_phrases_with_and_without_its_turns_signals() -> None:
    texts = ["We hiked the ridge -", "lake trail was muddy", "Caroline’s art show opening", "x" * 5000]
    turns = _turns(texts)
    vectors = np.eye(len(texts), 8, dtype=np.float32)
    signals = {turn.id: text_signals(turn.content) for turn in turns[:2]}
    with_signals, _ = build_episode(turns, vectors, signals)
    alone, _ = build_episode(turns, vectors)
    assert with_signals.keyphrases == alone.keyphrases == tuple(keyphrases("\n".join(texts)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0.0),
        ("...!?", 0.0),
        ("2023 2024", 0.05),
        ("ok", 0.05),
        ("We hiked the ridge -", 0.315),
        ("- and then the lake trail", 0.165),
        ("ΟΔΟΣ ΣΟΦΙΑΣ", 0.165),
        ("İstanbul trip", 0.465),
        ("Caroline’s art show's opening", 0.375),
        ("I moved to Lisbon in 2019 with my dog?", 0.626),
    ],
)
def test_salience_as_before(text: str, expected: float) -> None:
    assert salience(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hey Mel! Good to see you!", ["Mel"]),
        ("(Bank of America) and O’Neil", ["Bank of America", "O’Neil"]),
        ("x_Paris", []),
        ("Paris’ cafe", ["Paris’"]),
        ('"Anna" said', ["Anna"]),
        ("Mr. Smith met Dr. Who in St. Louis", ["Mr. Smith", "Dr. Who", "St. Louis"]),
        ("İstanbul is lovely", []),
    ],
)
def test_names_as_before(text: str, expected: list[str]) -> None:
    assert entities(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "“Dr. Smith” called. I said hi!\n\nHe left.  Then Mrs. Jones came?  Yes",
            ["“Dr. Smith” called.", "I said hi!", "He left.", "Then Mrs. Jones came?", "Yes"],
        ),
        ("Wait...   what?\tOK.\nNext", ["Wait...", "what?", "OK.", "Next"]),
        ("no break here", ["no break here"]),
    ],
)
def test_sentence_breaks_as_before(text: str, expected: list[str]) -> None:
    assert _SENTENCE_BREAK.split(text) == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Cannot stop", "cannot stop"),  # no apostrophe, still changed
        ("CANNOT wait", "cannot wait"),
        ("i said hi", "I said hi"),
        ("i can't", "I cannot"),
        ("i won't go", "I will not go"),
        ("I’m here and they’d come", "I am here and they would come"),
        ("isn't it", "is not it"),
        ("hi", "hi"),
    ],
)
def test_contractions_as_before(sentence: str, expected: str) -> None:
    assert _normalise(sentence) == expected


TIME_TEXTS = [
    "I moved here last May's end",
    "Caroline's 2023 trip",
    "don't forget yesterday's party",
    "２０２３ was a good year",
    "in 1999, and the 4th of July",
    "We met on Friday at 10:30 — since 2019’s summer",
    "nothing dated here",
    "it's",
]


@pytest.mark.parametrize("text", TIME_TEXTS)
def test_trigger_words_from_the_key_phrase_tokens(text: str) -> None:
    derived = trigger_tokens_from(phrase_tokens(text))
    assert derived <= trigger_tokens(text) and trigger_tokens(text) - derived <= {"s"}  # a possessive's "s"
    assert find_time_mentions(text, T0, triggers=derived) == find_time_mentions(text, T0)


def test_no_time_rule_is_triggered_by_a_lone_s() -> None:
    assert not any("s" in rule.triggers for rule in RULES)


# the last two are not printable (a no-break space, a line separator) but hold no C character
@pytest.mark.parametrize("value", ["Caroline", "a b", "Zoë", "D1:3", "x\u00a0y", "a\u2028b"])
def test_identifiers_without_control_characters_pass(value: str) -> None:
    assert check_id(value, "name") == value


@pytest.mark.parametrize("value", ["a\u200bb", "a\x7fb", "a\tb", "a\ue000b"])
def test_identifiers_with_control_or_format_characters_fail(value: str) -> None:
    with pytest.raises(ValidationError, match="control or unassigned"):
        check_id(value, "name")


def test_turn_ids_and_metadata_encoded_as_before() -> None:
    scope = Scope("default", "conv-26", None, "session_1")
    parts = ("user", "Caroline", "Hey Mel! é", T0.isoformat(), 0)
    payload = json.dumps(
        [scope.tenant, scope.user_id, scope.agent_id, scope.session_id, *parts],
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    assert turn_id(scope, *parts) == "t_" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]
    assert turn_id(scope, T0) == turn_id(scope, str(T0))  # default=str still applies
    assert check_metadata({1: ("a", "é"), "n": None}) == {"1": ["a", "é"], "n": None}
    with pytest.raises(ValidationError, match="not JSON-serialisable"):
        check_metadata({"when": T0})


def test_segmenting_zero_vectors_as_before() -> None:
    stamps = [T0 + timedelta(minutes=n) for n in range(10)]
    assert segment(stamps, np.zeros((10, 8), dtype=np.float32)) == [(0, 6), (6, 10)]
