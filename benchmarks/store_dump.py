"""Build stores through every write path and dump their contents, to check that two versions of
the code store the very same thing (issue 16, item 2: faster imports, identical stores).

    PYTHONPATH=/tmp/before .venv/bin/python benchmarks/store_dump.py /tmp/dump-before
    PYTHONPATH=. .venv/bin/python benchmarks/store_dump.py /tmp/dump-after
    diff -r /tmp/dump-before /tmp/dump-after && echo identical

Deterministic: the hashing embedder and a fixed clock. Cases: ``engram import locomo``'s path
(all of LoCoMo, then two conversations again, which adds nothing), LongMemEval (4 questions),
sessions without a time plus a document-length message (chunk vectors), one conversation
under ``--user``; ``Memory.add`` a session a call; ``Memory.add`` half a session a call (the
second half extends the session's episodes); turns a crashed write stored but never derived
(its lifecycle step skipped), which the next ``add`` catches up; ``Memory.import_`` of the
``add`` store's export without vectors, with them, and without fact lines (a version 1 file,
facts derived again). Each case writes one file: every row of every table of the SQLite file
(turns, facts, episodes, chunks, lifecycle state, the full-text indexes' own tables), sorted;
the time each migration ran is left out. With ``--fulltext-content`` the full-text indexes are
dumped by what they hold (every term's every occurrence, and their totals) rather than by their
segments, whose layout depends on how many statements wrote the rows, not on what they wrote.
"""

from __future__ import annotations

import argparse
import io
import sqlite3
import tempfile
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

from engram import HashingEmbedder, Memory
from engram.cli.importers import ImportSummary, ingest
from engram.formats import load_locomo, load_longmemeval
from engram.formats.dataset import Conversation, Session
from engram.write.absorb import AbsorbReport

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def untimed(conversations: Sequence[Conversation]) -> list[Conversation]:
    """The first sessions of ``conversations`` with no times, and a document-length message."""
    out = [
        Conversation(
            conversation.id + "-untimed",
            [
                Session(s.id, None, [{k: v for k, v in m.items() if k != "timestamp"} for m in s.messages])
                for s in conversation.sessions[:6]
            ],
        )
        for conversation in conversations
    ]
    document = " ".join(f"word{i} is here." for i in range(3000))
    messages = [
        {"role": "user", "content": "I moved to Lisbon last year. " + document},
        {"role": "assistant", "content": document[:5000]},
    ]
    return [*out, Conversation("docs", [Session("d1", None, messages)])]


#: The full-text indexes (FTS5) of a store.
FULLTEXT = ("turns_fts", "episodes_fts", "facts_fts")


def dump(path: Path, out: Path, *, fulltext_content: bool = False) -> None:
    """Every row of every table of the store at ``path``, sorted, into ``out``.

    ``fulltext_content``: each full-text index by what it holds, every occurrence of every term
    (FTS5's ``fts5vocab`` ``instance`` table: term, row, column, position) and its totals (the
    ``%_data`` record with id 1: rows and tokens per column), instead of the rows of its segment
    tables (``%_data``, ``%_idx``), whose layout follows how many statements wrote the rows (FTS5
    writes out its pending terms at each one).
    """
    conn = sqlite3.connect(path)
    lines = []
    layout = {f"{index}_{part}" for index in FULLTEXT for part in ("data", "idx") if fulltext_content}
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
        rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
        if table == "engram_migrations":
            rows = [row[:1] for row in rows]  # the time each migration ran differs by run
        if table in layout:
            rows = [row for row in rows if table.endswith("_data") and row[0] == 1]
        lines += sorted(f"{table}\t{row!r}" for row in rows)
        lines.append(f"#{table}\t{len(rows)} rows")
    for index in FULLTEXT if fulltext_content else ():
        conn.execute(f"CREATE VIRTUAL TABLE temp.{index}_terms USING fts5vocab(main, {index}, instance)")
        rows = conn.execute(f"SELECT * FROM temp.{index}_terms").fetchall()
        lines += sorted(f"{index}:instance\t{row!r}" for row in rows)
        lines.append(f"#{index}:instance\t{len(rows)} rows")
    conn.close()
    out.write_text("\n".join(lines) + "\n")
    print(f"{out.name}: {len(lines)} lines")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder for the dumps")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--fulltext-content",
        action="store_true",
        help="dump the full-text indexes by the terms they hold, not by their segments' rows",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    locomo = load_locomo(args.data / "locomo10.json").conversations
    longmemeval = load_longmemeval(args.data / "longmemeval_s_dev.json.gz").conversations[:4]
    with tempfile.TemporaryDirectory() as tmp:

        def case(name: str) -> Memory:
            memory = Memory(Path(tmp) / f"{name}.db", embedder=HashingEmbedder(), clock=lambda: NOW)
            _ = memory.embedder  # binds the store to the model
            return memory

        def done(memory: Memory, name: str) -> None:
            memory.close()
            dump(Path(tmp) / f"{name}.db", args.out / f"{name}.txt", fulltext_content=args.fulltext_content)

        for name, conversations, user in (
            ("cli-locomo", locomo, None),
            ("cli-longmemeval", longmemeval, None),
            ("cli-untimed", untimed(locomo[:2]), None),
            ("cli-user", locomo[3:4], "alice"),
        ):
            memory = case(name)
            ingest(memory, conversations, summary=ImportSummary("locomo", "-"), user_id=user)
            if name == "cli-locomo":
                ingest(memory, conversations[:2], summary=ImportSummary("locomo", "-"))  # adds nothing
            done(memory, name)
        memory = case("add")
        for conversation in locomo[:3]:
            for session in conversation.sessions:
                memory.add(session.messages, user_id=conversation.id, session_id=session.id, timestamp=session.timestamp)
        exports = {}
        for vectors in (False, True):
            export = io.StringIO()
            memory.export(export, with_vectors=vectors)
            exports[vectors] = export.getvalue().splitlines(keepends=True)
        done(memory, "add")
        memory = case("add-halves")
        for conversation in locomo[3:5]:
            for session in conversation.sessions:
                half = len(session.messages) // 2
                for part in filter(None, (session.messages[:half], session.messages[half:])):
                    memory.add(part, user_id="u", session_id=session.id, timestamp=session.timestamp)
        done(memory, "add-halves")
        memory = case("catch-up")
        crash = mock.patch("engram.write.ingest.absorb", return_value=AbsorbReport())
        for number, session in enumerate(locomo[5].sessions):
            # every third session is stored, then the process dies before deriving its facts and episodes
            with crash if number % 3 == 1 else nullcontext():
                memory.add(session.messages, user_id="u", session_id=session.id, timestamp=session.timestamp)
        done(memory, "catch-up")
        turns_only = [line for line in exports[False] if '"type":"fact"' not in line.replace(" ", "")]
        for name, lines in (
            ("import_-without-vectors", exports[False]),
            ("import_-with-vectors", exports[True]),
            ("import_-turns-only", turns_only),
        ):
            memory = case(name)
            memory.import_(lines)
            done(memory, name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
