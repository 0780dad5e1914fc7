"""Reliability, 3: forget while another process holds a read transaction, then a byte scan."""

from __future__ import annotations

import json
import sqlite3
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.reliability_base import child, short, wait_for
from engram import HashingEmbedder, Memory
from engram.read.query import query_terms

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
        reader = child(READER, db, hold_seconds, stdin=True)
        held = wait_for(reader, "holding")
        started = time.perf_counter()
        receipt = mem.forget(user_id="victim", session_id="secret")
        forget_seconds = time.perf_counter() - started
        at_receipt = scan_files(db, SECRET_NEEDLES)["bytes"]
        still_held = reader.poll() is None
        assert reader.stdin is not None
        reader.stdin.write("go\n")
        reader.stdin.flush()
        released = wait_for(reader, "released")
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
    proc = child(SCANNER, db, json.dumps(list(needles)))
    out, err = proc.communicate(timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"the byte scan failed: {short(err)}")
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


