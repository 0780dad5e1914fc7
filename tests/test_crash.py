"""Crash safety: kill a writer mid-import; the file stays consistent and keeps every returned batch."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from engram import HashingEmbedder, Memory

WRITER = textwrap.dedent(
    """
    import sys
    from engram import HashingEmbedder, Memory
    mem = Memory(sys.argv[1], embedder=HashingEmbedder())
    for batch in range(10_000):
        msgs = [{"role": "user", "content": f"batch {batch} message {i} " + "words " * 30} for i in range(50)]
        mem.add(msgs, user_id="u", session_id=f"s{batch % 7}", timestamp=1_700_000_000 + batch)
        print(batch, flush=True)  # add returned: this batch must survive
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("after_batches", [3, 17])
def test_killing_a_writer_loses_no_returned_batch_and_leaves_indexes_in_agreement(tmp_path, after_batches):
    db = tmp_path / "crash.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    acknowledged = -1
    assert proc.stdout is not None
    for line in proc.stdout:
        acknowledged = int(line)
        if acknowledged >= after_batches:
            proc.send_signal(signal.SIGKILL)  # no cleanup, no atexit, mid-way through the next batch
            break
    proc.wait(timeout=60)
    assert acknowledged >= after_batches

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.execute(
            "INSERT INTO turns_fts(turns_fts, rank) VALUES ('integrity-check', 1)"
        )  # raises if FTS disagrees
        rows, with_vectors = conn.execute("SELECT count(*), count(embedding) FROM turns").fetchone()
        fts_rows = conn.execute("SELECT count(*) FROM turns_fts WHERE turns_fts MATCH 'message'").fetchone()[
            0
        ]
    assert rows % 50 == 0, "a batch was half written"
    assert rows >= (acknowledged + 1) * 50, "a batch whose add had returned was lost"
    assert with_vectors == rows == fts_rows

    with Memory(db, embedder=HashingEmbedder()) as mem:  # reopens and keeps working
        assert mem.stats().turns == rows
        assert len(mem.search(f"batch {acknowledged} message 3", user_id="u", k=5)) == 5
        mem.add("after the crash", user_id="u", session_id="s0")
        assert mem.stats().turns == rows + 1
