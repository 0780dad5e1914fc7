"""Opening a store from what a user names: an SQLite file path or a ``postgresql://`` URL.

Every entry point (``Memory(...)``, ``engram --db``, ``engram serve --db``, ``$ENGRAM_DB``,
the settings file, ``engram bench --store``) goes through :func:`open_store_at`, so a URL
opens the PostgreSQL store everywhere and a path the SQLite file everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engram.store.base import Store

#: What names a store: a file path, or a database URL.
StoreTarget = str | os.PathLike[str]

_URL_SCHEMES = ("postgresql://", "postgres://")


def is_store_url(target: Any) -> bool:
    """Whether ``target`` is a PostgreSQL URL (not a file path)."""
    return isinstance(target, str) and target.startswith(_URL_SCHEMES)


def as_target(value: Any) -> Path | str:
    """A URL stays a string; anything else is a file path."""
    return value if is_store_url(value) else Path(value)


def store_exists(target: StoreTarget) -> bool:
    """Whether there is a store at ``target`` to open without creating one.

    A URL names a database on a server: it is checked when it is opened (a database that does
    not exist raises :class:`~engram.errors.StoreNotFoundError` then).
    """
    if is_store_url(target) or str(target) == ":memory:":
        return True
    return Path(target).exists()


def open_store_at(target: StoreTarget, *, create: bool = True, **options: Any) -> Store:
    """The store at ``target``: :class:`~engram.store.postgres.PostgresStore` for a URL, else
    :class:`~engram.store.sqlite.SQLiteStore` (``create=False``: a missing file is an error).

    ``options`` go to the store's constructor. On PostgreSQL the database must exist (the
    schema is created in it when missing): ``create`` does not create databases.
    """
    if is_store_url(target):
        from engram.store.postgres import PostgresStore

        return PostgresStore(str(target), **options)
    from engram.store.sqlite import SQLiteStore

    return SQLiteStore(target, create=create, **options)
