"""``engram serve``, ``engram mcp`` and ``engram keys``: click commands over the server package.

They are registered in the main ``engram`` group (which maps errors to exit codes once) and
work standalone too. Each takes ``--db``; without it they use the group's ``--db``, else the
settings (``ENGRAM_DB``, the settings file), else :func:`engram.default_path`. ``serve``, ``mcp``
and ``keys create`` create a missing store (a server accepts writes); ``keys list`` and ``keys
revoke`` only read, so a missing store is an error (exit 4). Nothing here imports FastAPI, uvicorn or
the MCP SDK until a command that needs them runs, so ``engram --help`` works without extras.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path
from typing import Any

import click

from engram.build import build_memory, close_memory, open_store, store_path
from engram.cli.base import StoreOption
from engram.errors import install_hint, require
from engram.model.keys import ApiKey
from engram.model.timeutil import iso, iso_or_none
from engram.settings import EngramSettings, load_settings
from engram.store.opening import store_exists

#: Hosts a keyless server may bind to (and the Host headers it accepts).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
DEFAULT_PORT = 8765

_db_option = click.option(
    "--db",
    type=StoreOption(),
    default=None,
    help="The store file, or a postgresql:// URL. Default: the engram group's --db, else $ENGRAM_DB, else the settings "
    "file's, else engram.db in the user data directory.",
)


def _settings(ctx: click.Context, db: Path | str | None, tenant: str | None = None) -> EngramSettings:
    """The settings, with this command's --db / --tenant over the engram group's options."""
    explicit = dict(getattr(ctx.find_root().obj, "explicit", None) or {})  # engram --db PATH serve
    if db is not None:
        explicit["db"] = db
    if tenant is not None:
        explicit["tenant"] = tenant
    return load_settings(**explicit)


def _note(message: str) -> None:
    click.echo(message, err=True)


def _open_memory(settings: EngramSettings) -> Any:
    """The server's base memory. A server accepts writes, so it creates a missing store."""
    from engram.aio import AsyncMemory

    path = store_path(settings)
    if not store_exists(path):
        _note(f"engram: no store at {path}: creating a new, empty one")
    return AsyncMemory(memory=build_memory(settings, create=True))


@click.command("serve")
@_db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option("--tenant", default=None, metavar="NAME",
              help="The tenant keyless requests work in (only while no API key exists). "
              "Default: the engram group's --tenant, else $ENGRAM_TENANT, else 'default'.")
@click.option("--max-body-bytes", default=8 * 1024 * 1024, show_default=True, type=click.IntRange(1024),
              help="Largest request body; larger ones get 413.")
@click.option("--mcp/--no-mcp", "with_mcp", default=True, show_default=True, help="Serve MCP over HTTP at /mcp.")
@click.option("--inspector/--no-inspector", default=True, show_default=True, help="Serve the inspector at /.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.pass_context
def serve_command(
    ctx: click.Context,
    db: Path | str | None,
    host: str,
    port: int,
    tenant: str | None,
    max_body_bytes: int,
    with_mcp: bool,
    inspector: bool,
    log_level: str,
) -> None:
    """Serve memory over HTTP: REST API (/v1, reference at /docs), MCP (/mcp) and the inspector (/).

    \b
    With API keys in the store (engram keys create --tenant NAME), every request needs
    'Authorization: Bearer KEY' and sees only its key's tenant. With none, the server
    runs without authentication and binds to 127.0.0.1 only, whatever --host says.
    """
    uvicorn = require("uvicorn", feature="engram serve", extra="server")
    from engram.server.app import create_app

    settings = _settings(ctx, db, tenant)
    path, tenant = store_path(settings), settings.tenant
    memory = _open_memory(settings)
    try:
        active = [key for key in memory.sync.store.list_api_keys() if key.active]
        allowed_hosts: list[str] | None = None
        if active:
            _note(f"{len(active)} active API key(s): every /v1 and /mcp request needs 'Authorization: Bearer KEY'")
        else:
            if host not in LOOPBACK_HOSTS:
                _note(f"no API keys configured: binding to 127.0.0.1 instead of {host}")
                host = "127.0.0.1"
            allowed_hosts = list(LOOPBACK_HOSTS)
            _note(
                "no API keys configured: serving WITHOUT authentication on loopback only, in tenant "
                f"{tenant!r}. Create a key (engram keys create --tenant NAME) to require keys and "
                "serve other interfaces."
            )
        if with_mcp and importlib.util.find_spec("mcp") is None:
            _note(f"MCP over HTTP is off: {install_hint('mcp')} to serve /mcp")
            with_mcp = False
        app = create_app(
            memory,
            require_keys=bool(active),
            max_body_bytes=max_body_bytes,
            allowed_hosts=allowed_hosts,
            mcp=with_mcp,
            inspector=inspector,
        )
        _note(f"engram: serving {path} at http://{host}:{port} (docs /docs, MCP /mcp, inspector /)")
        uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)
    finally:
        close_memory(memory.sync)


@click.command("mcp")
@_db_option
@click.option("--tenant", default=None, metavar="NAME",
              help="The tenant the tools work in. Default: the engram group's --tenant, else 'default'.")
@click.pass_context
def mcp_command(ctx: click.Context, db: Path | str | None, tenant: str | None) -> None:
    """Serve memory to an agent as MCP tools over stdio (remember, recall, context, forget).

    \b
    For a desktop agent's config: {"command": "engram", "args": ["mcp", "--db", "/path/engram.db"]}
    """
    from engram.server.mcp import run_stdio

    memory = _open_memory(_settings(ctx, db, tenant))
    try:
        asyncio.run(run_stdio(memory))
    finally:
        close_memory(memory.sync)


@click.group("keys")
def keys_group() -> None:
    """Create, list and revoke API keys for `engram serve`. Keys are stored hashed."""


def _open_store(ctx: click.Context, db: Path | str | None, *, create: bool = False) -> Any:
    """The store, for key management; only ``keys create`` may create it."""
    return open_store(_settings(ctx, db), create=create)


def _key_dict(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "tenant": key.tenant,
        "label": key.label,
        "prefix": key.prefix,
        "created_at": iso(key.created_at),
        "revoked_at": iso_or_none(key.revoked_at),
        "active": key.active,
    }


@keys_group.command("create")
@_db_option
@click.option("--tenant", required=True, metavar="NAME", help="The tenant the key opens.")
@click.option("--label", default=None, help="A note to recognise the key by.")
@click.pass_context
def keys_create(ctx: click.Context, db: Path | str | None, tenant: str, label: str | None) -> None:
    """Make a key for TENANT and print it, once: only its hash is stored."""
    from engram.auth import create_key

    store = _open_store(ctx, db, create=True)
    try:
        key, secret = create_key(store, tenant, label)
    finally:
        store.close()
    click.echo(secret)
    _note(f"created {key.id} for tenant {key.tenant!r}. Save the key now: it cannot be shown again.")


@keys_group.command("list")
@_db_option
@click.option("--tenant", default=None, metavar="NAME", help="Only this tenant's keys.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def keys_list(ctx: click.Context, db: Path | str | None, tenant: str | None, as_json: bool) -> None:
    """List keys (never their secrets): id, tenant, label, prefix, created, status."""
    store = _open_store(ctx, db)
    try:
        keys = store.list_api_keys(tenant)
    finally:
        store.close()
    if as_json or getattr(ctx.find_root().obj, "json", False):
        click.echo(json.dumps([_key_dict(key) for key in keys], indent=2))
        return
    if not keys:
        _note("no API keys; create one with: engram keys create --tenant NAME")
        return
    for key in keys:
        status = "active" if key.active else f"revoked {iso(key.revoked_at) if key.revoked_at else ''}"
        click.echo(f"{key.id}  {key.tenant}  {key.prefix}…  {iso(key.created_at)}  {status}  {key.label or ''}".rstrip())


@keys_group.command("revoke")
@_db_option
@click.argument("key_id")
@click.pass_context
def keys_revoke(ctx: click.Context, db: Path | str | None, key_id: str) -> None:
    """Revoke KEY_ID (from `engram keys list`); requests with it fail from now on."""
    from engram.auth import revoke_key

    store = _open_store(ctx, db)
    try:
        key = revoke_key(store, key_id)
    finally:
        store.close()
    _note(f"revoked {key.id} (tenant {key.tenant!r})")


#: What the main ``engram`` group registers.
COMMANDS = [serve_command, mcp_command, keys_group]
