"""Fact precision for ``benchmarks/facts.py``: the pools of extracted facts, the seeded sample and
the hand labels (rule: FACT_LABELLING.md).

Three sources give facts, one item per (turn, attribute, value):

* ``locomo``: every fact version stored from LoCoMo-10 through ``Memory.add`` (built by
  ``facts.py``, which also measures LoCoMo's recall); turn key ``conv-26/D5:6``.
* ``longmemeval``: the rule extractor (``engram.write.extract.extract_facts``, the function the
  write path calls per turn) on every *user* turn of LongMemEval_S's haystack sessions, each
  session once (deduplicated by session id across questions); turn key ``lme/<session id>/<index>``
  with the turn's 0-based index in its session.
* ``beam``: the same on the user messages of BEAM's chats (the generator marker ``->-> b,n``
  stripped, time from the latest ``time_anchor``); turn key ``beam/<chat>/<message id>``.

Assistant turns are not in the pool: the write path extracts nothing from an unnamed assistant.
Each source is sampled on its own (the items with the smallest seeded hash of their key), so a
label stays valid as facts come and go, and precision is reported per source and pooled, with a
Wilson 95% interval.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engram.formats.beam import parse_anchor
from engram.formats.dataset import read_json
from engram.formats.longmemeval import parse_date
from engram.model.timeutil import UTC
from engram.write.extract import extract_facts

SOURCES = ("locomo", "longmemeval", "beam")
#: Sample size per source: all of LoCoMo's ~90 facts, and enough of the others for >= 250 labels.
DEFAULT_SAMPLE = {"locomo": 250, "longmemeval": 170, "beam": 60}
VERDICTS = ("correct", "wrong", "unsure")
#: Where each source lives inside the data folder (``../shared/data``).
DATA_FILES = {"locomo": "locomo10.json", "longmemeval": "longmemeval_s_dev.json.gz", "beam": "beam/500K"}

#: BEAM's generator marker, "->-> 3,12" or "->-> 8,N/A", at the end of a message (a few mid-message).
_BEAM_MARKER = re.compile(r"\s*->->\s*\d+\s*,\s*(?:\d+|N/A)\b")
_BEAM_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # a chat with no time_anchor before its first message
_TEXT_LIMIT = 2000  # characters of a turn kept in a labels-file line (LongMemEval pastes documents)


@dataclass(frozen=True)
class Item:
    """One extracted fact as it came from one turn."""

    conversation: str
    dia_id: str
    speaker: str
    text: str
    subject: str
    attribute: str
    value: str
    statement: str
    source: str = "locomo"
    evidence: str = ""

    @property
    def turn(self) -> str:
        return f"{self.conversation}/{self.dia_id}"

    @property
    def key(self) -> str:
        return label_key(self.turn, self.attribute, self.value)


@dataclass(frozen=True)
class Pool:
    """Every fact one source yields, with the turns read and the seconds the extractor took."""

    source: str
    items: list[Item]
    turns: int
    seconds: float


def label_key(turn: str, attribute: str, value: str) -> str:
    """The identity of a label: the turn and the fact's attribute and value, case-folded."""
    return f"{turn}|{attribute.casefold().strip()}|{value.casefold().strip()}"


def _user_items(source: str, turns: Iterator[tuple[str, str, str, datetime]]) -> Pool:
    """Extract from ``(conversation, turn id, text, time)`` user turns as the write path does."""
    items: list[Item] = []
    count, seconds = 0, 0.0
    for conversation, dia_id, text, when in turns:
        count += 1
        began = time.perf_counter()
        facts = extract_facts(text, speaker=None, role="user", timestamp=when)
        seconds += time.perf_counter() - began
        items += [
            Item(
                conversation,
                dia_id,
                "user",
                text,
                f.subject,
                f.attribute,
                f.value,
                f.statement,
                source,
                f.evidence,
            )
            for f in facts
        ]
    return Pool(source, items, count, seconds)


def longmemeval_turns(path: Path) -> Iterator[tuple[str, str, str, datetime]]:
    """User turns of every haystack session of a LongMemEval file, each session once."""
    raw, _ = read_json(path)
    seen: set[str] = set()
    for item in raw:
        for session_id, date, body in zip(
            item["haystack_session_ids"], item["haystack_dates"], item["haystack_sessions"], strict=True
        ):
            if session_id in seen:
                continue
            seen.add(session_id)
            began = parse_date(date)
            for index, turn in enumerate(body):
                text = turn.get("content") or ""
                if turn.get("role") == "user" and text.strip():
                    yield f"lme/{session_id}", str(index), text, began + timedelta(seconds=index)


def beam_turns(root: Path) -> Iterator[tuple[str, str, str, datetime]]:
    """User messages of every BEAM chat under ``root`` (``beam/500K``), in chat order."""
    chats = sorted((p for p in root.glob("*/chat.json")), key=lambda p: (len(p.parent.name), p.parent.name))
    for chat in chats:
        when = _BEAM_EPOCH
        for batch in json.loads(chat.read_text(encoding="utf-8")):
            when = parse_anchor(batch.get("time_anchor")) or when
            for group in batch["turns"]:
                for message in group:
                    when = parse_anchor(message.get("time_anchor")) or when
                    text = _BEAM_MARKER.sub("", message.get("content") or "").strip()
                    if message.get("role") == "user" and text.strip():
                        yield f"beam/{chat.parent.name}", str(message["id"]), text, when


def user_pool(source: str, path: Path) -> Pool:
    """The facts of a user-assistant source (``longmemeval`` or ``beam``) read from ``path``."""
    turns = longmemeval_turns(path) if source == "longmemeval" else beam_turns(path)
    return _user_items(source, turns)


def read_labels(path: Path) -> dict[str, dict[str, Any]]:
    """The labels file, by key; a line with an empty or unknown label is ignored."""
    labels: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return labels
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        if record.get("label") not in VERDICTS:
            continue
        if record["label"] == "wrong" and not record.get("reason"):
            raise SystemExit(f"{path}:{number}: a 'wrong' label needs a reason")
        labels[label_key(record["turn"], record["attribute"], record["value"])] = record
    return labels


def sample(items: list[Item], size: int, seed: int) -> list[Item]:
    """The ``size`` items with the smallest seeded hash of their key: stable as items come and go."""
    unique = {item.key: item for item in items}
    ranked = sorted(unique.values(), key=lambda i: hashlib.sha256(f"{seed}|{i.key}".encode()).hexdigest())
    return ranked[:size]


def template(item: Item) -> dict[str, Any]:
    """A labels-file line for ``item``, label to fill in."""
    text = item.text if len(item.text) <= _TEXT_LIMIT else item.text[:_TEXT_LIMIT] + " […]"
    line = {
        "turn": item.turn,
        "attribute": item.attribute,
        "value": item.value,
        "subject": item.subject,
        "speaker": item.speaker,
        "statement": item.statement,
        "text": text,
    }
    if item.evidence:
        line["evidence"] = item.evidence
    return {**line, "label": "", "reason": ""}


def wilson(successes: int, trials: int, z: float = 1.96) -> list[float] | None:
    """The Wilson score interval of a proportion (95% for the default ``z``)."""
    if not trials:
        return None
    share = successes / trials
    centre = share + z * z / (2 * trials)
    spread = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
    scale = 1 + z * z / trials
    return [round((centre - spread) / scale, 4), round((centre + spread) / scale, 4)]


def _summary(counts: Counter[str]) -> dict[str, Any]:
    judged = counts["correct"] + counts["wrong"]
    return {
        "correct": counts["correct"],
        "wrong": counts["wrong"],
        "unsure": counts["unsure"],
        "unlabelled": counts["unlabelled"],
        "precision": round(counts["correct"] / judged, 4) if judged else None,
        "wilson95": wilson(counts["correct"], judged),
    }


def precision(
    pools: dict[str, Pool], sizes: dict[str, int], labels: dict[str, dict[str, Any]], seed: int
) -> tuple[dict[str, Any], list[Item]]:
    """Precision per source and pooled over each source's sample; also the sampled items.

    The pooled figure weighs every labelled fact alike (a sample mixture, not weighted by how
    many facts each source yields)."""
    by_source: dict[str, Any] = {}
    everything: Counter[str] = Counter()
    chosen_all: list[Item] = []
    wrong: list[dict[str, str]] = []
    for source, pool in pools.items():
        chosen = sample(pool.items, sizes[source], seed)
        chosen_all += chosen
        counts = Counter(labels[i.key]["label"] if i.key in labels else "unlabelled" for i in chosen)
        everything += counts
        mistakes = [(i, labels[i.key]) for i in chosen if labels.get(i.key, {}).get("label") == "wrong"]
        wrong += [{"turn": i.turn, "statement": i.statement, "reason": r["reason"]} for i, r in mistakes]
        by_source[source] = {
            "turns": pool.turns,
            "facts": len({i.key for i in pool.items}),
            "extract_us_per_turn": round(pool.seconds / pool.turns * 1e6, 1) if pool.turns else None,
            "sample": len(chosen),
            **_summary(counts),
            "wrong_kinds": dict(
                Counter(r["reason"].split(":")[0].strip() for _, r in mistakes).most_common()
            ),
        }
    pooled = {"sample": len(chosen_all), **_summary(everything)}
    return {"seed": seed, "by_source": by_source, "pooled": pooled, "wrong_facts": wrong}, chosen_all
