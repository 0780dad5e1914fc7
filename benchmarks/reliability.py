"""Reliability: what a crash, a crowd, a forget or a hostile tenant leaves behind, in figures.

    .venv/bin/python benchmarks/reliability.py                       # the full run, about 5 minutes
    .venv/bin/python benchmarks/reliability.py --seconds 120 --kills 100 --out report.json

1. **Crashes**: writer processes add fact-bearing turns ("I live in Paris", "My dog is called
   Rex", ...) for several users and sessions, logging each acknowledged add (the returned ids)
   with flush and fsync, and are killed with SIGKILL at random moments, over and over, into
   the same file. Afterwards every acknowledged turn must be there (``get``), found by
   full-text and by vector search with its own content, and hold its vector; and once each
   user has added one more turn (which must catch up what a crash left underived), and again
   after ``consolidate``, every turn must belong to an episode and every fact-bearing turn be
   a source of its facts.
2. **Crowds**: processes open a new file at the same instant (a file barrier); processes add
   to one file at once, for their own users and for a shared one, re-adding earlier batches
   as an idempotent retry would: errors, lost writes and duplicate turns.
3. **Forget with a reader**: another process holds a read transaction while a secret-bearing
   session is forgotten; the receipt (``scrub_pending``, when the store reports it) is read,
   the reader released, one more write made, and every file of the store byte-scanned for
   the secret, its distinctive words and its full-text index terms.
4. **Tenants** (see ``tests/reliability_probes.py``): every method of the store protocol, every
   REST route and every MCP tool called as tenant A with tenant B's ids, keys and slots.

Everything happens in a temporary directory that is removed afterwards. The figures go to
``--out`` as JSON and a summary table is printed. The same functions, at a small size, are the
CI suite ``tests/test_reliability.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engram import HashingEmbedder, Memory  # noqa: E402
from engram.model import SearchFilters  # noqa: E402
from engram.read.query import query_terms  # noqa: E402
from engram.store.base import UserScope  # noqa: E402
from engram.write.extract import extract_facts  # noqa: E402

#: Far enough ahead that every stored turn is "already said".
FUTURE = datetime(2200, 1, 1, tzinfo=UTC)
EVERYTHING = SearchFilters(include_archived=True)

# -- child processes ------------------------------------------------------------------------

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
OPENER = textwrap.dedent(
    """
    import json, os, sys, time
    workdir, rounds, me = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    from engram import HashingEmbedder, Memory
    for round_no in range(rounds):
        print(json.dumps({"ready": round_no}), flush=True)
        go = os.path.join(workdir, f"go-open-{round_no}")
        while not os.path.exists(go):
            time.sleep(0.0005)
        stage = "open"
        try:
            mem = Memory(os.path.join(workdir, f"open-{round_no}", "new.db"), embedder=HashingEmbedder())
            stage = "add"
            mem.add(f"I live in Paris, says opener {me}.", user_id=f"o{me}", session_id="s")
            mem.close()
            print(json.dumps({"round": round_no, "ok": True}), flush=True)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            print(json.dumps({"round": round_no, "ok": False, "stage": stage, "error": error}), flush=True)
    """
)

#: A concurrent writer: own user, a shared user (the same batches as every other writer) and
#: idempotent retries of its own earlier batches, for a while; one JSON line per add.
CROWD = textwrap.dedent(
    """
    import json, os, sys, time
    path, me, seconds, go = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    from engram import HashingEmbedder, Memory
    print(json.dumps({"ready": True}), flush=True)
    while not os.path.exists(go):
        time.sleep(0.0005)
    mem = Memory(path, embedder=HashingEmbedder())
    end = time.monotonic() + seconds
    i = 0
    def batch(user, session, n, text):
        return dict(user_id=user, session_id=session, timestamp=1_700_000_000 + n,
                    messages=[{"role": "user", "content": f"My dog is called Rex. {text} {n}"},
                              {"role": "assistant", "content": f"Noted about Rex, {text} {n}"}])
    while time.monotonic() < end:
        calls = [("own", batch(f"w{me}", f"s{i % 3}", i, f"writer {me} batch"))]
        calls.append(("shared", batch("shared", "s", i % 25, "shared batch")))
        if i >= 2:
            calls.append(("retry", batch(f"w{me}", f"s{(i - 2) % 3}", i - 2, f"writer {me} batch")))
        for kind, call in calls:
            messages = call.pop("messages")
            try:
                result = mem.add(messages, **call)
                print(json.dumps({"kind": kind, "user": call["user_id"], "ids": [t.id for t in result.turns],
                                  "added": result.added}), flush=True)
            except Exception as exc:
                print(json.dumps({"kind": kind, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        i += 1
    mem.close()
    """
)

#: A reader: holds a read transaction until told to let go (a line on stdin) or for at most a while.
READER = textwrap.dedent(
    """
    import select, sqlite3, sys
    path, hold = sys.argv[1], float(sys.argv[2])
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute("SELECT count(*), max(length(content)) FROM turns").fetchone()
    print("holding", flush=True)
    select.select([sys.stdin], [], [], hold)
    conn.execute("ROLLBACK")
    conn.close()
    print("released", flush=True)
    """
)


def _child(script: str, *args: object, stdin: bool = False) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(proc: subprocess.Popen[str], word: str, timeout: float = 60.0) -> bool:
    """Read the child's stdout until a line holding ``word``; False if it ended first."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            return False
        if word in line:
            return True
    return False


def _short(message: str, limit: int = 200) -> str:
    return " ".join(message.split())[:limit]


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
        proc = _child(WRITER, db, acks, seed * 100_000 + done, users)
        if rng.random() < 0.85:  # mostly mid-write; sometimes while importing or opening the store
            if _wait_for(proc, "ready"):
                time.sleep(rng.uniform(0.0, 0.5))
        else:
            time.sleep(rng.uniform(0.0, 0.6))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        if proc.returncode != -signal.SIGKILL:
            writer_errors.append(f"exit {proc.returncode}: {_short(err.strip().splitlines()[-1] if err.strip() else '')}")
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
    proc = _child(DIES_AFTER_COMMIT, db)
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


def concurrent_opens(workdir: Path, *, processes: int = 8, rounds: int = 5) -> dict[str, Any]:
    """``processes`` processes open one new store at the same instant, ``rounds`` times."""
    procs = [_child(OPENER, workdir, rounds, me) for me in range(processes)]
    failures: list[dict[str, Any]] = []
    answered = 0
    for round_no in range(rounds):
        for proc in procs:
            _wait_for(proc, '"ready"')
        (workdir / f"go-open-{round_no}").touch()
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            result = json.loads(line) if line.startswith("{") else {"ok": False, "stage": "process", "error": "died"}
            answered += 1
            if not result["ok"]:
                failures.append({"round": round_no, "stage": result["stage"], "error": _short(result["error"])})
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            failures.append({"round": None, "stage": "process", "error": _short(err)})
    return {
        "open_attempts": processes * rounds,
        "failed_opens": sum(f["stage"] in ("open", "process") for f in failures),
        "failed_first_writes": sum(f["stage"] == "add" for f in failures),
        "failures": failures[:20],
    }


def concurrent_writers(workdir: Path, *, processes: int = 4, seconds: float = 3.0) -> dict[str, Any]:
    """``processes`` writers on one file for ``seconds``: errors, lost writes, duplicate turns."""
    db, go = workdir / "crowd.db", workdir / "go-crowd"
    Memory(db, embedder=HashingEmbedder()).close()  # the concurrent first open is measured apart
    procs = [_child(CROWD, db, me, seconds, go) for me in range(processes)]
    for proc in procs:
        _wait_for(proc, "ready")
    go.touch()
    records: list[dict[str, Any]] = []
    crashed: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=seconds + 120)
        records += [json.loads(line) for line in out.splitlines() if line.startswith('{"kind"')]
        if proc.returncode != 0:
            crashed.append(f"exit {proc.returncode}: {_short(err.strip().splitlines()[-1] if err.strip() else '')}")
    errors = [r["error"] for r in records if "error" in r]
    acked = [r for r in records if "ids" in r]
    with Memory(db, embedder=HashingEmbedder()) as mem:
        lost = sum(
            1
            for r in acked
            for turn_id in r["ids"]
            if not mem.store.get_turns(UserScope(mem.tenant, r["user"]), [turn_id])
        )
        duplicates = 0
        for user in sorted({r["user"] for r in acked}):
            seen: dict[tuple[Any, ...], int] = {}
            for turn, _ in mem.store.iter_turns(mem.tenant, user):
                key = (turn.session_id, turn.role, turn.content, turn.timestamp)
                seen[key] = seen.get(key, 0) + 1
            duplicates += sum(n - 1 for n in seen.values())
    return {
        "writers": processes,
        "seconds": seconds,
        "adds": len(records),
        "errors": len(errors),
        "error_messages": sorted({_short(e) for e in errors})[:10],
        "writer_crashes": crashed,
        "acknowledged_turns": sum(len(r["ids"]) for r in acked),
        "lost_writes": lost,
        "duplicate_turns": duplicates,
        "retries_that_added": sum(r["added"] for r in acked if r["kind"] == "retry"),
    }


# -- 3. forget while a reader holds a transaction ------------------------------------------------

SECRET_TURNS = (
    "My bank PIN is 7391 and the vault word is quetzalcoatlus.",
    "I live in Xanaduvia and my cat is called Zebulonix.",
)
#: What must not be left anywhere in the files: the text and its distinctive words (as indexed, lower case).
SECRET_NEEDLES = (*SECRET_TURNS, "quetzalcoatlus", "Xanaduvia", "xanaduvia", "Zebulonix", "zebulonix", "7391")
#: A kept session's word: the scan must find it (the scanner can see what it looks for).
CONTROL = "ombudsmanship"


def forget_with_reader(workdir: Path, *, hold_seconds: float = 45.0) -> dict[str, Any]:
    """Forget a secret session while another process holds a read transaction; then scan every file."""
    db = workdir / "forget.db"
    mem = Memory(db, embedder=HashingEmbedder())
    try:
        mem.add([{"role": "user", "content": text} for text in SECRET_TURNS], user_id="victim", session_id="secret")
        mem.add([{"role": "assistant", "content": "Understood, I will keep that safe."}], user_id="victim",
                session_id="secret")
        mem.add(f"My hobby is {CONTROL} and chess.", user_id="victim", session_id="kept")
        mem.add("I work as a nurse.", user_id="bystander", session_id="s")
        reader = _child(READER, db, hold_seconds, stdin=True)
        held = _wait_for(reader, "holding")
        started = time.perf_counter()
        receipt = mem.forget(user_id="victim", session_id="secret")
        forget_seconds = time.perf_counter() - started
        at_receipt = scan_files(db, SECRET_NEEDLES)["bytes"]
        still_held = reader.poll() is None
        assert reader.stdin is not None
        reader.stdin.write("go\n")
        reader.stdin.flush()
        released = _wait_for(reader, "released")
        reader.communicate(timeout=30)
        mem.add("One more turn after the forget.", user_id="bystander", session_id="s")  # a normal operation
        mem.search("vault word", user_id="victim", k=5)
        open_scan = scan_files(db, SECRET_NEEDLES)
        control_seen = bool(scan_files(db, (CONTROL,))["hits"])
        terms = fulltext_terms(db, [w.lower() for w in query_terms(" ".join(SECRET_TURNS))])
        found = [h.turn.content for h in mem.search("bank PIN vault word Xanaduvia", user_id="victim", k=10).hits]
    finally:
        mem.close()
    closed_scan = scan_files(db, SECRET_NEEDLES)
    pending = getattr(receipt, "scrub_pending", None)
    return {
        "reader_held": held and still_held and released,
        "forget_seconds": round(forget_seconds, 2),
        "receipt_turns": len(receipt.turn_ids),
        "receipt_facts": len(receipt.fact_ids),
        "scrub_pending": pending,
        "bytes_left": open_scan["bytes"],
        "files_with_hits": open_scan["files"],
        "hits": open_scan["hits"][:20],
        "fulltext_terms_left": terms,
        "search_hits_left": [c for c in found if any(n in c for n in SECRET_NEEDLES)],
        "bytes_left_after_close": closed_scan["bytes"],
        "control_found": control_seen,
        "bytes_left_at_receipt": at_receipt,
        "receipt_untrue": bool(at_receipt) and not pending,
    }


#: The byte scan, run in a process of its own: reading (opening and closing) a database file
#: in the process that has the store open drops that process's POSIX locks on it, after which
#: another process closing its connection deletes the WAL under the store.
SCANNER = textwrap.dedent(
    """
    import json, os, sys
    db, needles = sys.argv[1], json.loads(sys.argv[2])
    folder, name = os.path.split(db)
    hits, files, total = [], set(), 0
    for entry in sorted(os.listdir(folder)):
        path = os.path.join(folder, entry)
        if not entry.startswith(name) or not os.path.isfile(path):
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        for needle in needles:
            raw = needle.encode("utf-8")
            count = data.count(raw)
            if count:
                hits.append(f"{entry}: {needle!r} x{count}")
                files.add(entry)
                total += count * len(raw)
    print(json.dumps({"bytes": total, "files": sorted(files), "hits": hits}))
    """
)


def scan_files(db: Path, needles: Sequence[str]) -> dict[str, Any]:
    """Occurrences of each needle in every file whose name starts with the database's."""
    proc = _child(SCANNER, db, json.dumps(list(needles)))
    out, err = proc.communicate(timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"the byte scan failed: {_short(err)}")
    result: dict[str, Any] = json.loads(out)
    return result


def fulltext_terms(db: Path, terms: Sequence[str]) -> list[str]:
    """Which of ``terms`` the full-text indexes still hold (through fts5vocab; it only reads).

    Not a ``mode=ro`` connection: one cannot rebuild the WAL index, and fails with an I/O error
    when the writer has just reset the WAL.
    """
    conn = sqlite3.connect(db, timeout=30.0)
    left: list[str] = []
    try:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE sql LIKE '%USING fts5%'")]
        for table in tables:
            conn.execute(f"CREATE VIRTUAL TABLE temp.vocab_{table} USING fts5vocab(main, {table}, 'row')")
            marks = ",".join("?" * len(terms))
            left += [
                f"{table}: {row[0]}"
                for row in conn.execute(f"SELECT term FROM temp.vocab_{table} WHERE term IN ({marks})", list(terms))
            ]
    finally:
        conn.close()
    return left


# -- the run -----------------------------------------------------------------------------------


def run(*, seconds: float, kills: int, workdir: Path) -> dict[str, Any]:
    """Every section, the crash section taking what time the others leave."""
    from tests.reliability_probes import cross_tenant

    started = time.monotonic()
    report: dict[str, Any] = {"started": datetime.now(UTC).isoformat(timespec="seconds")}
    report["tenants"] = cross_tenant(workdir / "tenants")
    report["forget"] = forget_with_reader(workdir, hold_seconds=min(45.0, seconds / 4))
    report["opens"] = concurrent_opens(workdir, processes=8, rounds=10)
    report["writers"] = concurrent_writers(workdir, processes=4, seconds=min(10.0, seconds / 20))
    left = seconds - (time.monotonic() - started) - 30  # the checks after the kills take a while
    report["crash_after_commit"] = crash_after_commit(workdir)
    report["crash"] = crash_writers(workdir, kills=kills, seconds=max(left, 10.0))
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def summary(report: dict[str, Any]) -> str:
    """The figures that matter, as a table."""
    crash, opens, writers, forget, tenants = (
        report["crash"], report["opens"], report["writers"], report["forget"], report["tenants"],
    )
    rows = [
        ("kills (SIGKILL of a writer)", crash["kills"]),
        ("acknowledged turns", crash["acknowledged_turns"]),
        ("acknowledged turns lost", crash["acknowledged_lost"]),
        ("  not in full text / vector search / no vector",
         f"{crash['not_in_fulltext']} / {crash['not_in_vector_search']} / {crash['without_vector']}"),
        ("derived lost at reopen (no episode / no facts)", _derived(crash["derived_lost_at_reopen"])),
        ("derived lost after the next add", _derived(crash["derived_lost_after_next_add"])),
        ("derived lost after consolidate", _derived(crash["derived_lost_after_consolidate"])),
        ("writer errors (not killed)", len(crash["writer_errors"])),
        ("killed after commit: derived lost after next add / consolidate",
         f"{_derived(report['crash_after_commit']['derived_lost_after_next_add'])}, "
         f"{_derived(report['crash_after_commit']['derived_lost_after_consolidate'])}"),
        ("concurrent first opens failed", f"{opens['failed_opens']} of {opens['open_attempts']}"),
        ("  first writes failed", opens["failed_first_writes"]),
        ("concurrent writers: errors", f"{writers['errors']} of {writers['adds']} adds"),
        ("  lost writes / duplicate turns", f"{writers['lost_writes']} / {writers['duplicate_turns']}"),
        ("forget with a reader: seconds", forget["forget_seconds"]),
        ("  scrub_pending in the receipt", forget["scrub_pending"]),
        ("  secret bytes at the receipt (reader holding)", forget["bytes_left_at_receipt"]),
        ("  secret bytes left (reader gone, store open)", f"{forget['bytes_left']} in {', '.join(forget['files_with_hits']) or '-'}"),
        ("  full-text terms left", len(forget["fulltext_terms_left"])),
        ("  secret bytes left after close", forget["bytes_left_after_close"]),
        ("tenant probes: store methods", f"{tenants['methods_probed']} probed, {tenants['method_failures']} failed"),
        ("  REST routes", f"{tenants['routes_probed']} probed, {tenants['route_failures']} failed"),
        ("  MCP tools", f"{tenants['tools_probed']} probed, {tenants['tool_failures']} failed"),
        ("  existence oracle (embedded for B's text)", tenants["oracle"]),
        ("wall time, s", report["seconds"]),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def _derived(figures: dict[str, Any]) -> str:
    return f"{figures['turns_without_episode']} / {figures['turns_missing_facts']}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="time budget for the whole run")
    parser.add_argument("--kills", type=int, default=120, help="SIGKILLs of writers (fewer if time runs out)")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="engram-reliability-") as tmp:
        report = run(seconds=args.seconds, kills=args.kills, workdir=Path(tmp))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
