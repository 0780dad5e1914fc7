"""Reliability, 2: crowds: concurrent first opens of a new file, and concurrent writers."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from benchmarks.reliability_base import child, short, wait_for
from engram import HashingEmbedder, Memory
from engram.store.base import UserScope

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

def concurrent_opens(workdir: Path, *, processes: int = 8, rounds: int = 5) -> dict[str, Any]:
    """``processes`` processes open one new store at the same instant, ``rounds`` times."""
    procs = [child(OPENER, workdir, rounds, me) for me in range(processes)]
    failures: list[dict[str, Any]] = []
    answered = 0
    for round_no in range(rounds):
        for proc in procs:
            wait_for(proc, '"ready"')
        (workdir / f"go-open-{round_no}").touch()
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            result = json.loads(line) if line.startswith("{") else {"ok": False, "stage": "process", "error": "died"}
            answered += 1
            if not result["ok"]:
                failures.append({"round": round_no, "stage": result["stage"], "error": short(result["error"])})
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            failures.append({"round": None, "stage": "process", "error": short(err)})
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
    procs = [child(CROWD, db, me, seconds, go) for me in range(processes)]
    for proc in procs:
        wait_for(proc, "ready")
    go.touch()
    records: list[dict[str, Any]] = []
    crashed: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=seconds + 120)
        records += [json.loads(line) for line in out.splitlines() if line.startswith('{"kind"')]
        if proc.returncode != 0:
            crashed.append(f"exit {proc.returncode}: {short(err.strip().splitlines()[-1] if err.strip() else '')}")
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
        "error_messages": sorted({short(e) for e in errors})[:10],
        "writer_crashes": crashed,
        "acknowledged_turns": sum(len(r["ids"]) for r in acked),
        "lost_writes": lost,
        "duplicate_turns": duplicates,
        "retries_that_added": sum(r["added"] for r in acked if r["kind"] == "retry"),
    }


# -- 3. forget while a reader holds a transaction ------------------------------------------------

