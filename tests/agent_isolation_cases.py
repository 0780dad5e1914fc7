"""Cross-tenant cases for the agent-memory routes and MCP tools (runs, experience, world state).

Used by tests/test_server_security.py (``ROUTE_CASES``) and tests/reliability_probes.py (the MCP
tool probes): each call is made with tenant A's key at the user ``alice`` whose secrets tenant B
holds. A's own runs are made first where a route needs one; B's turn ids stand in for run ids,
so a lookup of B's memory by id from A must come back 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

A_RUN = "a-run"


def _a_run(w: Any, run_id: str = A_RUN, *, subgoal: bool = False) -> str:
    """Tenant A's own run for alice (and an open subgoal), made through the API."""
    w.client.post("/v1/runs", headers=w.as_a(), json={"goal": "plan the launch", "user_id": "alice", "run_id": run_id})
    if subgoal:
        w.client.post(f"/v1/runs/{run_id}/subgoals", headers=w.as_a(), json={"user_id": "alice", "title": "check"})
    return run_id


def _b_id(w: Any) -> str:
    return str(w.b_ids[0])


AGENT_ROUTE_CASES: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("POST", "/v1/runs"): lambda w: w.client.post(
        "/v1/runs", headers=w.as_a(), json={"goal": "launch code 7741", "user_id": "alice", "run_id": A_RUN}),
    ("POST", "/v1/runs/{run_id}/steps"): lambda w: w.client.post(
        f"/v1/runs/{_a_run(w)}/steps", headers=w.as_a(),
        json={"user_id": "alice", "tool": "lookup", "args": {"q": "launch code"}, "result": "none"}),
    ("POST", "/v1/runs/{run_id}/subgoals"): lambda w: w.client.post(
        f"/v1/runs/{_a_run(w)}/subgoals", headers=w.as_a(), json={"user_id": "alice", "title": "find the code"}),
    ("POST", "/v1/runs/{run_id}/subgoals/close"): lambda w: w.client.post(
        f"/v1/runs/{_a_run(w, subgoal=True)}/subgoals/close", headers=w.as_a(), json={"user_id": "alice"}),
    ("POST", "/v1/runs/{run_id}/finish"): lambda w: w.client.post(
        f"/v1/runs/{_b_id(w)}/finish", headers=w.as_a(), json={"user_id": "alice", "outcome": "success"}),
    ("GET", "/v1/runs"): lambda w: w.client.get("/v1/runs", headers=w.as_a(), params={"user_id": "alice"}),
    ("GET", "/v1/runs/{run_id}"): lambda w: w.client.get(
        f"/v1/runs/{_b_id(w)}", headers=w.as_a(), params={"user_id": "alice"}),
    ("GET", "/v1/runs/{run_id}/context"): lambda w: w.client.get(
        f"/v1/runs/{_b_id(w)}/context", headers=w.as_a(), params={"user_id": "alice"}),
    ("POST", "/v1/experience"): lambda w: w.client.post(
        "/v1/experience", headers=w.as_a(), json={"goal": "launch code 7741", "user_id": "alice"}),
    ("GET", "/v1/lessons"): lambda w: w.client.get(
        "/v1/lessons", headers=w.as_a(), params={"user_id": "alice", "include_history": True}),
    ("POST", "/v1/observations"): lambda w: w.client.post(
        "/v1/observations", headers=w.as_a(), json={"text": "The launch plan is on the desk", "user_id": "alice"}),
    ("GET", "/v1/world/where"): lambda w: w.client.get(
        "/v1/world/where", headers=w.as_a(), params={"subject": "launch code", "user_id": "alice"}),
    ("GET", "/v1/world/seen-in"): lambda w: w.client.get(
        "/v1/world/seen-in", headers=w.as_a(), params={"place": "desk", "user_id": "alice"}),
}


def agent_tool_cases(w: Any) -> dict[str, dict[str, Any]]:
    """Arguments of each agent-memory MCP tool, as A at alice; makes A's runs they need (one to
    finish, one with an open subgoal to close)."""
    _a_run(w, "a-finish")
    _a_run(w, "a-work", subgoal=True)
    work = {"run_id": "a-work", "user_id": "alice"}
    return {
        "start_run": {"goal": "launch code 7741", "user_id": "alice"},
        "record_step": {**work, "tool": "lookup", "args": {"q": "launch code"}, "result": "none"},
        "open_subgoal": {**work, "title": "find the code"},
        "close_subgoal": work,
        "finish_run": {"run_id": "a-finish", "user_id": "alice", "outcome": "success"},
        "run_context": work,
        "experience": {"goal": "launch code 7741", "user_id": "alice"},
        "observe": {"user_id": "alice", "text": "The launch plan is on the desk"},
        "where": {"subject": "launch code", "user_id": "alice"},
    }

#: The inspector's run pages, as A at alice, aimed at B's session as a run id (echoed in the page).
AGENT_INSPECTOR_CASES: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("GET", "/runs"): lambda w: w.client.get("/runs", headers=w.as_a(), params={"user_id": "alice"}),
    ("GET", "/run"): lambda w: w.client.get("/run", headers=w.as_a(), params={"user_id": "alice", "run_id": "b-secret"}),
}
AGENT_ECHOED = {("GET", "/run"): ("b-secret",)}
