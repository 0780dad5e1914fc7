"""Reliability, 1: writers killed with SIGKILL at random moments, and what they leave behind."""

from __future__ import annotations

import json
import random
import signal
import textwrap
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.reliability_base import EVERYTHING, FUTURE, child, short, wait_for
from engram import HashingEmbedder, Memory
from engram.read.query import query_terms
from engram.store.base import UserScope
from engram.write.extract import extract_facts

#: A writer: adds fact-bearing turns until killed; logs each acknowledged add, then fsyncs.
WRITER = textwrap.dedent(
    """
    import json, os, random, sys
    from engram import HashingEmbedder, Memory
    path, ack_path, seed, users = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    # Invented names, so that each fact's value is (almost surely) said by one turn only.
    syllables = "ka lo mir ven dra zu bel tor ni sha quo rem vix pal dun gor el ith ux ost".split()
    def name():
        return "".join(rng.choice(syllables) for _ in range(4)).capitalize()
    templates = [
        lambda t: f"I live in {name()}. Note {t}.",
        lambda t: f"I moved to {name()} last month, note {t}.",
        lambda t: f"My dog is called {name()}. Note {t}.",
        lambda t: f"I work as a {rng.choice(['baker', 'nurse', 'pilot'])} at {name()}. Note {t}.",
        lambda t: f"We talked about the weather again, note {t}.",
    ]
    mem = Memory(path, embedder=HashingEmbedder())
    print("ready", flush=True)
    log = open(ack_path, "a")
    n = 0
    while True:
        user, session = f"u{rng.randrange(users)}", f"s{rng.randrange(3)}"
        messages = []
        for m in range(rng.choice([1, 2, 3])):
            token = f"k{seed}x{n}x{m}"
            if m % 2 == 0:
                messages.append({"role": "user", "content": rng.choice(templates)(token)})
            else:
                messages.append({"role": "assistant", "content": f"Noted, {token}."})
        result = mem.add(messages, user_id=user, session_id=session)
        record = {"user": user, "session": session, "ids": [t.id for t in result.turns],
                  "contents": [t.content for t in result.turns], "added": result.added}
        log.write(json.dumps(record) + "\\n")
        log.flush()
        os.fsync(log.fileno())
        n += 1
    """
)

#: An opener: for each round, waits at the round's file barrier, opens that round's new store,
#: adds one turn, and says how it went (one JSON line per round).

# -- 1. SIGKILL of writers --------------------------------------------------------------------


def crash_writers(workdir: Path, *, kills: int, seconds: float, users: int = 4, seed: int = 7) -> dict[str, Any]:
    """Kill writers at random moments, then check every acknowledged write and derived item.

    Stops after ``kills`` kills or ``seconds``, whichever comes first.
    """
    rng = random.Random(seed)
    db, acks = workdir / "crash.db", workdir / "crash-acks.jsonl"
    started = time.monotonic()
    done, writer_errors = 0, []
    while done < kills and time.monotonic() - started < seconds:
        proc = child(WRITER, db, acks, seed * 100_000 + done, users)
        if rng.random() < 0.85:  # mostly mid-write; sometimes while importing or opening the store
            if wait_for(proc, "ready"):
                time.sleep(rng.uniform(0.0, 0.5))
        else:
            time.sleep(rng.uniform(0.0, 0.6))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        if proc.returncode != -signal.SIGKILL:
            writer_errors.append(f"exit {proc.returncode}: {short(err.strip().splitlines()[-1] if err.strip() else '')}")
        done += 1
    records = _acknowledged(acks)
    report: dict[str, Any] = {
        "kills": done,
        "seconds": round(time.monotonic() - started, 1),
        "writer_errors": writer_errors,
        "acknowledged_adds": len(records),
    }
    with Memory(db, embedder=HashingEmbedder()) as mem:
        report.update(_check_acknowledged(mem, records))
        user_ids = sorted({u.user_id for u in mem.users(limit=1000)})
        report["derived_lost_at_reopen"] = _derived_lost(mem, user_ids)
        for user_id in user_ids:  # one more add per user: it must catch up what a crash left
            mem.add(f"I live in Oslo, after the crashes ({user_id}).", user_id=user_id, session_id="after")
        report["derived_lost_after_next_add"] = _derived_lost(mem, user_ids)
        caught_up = sum(mem.consolidate(user_id=user_id, decay=False).turns_caught_up for user_id in user_ids)
        report["consolidate_caught_up"] = caught_up
        report["derived_lost_after_consolidate"] = _derived_lost(mem, user_ids)
        report["turns_stored"] = mem.stats().turns
    return report


#: A writer that dies (SIGKILL) right after its turns are committed, before anything is derived.
DIES_AFTER_COMMIT = textwrap.dedent(
    """
    import os, signal, sys
    from engram import HashingEmbedder, Memory, SQLiteStore
    mem = Memory(sys.argv[1], embedder=HashingEmbedder())
    mem.add("I live in Paris.", user_id="u", session_id="before", timestamp="2024-01-01T10:00:00Z")
    commit = SQLiteStore.insert_turns
    def insert_then_die(self, *args, **kwargs):
        commit(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
    SQLiteStore.insert_turns = insert_then_die
    mem.add([{"role": "user", "content": "I moved to Berlin."}, {"role": "user", "content": "My dog is called Rex."}],
            user_id="u", session_id="crash", timestamp="2024-02-01T10:00:00Z")
    """
)


def crash_after_commit(workdir: Path) -> dict[str, Any]:
    """A writer dies between committing turns and deriving from them; the same user adds again."""
    db = workdir / "after-commit.db"
    proc = child(DIES_AFTER_COMMIT, db)
    proc.communicate(timeout=120)
    with Memory(db, embedder=HashingEmbedder()) as mem:
        committed = mem.stats(user_id="u").turns
        at_reopen = _derived_lost(mem, ["u"])
        mem.add("I work as a baker.", user_id="u", session_id="later", timestamp="2024-03-01T10:00:00Z")
        after_add = _derived_lost(mem, ["u"])
        caught_up = mem.consolidate(user_id="u", decay=False).turns_caught_up
        after_consolidate = _derived_lost(mem, ["u"])
    return {
        "killed": proc.returncode == -signal.SIGKILL,
        "turns_committed": committed,
        "derived_lost_at_reopen": at_reopen,
        "derived_lost_after_next_add": after_add,
        "consolidate_caught_up": caught_up,
        "derived_lost_after_consolidate": after_consolidate,
    }


def _acknowledged(path: Path) -> list[dict[str, Any]]:
    """The complete lines of an ack log (a kill can cut the last one: that add was not acknowledged)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _check_acknowledged(mem: Memory, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every acknowledged turn: stored, found by full text and by vector with its content, with a vector."""
    store, embedder = mem.store, mem.embedder
    problems: list[str] = []
    missing = no_text = no_vector_hit = no_vector = 0
    vectors: dict[str, set[str]] = {}
    turns = 0
    for record in records:
        scope = UserScope(mem.tenant, record["user"])
        if record["user"] not in vectors:
            vectors[record["user"]] = {t.id for t, v in store.iter_turns(mem.tenant, record["user"]) if v is not None}
        for turn_id, content in zip(record["ids"], record["contents"], strict=True):
            turns += 1
            found = store.get_turns(scope, [turn_id])
            if not found or found[0].content != content:
                missing += 1
                problems.append(f"acknowledged turn {turn_id} of {record['user']} is not stored")
                continue
            turn = found[0]
            texts = store.text_search(scope, query_terms(content), filters=EVERYTHING, until=FUTURE, limit=20)
            if turn_id not in {c.turn.id for c in texts}:
                no_text += 1
                problems.append(f"{turn_id} is not found by full-text search for its own content")
            vector = embedder.embed([turn.embedding_text()])[0]
            near = store.vector_search(scope, vector, filters=EVERYTHING, until=FUTURE, limit=5)
            if turn_id not in {c.turn.id for c in near}:
                no_vector_hit += 1
                problems.append(f"{turn_id} is not found by vector search for its own content")
            if turn_id not in vectors[record["user"]]:
                no_vector += 1
                problems.append(f"{turn_id} has no vector")
    return {
        "acknowledged_turns": turns,
        "acknowledged_lost": missing,
        "not_in_fulltext": no_text,
        "not_in_vector_search": no_vector_hit,
        "without_vector": no_vector,
        "ack_problems": problems[:20],
    }


def _derived_lost(mem: Memory, user_ids: Iterable[str]) -> dict[str, Any]:
    """Turns without an episode, and fact-bearing turns whose facts (attribute and value) are nowhere."""
    store = mem.store
    no_episode, no_fact, examples = 0, 0, []
    for user_id in user_ids:
        scope = UserScope(mem.tenant, user_id)
        in_episode = {
            t for e in store.list_episodes(scope, include_archived=True, limit=10**7) for t in e.turn_ids
        }
        # By value, not by provenance: a fact said again may be kept under the later turn only.
        known = {
            (fact.attribute, fact.value.casefold())
            for fact in store.list_facts(scope, include_history=True, include_archived=True)
        }
        for turn, _ in store.iter_turns(mem.tenant, user_id):
            if turn.id not in in_episode:
                no_episode += 1
                examples.append(f"{user_id}/{turn.session_id}/{turn.id}: no episode")
            expected = {
                (f.attribute, f.value.casefold())
                for f in extract_facts(turn.content, speaker=turn.name, role=turn.role, timestamp=turn.timestamp)
            }
            if expected - known:
                no_fact += 1
                examples.append(f"{user_id}/{turn.id}: no fact {sorted(expected - known)} from {turn.content!r}")
    return {"turns_without_episode": no_episode, "turns_missing_facts": no_fact, "examples": examples[:10]}


# -- 2. concurrent opens and writers -------------------------------------------------------------


