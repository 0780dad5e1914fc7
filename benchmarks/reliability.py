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

The sections live in ``reliability_crash.py``, ``reliability_crowds.py`` and
``reliability_forget.py`` (shared parts in ``reliability_base.py``); this file runs them.
Everything happens in a temporary directory that is removed afterwards. The figures go to
``--out`` as JSON and a summary table is printed. The same functions, at a small size, are the
CI suite ``tests/test_reliability.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.reliability_crash import crash_after_commit, crash_writers  # noqa: E402
from benchmarks.reliability_crowds import concurrent_opens, concurrent_writers  # noqa: E402
from benchmarks.reliability_forget import forget_with_reader  # noqa: E402

__all__ = ["concurrent_opens", "concurrent_writers", "crash_after_commit", "crash_writers", "forget_with_reader"]


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
