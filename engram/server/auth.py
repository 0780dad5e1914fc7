"""API keys → tenants → memories. One store and one embedder serve every tenant.

A request names its key as ``Authorization: Bearer KEY``; the key's tenant picks the
:class:`~engram.AsyncMemory` the request works in, so nothing a handler does can reach
another tenant's rows (every store call is scoped by the memory's tenant). Without keys
configured the server runs keyless on loopback and every request works in the server's
default tenant; a key sent anyway is still checked and honoured.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer

from engram.aio import AsyncMemory
from engram.auth import verify_key
from engram.build import for_tenant
from engram.server.errors import ApiError
from engram.store.base import Store

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
MISSING_KEY = (
    "missing API key: send 'Authorization: Bearer KEY' (create a key with "
    "`engram keys create --tenant NAME`)"
)


class Tenants:
    """One :class:`AsyncMemory` per tenant, all made from the base memory (:func:`engram.build.for_tenant`):
    the same store, embedder, LLM, retention policy, recipe and clock.

    Memories are cheap views (no connection of their own); the most recently used
    ``cache_size`` are kept.
    """

    def __init__(self, base: AsyncMemory, *, cache_size: int = 1024) -> None:
        self.base = base
        self._cache: OrderedDict[str, AsyncMemory] = OrderedDict()
        self._cache_size = cache_size

    @property
    def store(self) -> Store:
        """The one store every tenant lives in."""
        return self.base.sync.store

    async def memory(self, tenant: str) -> AsyncMemory:
        """The memory of ``tenant``."""
        if tenant == self.base.tenant:
            return self.base
        memory = self._cache.get(tenant)
        if memory is None:
            # first use may load the embedder: keep that off the event loop
            memory = await asyncio.to_thread(self._make, tenant)
            self._cache[tenant] = memory
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(tenant)
        return memory

    def _make(self, tenant: str) -> AsyncMemory:
        return AsyncMemory(memory=for_tenant(self.base.sync, tenant))


@dataclass
class ServerState:
    """What the app's handlers share; lives on ``app.state.engram``."""

    tenants: Tenants
    require_keys: bool
    max_body_bytes: int
    max_import_bytes: int
    warmup_error: str | None = None
    extras: dict[str, object] = field(default_factory=dict)

    @property
    def base(self) -> AsyncMemory:
        return self.tenants.base


def get_state(request: Request) -> ServerState:
    """The server state of the app handling ``request``."""
    state: ServerState = request.app.state.engram
    return state


def bearer_secret(authorization: str | None) -> str | None:
    """The key in an ``Authorization`` header, ``None`` without one.

    Raises:
        ApiError: 401, the header is not ``Bearer KEY``.
    """
    if authorization is None:
        return None
    scheme, _, secret = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "unauthorized", "the Authorization header must be 'Bearer KEY'", _CHALLENGE)
    return secret.strip()


async def authenticate(state: ServerState, secret: str | None) -> str:
    """The tenant a request works in.

    Raises:
        ApiError: 401, no key where one is required, or an unknown or revoked key.
    """
    if secret is None:
        if state.require_keys:
            raise ApiError(401, "unauthorized", MISSING_KEY, _CHALLENGE)
        return state.base.tenant
    key = await asyncio.to_thread(verify_key, state.tenants.store, secret)
    if key is None:
        raise ApiError(401, "unauthorized", "unknown or revoked API key", _CHALLENGE)
    return key.tenant


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key made with `engram keys create --tenant NAME`; it selects the tenant.",
)


async def tenant_memory(request: Request, _declared: object = Security(_bearer)) -> AsyncMemory:
    """FastAPI dependency: the memory of the caller's tenant."""
    state = get_state(request)
    tenant = await authenticate(state, bearer_secret(request.headers.get("authorization")))
    return await state.tenants.memory(tenant)


#: Route parameter type: ``memory: TenantMemory``.
TenantMemory = Annotated[AsyncMemory, Depends(tenant_memory)]
