"""Serve memory over the network: REST API, MCP server and web inspector, over AsyncMemory.

Everything here is a thin layer: a route or tool parses input, makes one
:class:`~engram.AsyncMemory` call and renders the result. Modules:

* :mod:`~engram.server.app` — :func:`create_app`, the FastAPI app (``[server]`` extra);
* ``routes_memory`` (add, search, context), ``routes_turns`` (turns, users, sessions),
  ``routes_ops`` (health, readiness, stats, export, import);
* :mod:`~engram.server.schemas` — request/response models and their limits;
* :mod:`~engram.server.errors` — the one EngramError → HTTP status / MCP error mapping;
* :mod:`~engram.server.auth` — API keys → tenants → memories over one store and embedder;
* :mod:`~engram.server.mcp` / ``mcp_http`` — MCP tools over stdio and streamable HTTP
  (``[mcp]`` extra);
* :mod:`~engram.server.inspector` — the read-only web inspector;
* :mod:`~engram.server.cli` — ``engram serve``, ``engram mcp``, ``engram keys``.

Importing this package needs no extra; :func:`create_app` needs ``[server]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engram.server.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from engram.server.app import create_app

        return create_app
    raise AttributeError(f"module 'engram.server' has no attribute {name!r}")
