"""The write path, end to end: validated turns → embedded → stored with notes → facts and episodes.

1. Turns already stored (same id, same user) are returned as they are: adding the same
   messages twice stores nothing new.
2. The new turns' embedding texts, and a long turn's windows after the first (its chunks,
   :mod:`engram.providers.chunking`), are looked up by content hash in the user's own stored
   vectors (the cache never answers from another tenant or user: no existence oracle); only
   the rest go to the embedder, in one call. An import may hand in the turns' own vectors it
   carries (chunk vectors are never carried: they are derived from the text), and embeds
   several batches' texts ahead of their writes (:func:`embed_ahead`, the ``ready`` vectors).
3. Each turn gets rule-based facts and notes (:mod:`engram.write.annotate`: importance, and
   keys from its facts, dates and the turn before it) and is stored with its vector in one
   transaction.
4. The lifecycle step (:mod:`engram.write.absorb`) folds the stored turns into versioned facts
   and episodes. A turn the store re-derived an id for (its id belonged to another tenant) is
   derived under the id it is stored with.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import numpy as np

from engram.model import AddResult, NewTurn, Turn
from engram.providers.chunking import chunk_texts
from engram.providers.embedder import Embedder, text_key
from engram.providers.tokens import ApproximateCounter
from engram.store.base import Store, TurnChunks, UserScope
from engram.write.absorb import AbsorbReport, absorb
from engram.write.annotate import annotate
from engram.write.episodes import text_signals
from engram.write.extract import turn_facts

#: Texts per embedding call when an import embeds ahead (:func:`embed_ahead`). Taken in order
#: of approximate word pieces, each call's texts are of like length, so the calls pad about as
#: little as one call over them all would (0.1-0.2% more word pieces on LoCoMo's first 3 and
#: all 10 conversations; 0.8% when sorted by characters, 1.4-1.7% for batches of 1,000 in file
#: order), and progress can be shown between them.
AHEAD_CALL = 1024
_PIECES = ApproximateCounter()

#: Vectors embedded ahead of a write, by (user, embedding-text key).
Ready = Mapping[tuple[UserScope, bytes], np.ndarray]


def write_turns(
    store: Store,
    embedder: Embedder,
    turns: Sequence[NewTurn],
    *,
    clock: Callable[[], datetime],
    started: float,
    vectors: Mapping[str, np.ndarray] | None = None,
    derive_facts: bool = True,
    ready: Ready | None = None,
) -> AddResult:
    """Store ``turns`` (validated, of one tenant) and derive what follows from them.

    Args:
        store: where the turns go.
        embedder: embeds the texts the cache does not hold.
        turns: the validated turns, in the caller's order.
        clock: "now", for the record time and the derived memories.
        started: ``time.perf_counter()`` when the call began, for ``elapsed_ms``.
        vectors: vectors the caller already has, by turn id (an import's).
        derive_facts: whether the rules' facts go into the fact slots. An import that carries
            the facts themselves turns it off and saves those (a fact forgotten before the
            export stays forgotten); the turns' full-text keys are the same either way.
        ready: vectors a bulk import embedded ahead (:func:`embed_ahead`), consulted before
            the store's; a text in neither is embedded now.

    Returns:
        every turn of the call as stored, with counts and what the lifecycle step derived.
    """
    known = {t.id: t for t in _existing(store, turns)}
    fresh = _fresh(turns, known)
    keys = [text_key(t.embedding_text()) for t in fresh]
    matrix, parts, embedded = _embed(store, embedder, fresh, keys, vectors or {}, ready or {})
    facts = {t.id: turn_facts(t) for t in fresh}
    previous = _previous_texts(store, fresh)
    signals, notes = [], []
    for turn in fresh:  # a turn's signals serve its notes, then its episode
        signals.append(text_signals(turn.content))
        notes.append(annotate(turn, facts[turn.id], previous.get(turn.id), signals[-1]))
    now = clock()
    stored = store.insert_turns(fresh, matrix, keys, now, notes, chunks=parts) if fresh else []
    by_id: dict[str, Turn] = {**known, **{given.id: turn for given, (turn, _) in zip(fresh, stored, strict=True)}}
    new_turns = [turn for turn, was_new in stored if was_new]
    # Keyed by the id each turn is stored under: the store may re-derive a colliding id.
    derived = {
        turn.id: facts[given.id] if derive_facts else [] for given, (turn, _) in zip(fresh, stored, strict=True)
    }
    in_hand = {turn.id: matrix[row] for row, (turn, _) in enumerate(stored)}
    signals_of = {turn.id: signal for (turn, _), signal in zip(stored, signals, strict=True)}
    report = (
        absorb(store, new_turns, derived, now=now, vectors=in_hand, signals=signals_of) if new_turns else AbsorbReport()
    )
    return AddResult(
        turns=[by_id[t.id] for t in turns],
        added=len(new_turns),
        duplicates=len(turns) - len(new_turns),
        embedded=embedded,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        facts_added=report.facts_added,
        facts_superseded=report.facts_superseded,
        facts_reinforced=report.facts_reinforced,
        episodes=report.episodes,
    )


def embed_ahead(
    store: Store,
    embedder: Embedder,
    turns: Sequence[NewTurn],
    *,
    vectors: Mapping[str, np.ndarray] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Ready:
    """What writing ``turns`` will embed, embedded now: shortest texts first (in approximate
    word pieces), :data:`AHEAD_CALL` at a time; give the result to :func:`write_turns` as ``ready``.

    A bulk import writes about a thousand turns at a time, and each batch spans every length
    of text: embedded batch by batch, the model pads its longer texts more than in one length
    sort over several batches (1.4% more word pieces for 1,451 LoCoMo turns in batches of
    1,000 than in one call, 1.7% for all 5,882). So an import embeds several batches ahead.
    Turns already stored, vectors given (``vectors``, by turn id) and the user's stored vectors
    are left out, as :func:`write_turns` would leave them.

    Args:
        progress: called after each call with the texts embedded so far and their number.
    """
    given = vectors or {}
    chunked = {turn.id: chunk_texts(turn.embedding_text()) for turn in turns}
    needing = [turn for turn in turns if turn.id not in given or chunked[turn.id]]  # a restore needs none
    fresh = _fresh(needing, {t.id: t for t in _existing(store, needing)}) if needing else []
    keys = [text_key(t.embedding_text()) for t in fresh]
    windows = [chunked[turn.id] for turn in fresh]
    window_keys = [[text_key(text) for text in texts] for texts in windows]
    at_hand = _at_hand(store, fresh, keys, window_keys, given, {})
    texts = _to_embed(fresh, keys, windows, window_keys, given, at_hand)
    order = sorted(texts, key=lambda key: _PIECES.count(texts[key]))
    ready: dict[tuple[UserScope, bytes], np.ndarray] = {}
    for start in range(0, len(order), AHEAD_CALL):
        part = order[start : start + AHEAD_CALL]
        ready.update(zip(part, embedder.embed([texts[key] for key in part]), strict=True))
        if progress:
            progress(len(ready), len(order))
    return ready


def _embed(
    store: Store,
    embedder: Embedder,
    turns: Sequence[NewTurn],
    keys: Sequence[bytes],
    given: Mapping[str, np.ndarray],
    ready: Ready,
) -> tuple[np.ndarray, list[TurnChunks | None], int]:
    """The turns' vectors (given, else embedded ahead or the user's cached ones, else embedded
    now), each long turn's chunk vectors (the same way), and how many texts were embedded now."""
    windows = [chunk_texts(turn.embedding_text()) for turn in turns]
    window_keys = [[text_key(text) for text in texts] for texts in windows]
    at_hand = _at_hand(store, turns, keys, window_keys, given, ready)
    texts = _to_embed(turns, keys, windows, window_keys, given, at_hand)
    if texts:
        at_hand.update(zip(texts, embedder.embed(list(texts.values())), strict=True))
    matrix = np.empty((len(turns), embedder.dim), dtype=np.float32)
    parts: list[TurnChunks | None] = []
    for row, (turn, key, more) in enumerate(zip(turns, keys, window_keys, strict=True)):
        user = _user(turn)
        vector = given.get(turn.id)
        matrix[row] = at_hand[(user, key)] if vector is None else vector
        parts.append(TurnChunks(more, np.stack([at_hand[(user, k)] for k in more])) if more else None)
    return matrix, parts, len(texts)


def _at_hand(
    store: Store,
    turns: Sequence[NewTurn],
    keys: Sequence[bytes],
    window_keys: Sequence[Sequence[bytes]],
    given: Mapping[str, np.ndarray],
    ready: Ready,
) -> dict[tuple[UserScope, bytes], np.ndarray]:
    """The vectors of the turns' texts (a turn's own unless ``given``, and its chunks') that are
    already at hand: embedded ahead (``ready``), else stored by the same user."""
    found: dict[tuple[UserScope, bytes], np.ndarray] = {}
    wanted: dict[UserScope, list[bytes]] = {}
    for turn, key, more in zip(turns, keys, window_keys, strict=True):
        user = _user(turn)
        for k in [*([] if turn.id in given else [key]), *more]:
            vector = ready.get((user, k))
            if vector is None:
                wanted.setdefault(user, []).append(k)
            else:
                found[(user, k)] = vector
    for user, user_keys in wanted.items():
        found.update(((user, key), vector) for key, vector in store.cached_vectors(user, user_keys).items())
    return found


def _to_embed(
    turns: Sequence[NewTurn],
    keys: Sequence[bytes],
    windows: Sequence[Sequence[str]],
    window_keys: Sequence[Sequence[bytes]],
    given: Mapping[str, np.ndarray],
    at_hand: Mapping[tuple[UserScope, bytes], np.ndarray],
) -> dict[tuple[UserScope, bytes], str]:
    """The texts the turns still need embedded, once each, by (user, key)."""
    texts: dict[tuple[UserScope, bytes], str] = {}
    for turn, key, more, more_texts in zip(turns, keys, window_keys, windows, strict=True):
        user = _user(turn)
        if turn.id not in given and (user, key) not in at_hand:
            texts[(user, key)] = turn.embedding_text()
        texts.update({(user, k): text for k, text in zip(more, more_texts, strict=True) if (user, k) not in at_hand})
    return texts


def _previous_texts(store: Store, turns: Sequence[NewTurn]) -> dict[str, str]:
    """For each turn, the text of the turn said just before it in its session (for round keys).

    One store read per session of the call (its latest turn before the call's first), whatever
    the session's length."""
    out: dict[str, str] = {}
    last: dict[tuple[str, str, str, str], str] = {}
    for turn in sorted(turns, key=lambda t: t.timestamp):
        scope = turn.scope
        key = (scope.tenant, scope.user_id, scope.agent_id or "", scope.session_id or "")
        if key not in last:
            user = UserScope(scope.tenant, scope.user_id, scope.agent_id)
            before = store.recent_turns(user, scope.session_id or "", until=turn.timestamp, limit=1)
            if before:
                last[key] = before[0].content
        if key in last:
            out[turn.id] = last[key]
        last[key] = turn.content
    return out


def _fresh(turns: Sequence[NewTurn], known: Mapping[str, Turn]) -> list[NewTurn]:
    """The turns not stored yet, once each (an id given twice in one call is stored once)."""
    return list({t.id: t for t in turns if t.id not in known}.values())


def _existing(store: Store, turns: Sequence[NewTurn]) -> list[Turn]:
    """The turns of ``turns`` already stored under their own ids, for their own users."""
    found: list[Turn] = []
    by_user: dict[UserScope, list[str]] = {}
    for turn in turns:
        by_user.setdefault(_user(turn), []).append(turn.id)
    for user, ids in by_user.items():
        found.extend(store.get_turns(user, ids))
    return found


def _user(turn: NewTurn) -> UserScope:
    return UserScope(turn.scope.tenant, turn.scope.user_id)
