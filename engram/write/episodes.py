"""Build episodes from a segmented session: extractive summary, keyphrases, entities, centroid.

Pure. The summary takes the episode's most central and most informative turns (cosine to the
episode centroid × salience), first sentence of each, in the order they were said: an
extractive summary needs no LLM, costs microseconds, and never says what was not said.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engram.model import Scope, Turn
from engram.model.episode import Episode
from engram.text.keyphrases import (
    PhraseRuns,
    entities,
    joined_keyphrases,
    phrase_runs,
    phrase_tokens,
    salience,
)

SUMMARY_TURNS = 3
SUMMARY_WORDS = 28
#: Longest text whose key-phrase tokens a turn's signals hold for its episode (characters): a chat
#: message's are kept, a pasted document's are computed again rather than held through a batch.
KEEP_TOKENS_CHARS = 4096
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class TextSignals:
    """What an episode reads of each of its turns' text: salience, proper names, the tokens its
    key phrases are found in and their candidate phrases.

    The write path computes them once a new turn (its notes need the salience too) and hands
    them to :func:`build_episode`, which computes them for the turns it is not given. ``tokens``
    (:func:`~engram.text.keyphrases.phrase_tokens`) and ``runs``
    (:func:`~engram.text.keyphrases.phrase_runs`) are held only for a text of at most
    :data:`KEEP_TOKENS_CHARS` characters, else None.
    """

    salience: float
    entities: tuple[str, ...]
    tokens: tuple[str, ...] | None
    runs: PhraseRuns | None


def text_signals(text: str) -> TextSignals:
    """The signals of one turn's text."""
    score = salience(text)  # tokenizes the text: its tokens are then at hand
    if len(text) > KEEP_TOKENS_CHARS:
        return TextSignals(score, tuple(entities(text)), None, None)
    # the runs are cached too: the next turn's notes rank them (the key phrases of the turn it answers)
    return TextSignals(score, tuple(entities(text)), phrase_tokens(text), phrase_runs(text))


def episode_id(scope: Scope, first_turn_id: str) -> str:
    """A stable id: the same first turn in the same session gives the same episode id."""
    raw = f"{scope.tenant}\x00{scope.user_id}\x00{scope.session_id}\x00{first_turn_id}"
    return "e_" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:20]


def _first_sentence(text: str) -> str:
    sentence = _SENTENCE.split(" ".join(text.split()), maxsplit=1)[0]
    words = sentence.split()
    return " ".join(words[:SUMMARY_WORDS]) + (" …" if len(words) > SUMMARY_WORDS else "")


def build_episode(
    turns: Sequence[Turn], vectors: np.ndarray, signals: Mapping[str, TextSignals] | None = None
) -> tuple[Episode, np.ndarray]:
    """One episode over ``turns`` (one session, time order) and its unit centroid vector.

    ``signals`` (by turn id) are the turns' text signals already in hand; the rest are computed.
    """
    centroid = vectors.mean(axis=0)
    centroid = centroid / max(float(np.linalg.norm(centroid)), 1e-9)
    known = signals or {}
    each = [known.get(t.id) or text_signals(t.content) for t in turns]
    weights = [signal.salience for signal in each]
    scores = (vectors @ centroid) * np.array([0.3 + w for w in weights])
    chosen = sorted(np.argsort(-scores)[: min(SUMMARY_TURNS, len(turns))])
    summary = " … ".join(f"{turns[i].speaker}: {_first_sentence(turns[i].content)}" for i in chosen)
    names: dict[str, None] = {}
    for signal in each:
        for name in signal.entities:
            names.setdefault(name, None)
    first = turns[0]
    scope = Scope.trusted(first.scope.tenant, first.scope.user_id, first.scope.agent_id, first.scope.session_id)
    episode = Episode(
        id=episode_id(scope, first.id),
        scope=scope,
        turn_ids=tuple(t.id for t in turns),
        start=first.timestamp,
        end=turns[-1].timestamp,
        summary=summary,
        keyphrases=tuple(
            joined_keyphrases(
                [t.content for t in turns], tokens=[s.tokens for s in each], runs=[s.runs for s in each]
            )
        ),
        entities=tuple(list(names)[:12]),
        importance=round(max(weights), 3),
    )
    return episode, centroid.astype(np.float32)
