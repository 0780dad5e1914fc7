"""The inspector's pages: users; a user's profile, facts with their history, sessions and
timeline with episodes; and search with its trace of turn, fact and episode candidates.

Each page makes the same library calls as the REST API and renders them (what to show is
built by the pure functions of :mod:`engram.server.inspector.views`). The inspector never
writes memory: its context call does not reinforce what it shows. It authenticates like the API (a Bearer header)
or with the key in an HttpOnly, SameSite=Strict cookie set by ``/login``; keyless servers
need neither.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from engram.aio import AsyncMemory
from engram.errors import EngramError
from engram.model import ContextResult, Turn
from engram.model.episode import Episode
from engram.read.retrieve import RECIPES, RetrievalConfig
from engram.server.auth import authenticate, bearer_secret, get_state
from engram.server.directory import list_sessions, list_users
from engram.server.errors import ApiError, classify
from engram.server.inspector.views import (
    episode_candidates,
    episode_routed,
    fact_candidates,
    fact_slots,
    timeline,
    trace_rows,
)

router = APIRouter(include_in_schema=False)
COOKIE = "engram_key"
TURNS_PER_PAGE = 50
CONTEXT_CANDIDATES = 50
#: Pages of 1000 episodes walked to find those of a page of turns (a bound on a page's cost).
EPISODE_PAGES = 10
#: No scripts, no third-party anything: inline styles only, forms post back here.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"


_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    enable_async=False,
)
_env.filters["when"] = _when


def render(request: Request, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    """A page, with the security headers every inspector response carries."""
    html = _env.get_template(template).render(**values)
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )


@dataclass
class _Viewer:
    memory: AsyncMemory
    values: dict[str, Any] = field(default_factory=dict)  # for the page header


def _error_page(request: Request, viewer: _Viewer, exc: EngramError, **values: Any) -> HTMLResponse:
    status, _ = classify(exc)
    values = {"k": 10, "budget": 500, **values}
    return render(request, "search.html", status=status, error=str(exc), **values, **viewer.values)


async def _viewer(request: Request) -> _Viewer | Response:
    """The memory this browser may see, or a redirect to the sign-in page."""
    state = get_state(request)
    cookie = request.cookies.get(COOKIE)
    try:
        secret = bearer_secret(request.headers.get("authorization")) or cookie
        tenant = await authenticate(state, secret)
    except ApiError:
        return RedirectResponse("/login", status_code=303)
    memory = await state.tenants.memory(tenant)
    return _Viewer(memory, values={"tenant": tenant, "signed_in": cookie is not None})


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, cursor: str | None = Query(None, max_length=128)) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    memory = viewer.memory
    try:
        stats = await memory.stats()
        users, next_cursor = await asyncio.to_thread(
            list_users, memory.sync.store, memory.tenant, after=cursor, limit=100
        )
    except EngramError as exc:
        return _error_page(request, viewer, exc)
    return render(request, "index.html", stats=stats, users=users, next_cursor=next_cursor, **viewer.values)


@router.get("/user", response_class=HTMLResponse)
async def user(
    request: Request,
    user_id: str = Query(max_length=128),
    session_id: str | None = Query(None, max_length=128),
    cursor: str | None = Query(None, max_length=128),
    sessions_cursor: str | None = Query(None, max_length=128),
) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    memory = viewer.memory
    try:
        sessions, more_sessions = await asyncio.to_thread(
            list_sessions, memory.sync.store, memory.tenant, user_id, after=sessions_cursor, limit=100
        )
        page = await memory.list(user_id=user_id, session_id=session_id, limit=TURNS_PER_PAGE, cursor=cursor)
        profile, versions, episodes = await asyncio.gather(
            memory.profile(user_id=user_id),
            memory.facts(user_id=user_id, include_history=True, include_archived=True),
            _episodes_of(memory, user_id, session_id, page.items),
        )
    except EngramError as exc:
        return _error_page(request, viewer, exc, user_id=user_id)
    return render(
        request,
        "user.html",
        user_id=user_id,
        session_id=session_id,
        sessions=sessions,
        sessions_cursor=more_sessions,
        profile=profile,
        slots=fact_slots(versions),
        versions={v.id: v for v in versions},
        rows=timeline(page.items, episodes),
        next_cursor=page.next_cursor,
        **viewer.values,
    )


async def _episodes_of(memory: AsyncMemory, user_id: str, session_id: str | None, turns: list[Turn]) -> list[Episode]:
    """The episodes holding ``turns``: pages of episodes (by start) up to the last turn's time."""
    if not turns:
        return []
    last = max(turn.timestamp for turn in turns)
    wanted = {turn.id for turn in turns}
    found: list[Episode] = []
    cursor: str | None = None
    for _ in range(EPISODE_PAGES):
        page = await memory.episodes(
            user_id=user_id, session_id=session_id, limit=1000, cursor=cursor, include_archived=True
        )
        found += [e for e in page.items if wanted.intersection(e.turn_ids)]
        cursor = page.next_cursor
        if cursor is None or page.items[-1].start > last:
            break
    return found


@router.get("/search", response_class=HTMLResponse)
async def search(
    request: Request,
    user_id: str | None = Query(None, max_length=128),
    q: str | None = Query(None, max_length=4000),
    k: int = Query(10, ge=1, le=1000),
    budget: int = Query(500, ge=1, le=200_000),
    session_id: str | None = Query(None, max_length=128),
    config: str | None = Query(None, max_length=64, description="a retrieval recipe; default: the store's"),
) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    memory = viewer.memory
    session_id = session_id or None
    values: dict[str, Any] = {"user_id": user_id, "q": q, "k": k, "budget": budget, "session_id": session_id}
    recipe = RECIPES.get(config or "", memory.sync.retrieval)
    values["retrievers"] = list(recipe.retrievers)
    if not (user_id and q):
        return render(request, "search.html", **values, **viewer.values)
    try:
        result = await memory.search(q, user_id=user_id, k=k, explain=True, config=recipe)
        context = await _context(
            memory, q, user_id, session_id, budget, candidates=max(k, CONTEXT_CANDIDATES), config=recipe
        )
        trace = trace_rows([*result.hits, *result.left_out], k, context)
        sessions = sorted({row.turn.session_id for row in episode_routed(trace)})
        pages = await asyncio.gather(
            *(memory.episodes(user_id=user_id, session_id=s, limit=1000, include_archived=True) for s in sessions)
        )
    except EngramError as exc:
        return _error_page(request, viewer, exc, **values)
    return render(
        request,
        "search.html",
        result=result,
        trace=trace,
        context=context,
        facts=fact_candidates(trace, context),
        episodes=episode_candidates(trace, [e for page in pages for e in page.items]),
        **values,
        **viewer.values,
    )


async def _context(
    memory: AsyncMemory,
    query: str,
    user_id: str,
    session_id: str | None,
    budget: int,
    *,
    candidates: int,
    config: RetrievalConfig | None = None,
) -> ContextResult:
    """What ``context()`` would give an agent, without reinforcing what it shows (the page only looks)."""
    call = partial(
        memory.sync.context,
        query,
        user_id=user_id,
        session_id=session_id,
        budget_tokens=budget,
        candidates=candidates,
        reinforce=False,
        config=config,
    )
    return await asyncio.to_thread(call)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    return render(request, "login.html")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    secret = (form.get("key") or [""])[0].strip()
    if not secret:
        return render(request, "login.html", status=401, error="enter an API key")
    try:
        await authenticate(get_state(request), secret)
    except ApiError as exc:
        return render(request, "login.html", status=401, error=exc.message)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE, secret, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
    )
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
