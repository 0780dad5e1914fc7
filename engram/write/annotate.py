"""Notes the write path attaches to each turn before storing it. Pure and cheap.

* **Importance** is the turn's salience (LightMem's sensory filter, SirLLM's key phrases):
  "ok", "haha", "thanks!" get little and fade fast; statements with names, numbers, dates
  and facts get much and last.
* **Keys** expand what the full-text index finds the turn by (LongMemEval's fact-augmented
  keys and round-level indexing): the statements of facts extracted from the turn, the
  absolute dates its relative time phrases mean ("yesterday" said on 8 May 2023 → 2023-05-07,
  7 May 2023), and the keyphrases of the turn it answers (so "It was amazing!" is found by the
  question about the concert it replies to).
"""

from __future__ import annotations

from collections.abc import Sequence

from engram.model import NewTurn
from engram.store.base import TurnNotes
from engram.text.keyphrases import keyphrases, salience
from engram.text.timeexpr import find_time_mentions
from engram.text.timerules import trigger_tokens_from
from engram.write.episodes import TextSignals
from engram.write.extract import FactCandidate

#: Keyphrases taken from the previous turn of the same session.
CONTEXT_PHRASES = 4


def date_keys(text: str, turn: NewTurn, tokens: Sequence[str] | None = None) -> list[str]:
    """Absolute forms of the relative time phrases in ``text``, said at the turn's time; ``tokens``
    are the text's key-phrase tokens when in hand (its time rules' trigger words come from them)."""
    out: list[str] = []
    triggers = trigger_tokens_from(tokens) if tokens is not None else None
    for mention in find_time_mentions(text, turn.timestamp, triggers=triggers):
        begin = mention.begin
        if mention.granularity == "day":
            out += [begin.strftime("%Y-%m-%d"), f"{begin.day} {begin:%B %Y}"]
        elif mention.granularity in ("month", "season"):
            out.append(begin.strftime("%B %Y"))
        elif mention.granularity == "year":
            out.append(str(begin.year))
        else:
            out.append(f"{begin:%B %Y}")
    return out


def annotate(
    turn: NewTurn, facts: Sequence[FactCandidate], previous: str | None, signals: TextSignals | None = None
) -> TurnNotes:
    """The notes of one turn, given the facts extracted from it, the text of the turn before and
    its text signals when in hand."""
    # An instruction's statement repeats its own sentence: as a key it would only count its words twice.
    parts: list[str] = [fact.statement for fact in facts if fact.kind != "instruction"]
    parts += date_keys(turn.content, turn, signals.tokens if signals is not None else None)
    if previous:
        parts += keyphrases(previous, top=CONTEXT_PHRASES)
    score = signals.salience if signals is not None else salience(turn.content)
    if facts:
        score = max(score, 0.8)
    return TurnNotes(keys=" ; ".join(dict.fromkeys(parts)), importance=round(score, 3))
