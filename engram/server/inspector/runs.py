"""The inspector's agent pages: a user's task runs, and one run's timeline with its subgoals,
steps (tool calls with arguments, results and errors) and outcome. Read-only, like every page."""

from __future__ import annotations

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from engram.errors import EngramError
from engram.server.inspector.pages import _error_page, _viewer, render, router


@router.get("/runs", response_class=HTMLResponse)
async def runs_page(
    request: Request,
    user_id: str = Query(max_length=128),
    agent_id: str | None = Query(None, max_length=128),
) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    try:
        runs = await viewer.memory.runs(user_id=user_id, agent_id=agent_id or None, limit=200)
    except EngramError as exc:
        return _error_page(request, viewer, exc, user_id=user_id)
    return render(request, "runs.html", user_id=user_id, runs=runs, run=None, **viewer.values)


@router.get("/run", response_class=HTMLResponse)
async def run_page(
    request: Request,
    user_id: str = Query(max_length=128),
    run_id: str = Query(max_length=128),
) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    try:
        run = await viewer.memory.get_run(run_id, user_id=user_id)
    except EngramError as exc:
        return _error_page(request, viewer, exc, user_id=user_id)
    rows = [(kind, item) for _, kind, item in run.timeline()]
    return render(request, "runs.html", user_id=user_id, runs=None, run=run, rows=rows, **viewer.values)
