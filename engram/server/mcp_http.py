"""MCP over streamable HTTP inside the FastAPI app, at ``/mcp``, authenticated like the REST API.

The SDK's session manager runs stateless with JSON responses: every POST is a complete
exchange, so any number of clients (and server processes) can share the endpoint with no
session affinity. Before a request reaches the SDK, its Bearer key is checked and its tenant
put on the ASGI scope; each tool call reads it back from there.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from engram.aio import AsyncMemory
from engram.server.auth import ServerState, authenticate, bearer_secret
from engram.server.errors import ApiError, error_response
from engram.server.mcp import build_server

PATH = "/mcp"
_TENANT = "engram_tenant"


class _Endpoint:
    """ASGI app: authenticate, note the tenant on the scope, hand over to the SDK."""

    def __init__(self, state: ServerState, server: MCPServer) -> None:
        self.state, self.server = state, server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            secret = bearer_secret(Headers(scope=scope).get("authorization"))
            tenant = await authenticate(self.state, secret)
        except ApiError as exc:
            await error_response(exc.status, exc.code, exc.message, headers=exc.headers)(scope, receive, send)
            return
        scope.setdefault("state", {})[_TENANT] = tenant
        await self.server.session_manager.handle_request(scope, receive, send)


def mcp_route(state: ServerState) -> tuple[Route, Callable[[], AbstractAsyncContextManager[None]]]:
    """The ``/mcp`` route, and what the app's lifespan must run while it serves."""

    async def resolve(ctx: Context) -> AsyncMemory:
        request = ctx.request_context.request
        tenant = getattr(request, "scope", {}).get("state", {}).get(_TENANT)
        if not isinstance(tenant, str):  # fail closed: never fall back to some default tenant
            raise ToolError("unauthorized: this call carries no authenticated tenant")
        return await state.tenants.memory(tenant)

    server = build_server(resolve)

    def run() -> AbstractAsyncContextManager[None]:
        # A session manager runs once; each start of the app (tests start one app several
        # times) makes a fresh one, which the endpoint finds through server.session_manager.
        server.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            json_response=True,
            max_request_body_size=state.max_body_bytes,
            # Host checks (DNS rebinding) are the app's (TrustedHostMiddleware), for every route alike.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        return server.session_manager.run()

    return Route(PATH, endpoint=_Endpoint(state, server), methods=["GET", "POST", "DELETE"]), run
