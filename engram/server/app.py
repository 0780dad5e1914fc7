"""The FastAPI app: REST routes, MCP over HTTP and the inspector, over one AsyncMemory.

:func:`create_app` builds everything from its arguments (no globals, no environment), so a
test, ``engram serve`` and an embedding application each get their own app. The caller
owns ``memory`` and closes it after the server stops.
"""

from __future__ import annotations

from engram.errors import EngramError, MissingDependencyError

try:
    from fastapi import FastAPI
    from starlette.datastructures import Headers
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
except ImportError as exc:  # pragma: no cover - exercised by the no-extras CI run
    raise MissingDependencyError("engram serve", "server", "fastapi") from exc

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from engram import __version__
from engram.aio import AsyncMemory
from engram.build import SHARED_COMPONENTS
from engram.engine import Memory
from engram.providers.batching import BatchingEmbedder
from engram.server import apidocs, errors, routes_lifecycle, routes_memory, routes_ops, routes_turns
from engram.server.auth import ServerState, Tenants
from engram.server.routes_agents import router as agents_router
from engram.server.schemas import MAX_BODY_BYTES, MAX_IMPORT_BYTES, MAX_REQUEST_MESSAGES

log = logging.getLogger("engram.server")

DESCRIPTION = """\
Long- and short-term memory for LLM agents, over HTTP.

Send `Authorization: Bearer KEY` with every `/v1` request; the key's tenant is the only memory
the request can see (`/health` and `/ready` need no key). Errors are JSON:
`{"error": {"code": "validation_error", "message": "..."}}`. Lists are paginated with
`limit` and `cursor` (pass back `next_cursor`). MCP over streamable HTTP is at `/mcp`; the
read-only inspector is at `/`.
"""


def create_app(
    memory: AsyncMemory,
    *,
    require_keys: bool,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_import_bytes: int = MAX_IMPORT_BYTES,
    allowed_hosts: Sequence[str] | None = None,
    mcp: bool = True,
    inspector: bool = True,
    warm_up: bool = True,
    batch_embeddings: bool = True,
) -> FastAPI:
    """Build the server app.

    Args:
        memory: the server's base memory (e.g. from :func:`engram.build.build_memory`); every
            tenant's memory is made from it (:func:`engram.build.for_tenant`), with its store,
            embedder, recipe, LLM, retention policy and clock. Its tenant is the one keyless
            requests work in.
        require_keys: refuse requests without a valid API key (``engram serve`` sets this
            whenever the store has an active key).
        max_body_bytes: largest request body; larger ones get 413.
        max_import_bytes: largest ``POST /v1/import`` body.
        allowed_hosts: accepted ``Host`` headers (DNS-rebinding protection for a keyless
            loopback server), e.g. ``["127.0.0.1", "localhost"]``; ``None`` accepts any.
        mcp: serve MCP over streamable HTTP at ``/mcp`` (needs the ``[mcp]`` extra).
        inspector: serve the read-only web inspector at ``/``.
        warm_up: load the embedder at start-up, so the first request is not slow.
        batch_embeddings: embed the texts of concurrent requests together, one forward pass
            for many (:class:`~engram.providers.batching.BatchingEmbedder`): under load the
            model runs once per batch instead of once per request.
    """
    batcher = None
    if batch_embeddings:
        memory, batcher = _with_batching(memory)
    state = ServerState(Tenants(memory), require_keys, max_body_bytes, max_import_bytes)
    running: list[Callable[[], AbstractAsyncContextManager[None]]] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if warm_up:
            await _warm_up(state)
        async with AsyncExitStack() as stack:
            for start in running:
                await stack.enter_async_context(start())
            yield
        if batcher is not None:
            await asyncio.to_thread(batcher.close)

    # The API reference is our own page (engram.server.apidocs): FastAPI's load from a CDN.
    app = FastAPI(
        title="Engram",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.engram = state
    errors.install(app)
    app.include_router(routes_ops.probes)
    app.include_router(routes_memory.router)
    app.include_router(routes_turns.router)
    app.include_router(routes_lifecycle.router)
    app.include_router(agents_router)
    app.include_router(routes_ops.router)
    app.include_router(apidocs.router)
    if mcp:
        from engram.server.mcp_http import mcp_route

        route, run_mcp = mcp_route(state)
        app.router.routes.append(route)
        running.append(run_mcp)
    if inspector:
        from engram.server.inspector import router as inspector_router

        app.include_router(inspector_router)
    app.add_middleware(BodyLimit, limit_for=lambda path: max_import_bytes if path == "/v1/import" else max_body_bytes)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHosts, allowed_hosts=list(allowed_hosts))
    return app


def _with_batching(memory: AsyncMemory) -> tuple[AsyncMemory, BatchingEmbedder]:
    """``memory`` with an embedder that batches concurrent calls (everything else shared)."""
    base = memory.sync
    batcher = BatchingEmbedder(lambda: base.embedder)  # loads the model on first need, as before
    components = {arg: getattr(base, attr) for arg, attr in SHARED_COMPONENTS.items() if arg != "embedder"}
    return AsyncMemory(memory=Memory(tenant=base.tenant, embedder=batcher, **components)), batcher


async def _warm_up(state: ServerState) -> None:
    def load() -> None:
        _ = state.base.sync.embedder
        _ = state.base.sync.token_counter

    try:
        await asyncio.to_thread(load)
    except EngramError as exc:  # the server still starts; /ready reports it and requests fail clearly
        state.warmup_error = str(exc)
        log.error("embedder failed to load: %s", exc)


class TrustedHosts:
    """Refuse requests whose ``Host`` header is not an allowed host (DNS-rebinding protection),
    with the one JSON error shape (Starlette's own middleware answers in plain text)."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app, self.allowed = app, frozenset(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or "*" in self.allowed:
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "").split(":")[0]
        if host in self.allowed:
            await self.app(scope, receive, send)
            return
        response = errors.error_response(
            400,
            "invalid_host",
            f"invalid Host header {host!r}: this server answers only to {', '.join(sorted(self.allowed))}; "
            "create an API key (engram keys create --tenant NAME) to serve other hosts",
        )
        await response(scope, receive, send)


class BodyLimit:
    """Refuse request bodies over a size limit with 413, before any handler reads them.

    The body is read here (at most the limit) and replayed to the app, so a lying or
    missing ``Content-Length`` cannot get a larger body through.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(limit, scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(limit, scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        response = errors.error_response(
            413,
            "payload_too_large",
            f"the request body is over the server's limit of {limit:,} bytes; send fewer messages per "
            f"call (at most {MAX_REQUEST_MESSAGES} per POST /v1/turns)",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
