"""The reliability suite, at CI size: crashes, crowds, forget with a reader, hostile tenants.

The same functions run longer in ``benchmarks/reliability.py``, which reports the figures.
Each check states what a user is promised: an acknowledged write survives a SIGKILL and
everything derived from it is rebuilt; a new file can be opened by many processes at once;
a forget receipt is true; another tenant's memory is never returned, changed or hinted at.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.reliability import (
    concurrent_opens,
    concurrent_writers,
    crash_after_commit,
    crash_writers,
    forget_with_reader,
)
from tests.reliability_probes import (
    STORE_PROBES,
    existence_oracle,
    probe_routes,
    probe_store,
    probe_tools,
    protocol_methods,
)


def _show(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=1, default=str)


def _nothing_lost(figures: dict[str, Any]) -> bool:
    return figures["turns_without_episode"] == 0 and figures["turns_missing_facts"] == 0


# -- crashes --------------------------------------------------------------------------------------


def test_killed_writers_lose_no_acknowledged_turn_and_nothing_derived(tmp_path: Path) -> None:
    report = crash_writers(tmp_path, kills=10, seconds=60)
    assert report["kills"] >= 5 and report["acknowledged_turns"] > 0, _show(report)
    assert report["writer_errors"] == [], _show(report)
    assert report["acknowledged_lost"] == 0, _show(report)
    assert report["not_in_fulltext"] == report["not_in_vector_search"] == report["without_vector"] == 0, _show(report)
    # the next add of each user catches up what a crash left underived, and consolidate too
    assert _nothing_lost(report["derived_lost_after_next_add"]), _show(report)
    assert _nothing_lost(report["derived_lost_after_consolidate"]), _show(report)


def test_a_crash_between_commit_and_derivation_is_caught_up_by_the_next_add(tmp_path: Path) -> None:
    report = crash_after_commit(tmp_path)
    assert report["killed"], _show(report)
    assert _nothing_lost(report["derived_lost_after_next_add"]), _show(report)
    assert _nothing_lost(report["derived_lost_after_consolidate"]), _show(report)


# -- crowds -------------------------------------------------------------------------------------------


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    report = concurrent_opens(tmp_path, processes=8, rounds=6)
    assert report["failed_opens"] == 0 and report["failed_first_writes"] == 0, _show(report)


def test_concurrent_writers_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    report = concurrent_writers(tmp_path, processes=4, seconds=3.0)
    assert report["adds"] > 0 and report["writer_crashes"] == [], _show(report)
    assert report["errors"] == 0, _show(report)
    assert report["lost_writes"] == 0, _show(report)
    assert report["duplicate_turns"] == 0 and report["retries_that_added"] == 0, _show(report)


# -- forget with a reader holding a transaction ----------------------------------------------------------


def test_forget_with_a_reader_holding_a_transaction_scrubs_every_file(tmp_path: Path) -> None:
    report = forget_with_reader(tmp_path, hold_seconds=45.0)
    assert report["reader_held"] and report["control_found"], _show(report)  # the probe itself works
    assert report["receipt_turns"] == 3 and report["receipt_facts"] > 0, _show(report)
    # a receipt is true: scrubbed when returned, or it says the scrub is pending
    assert not report["receipt_untrue"], _show(report)
    # once the reader is gone and the store is used again, nothing of the secret is left
    assert report["bytes_left"] == 0 and report["files_with_hits"] == [], _show(report)
    assert report["fulltext_terms_left"] == [] and report["search_hits_left"] == [], _show(report)


# -- tenants -------------------------------------------------------------------------------------------


def test_every_store_method_has_a_cross_tenant_probe() -> None:
    assert set(protocol_methods()) == set(STORE_PROBES)


@pytest.fixture(scope="module")
def store_probes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    results = probe_store(tmp_path_factory.mktemp("tenants") / "store.db")
    return {result["method"]: result["problem"] for result in results}


@pytest.mark.parametrize("method", protocol_methods())
def test_store_method_never_crosses_tenants(store_probes: dict[str, str | None], method: str) -> None:
    """Called in tenant A's scope with B's ids, keys, slots and sessions: nothing of B's."""
    assert store_probes[method] is None, store_probes[method]


def test_adding_another_tenants_exact_text_is_no_existence_oracle(tmp_path: Path) -> None:
    assert existence_oracle(tmp_path / "oracle.db") == 1


def test_every_route_keeps_tenants_apart(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    failures = [result for result in probe_routes(tmp_path) if result["problem"]]
    assert failures == [], _show({"failures": failures})


def test_every_mcp_tool_keeps_tenants_apart(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("mcp")
    results = probe_tools(tmp_path)
    assert len(results) >= 6
    failures = [result for result in results if result["problem"]]
    assert failures == [], _show({"failures": failures})
