"""Connections, transactions and error mapping for the PostgreSQL store.

One :class:`Database` per store: a psycopg connection pool. A unit of work
(:meth:`Database.atomic`) holds one pooled connection in a transaction for the thread that
opened it; the store's methods called inside it (on that thread) use the same connection, and
a nested ``atomic`` is a savepoint. Outside a unit of work a read borrows a connection for
one statement batch (autocommit). ``durable=False`` commits without waiting for the WAL flush
(``synchronous_commit = off`` for that transaction): derived state that can be rebuilt.

Every psycopg error leaving the store goes through :func:`map_error` once, onto
:mod:`engram.errors`' tree, with a message that names the database (without its password):

==============================================================  =======================
PostgreSQL                                                      Engram
==============================================================  =======================
serialization failure, deadlock, lock timeout, too many conns   StoreBusyError
disk full (53100)                                               StoreFullError
read-only transaction (hot standby), insufficient privilege     StoreReadOnlyError
data or index corrupted (XX001, XX002)                          CorruptStoreError
cannot connect, anything else                                   StoreError
==============================================================  =======================
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from engram.errors import (
    CorruptStoreError,
    EngramError,
    StoreBusyError,
    StoreError,
    StoreFullError,
    StoreNotFoundError,
    StoreReadOnlyError,
)

_Class = TypeVar("_Class", bound=type)

_BUSY = {"40001", "40P01", "55P03", "53300", "57014", "57P03"}
_READ_ONLY = {"25006", "42501"}
_CORRUPT = {"XX001", "XX002"}


def redacted(url: str) -> str:
    """``url`` without its password, for messages."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        parts = conninfo_to_dict(url)
    except Exception:
        return "postgresql://..."
    if "password" in parts:
        parts["password"] = "***"
    host = parts.get("host", "")
    port = f":{parts['port']}" if parts.get("port") else ""
    user = f"{parts['user']}@" if parts.get("user") else ""
    if url.startswith(("postgresql://", "postgres://")):
        return f"postgresql://{user}{'' if str(host).startswith('/') else host}{port}/{parts.get('dbname', '')}"
    return make_conninfo("", **parts)


def map_error(exc: BaseException, location: str) -> StoreError:
    """The :class:`~engram.errors.StoreError` that says what a psycopg error means for the store."""
    state = getattr(exc, "sqlstate", None) or ""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if state in _BUSY:
        return StoreBusyError(
            f"the store {location} is busy ({text}): another worker held a lock, or the server is "
            "out of connections. Retry in a moment."
        )
    if state == "53100":
        return StoreFullError(
            f"the store {location} could not be written: the server's disk is full. Nothing of this "
            "write was kept; free some space and retry."
        )
    if state in _READ_ONLY:
        return StoreReadOnlyError(
            f"the store {location} cannot be written ({text}): it is a read-only replica or the "
            "role lacks the privilege. Searches work; connect to the primary to write."
        )
    if state in _CORRUPT:
        return CorruptStoreError(f"the store {location} is damaged ({text}); restore it from a backup")
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return StoreNotFoundError(
            f"no database at {location} ({text}); create it (createdb) or check the URL in --db / $ENGRAM_DB"
        )
    if not state and _is_connection_error(exc):
        return StoreError(
            f"cannot reach the store {location} ({text}): check that the server is running and the URL "
            "in --db / $ENGRAM_DB is right"
        )
    return StoreError(f"the store {location} failed: {text}")


def _is_connection_error(exc: BaseException) -> bool:
    import psycopg
    import psycopg_pool

    return isinstance(exc, psycopg.OperationalError | psycopg_pool.PoolTimeout)


def _is_backend_error(exc: BaseException) -> bool:
    import psycopg
    import psycopg_pool

    return isinstance(exc, psycopg.Error | psycopg_pool.PoolTimeout)


class Database:
    """A pool of connections to one database, and the unit-of-work helper on it."""

    def __init__(self, url: str, location: str, *, min_size: int, max_size: int, timeout: float) -> None:
        from pgvector.psycopg import register_vector
        from psycopg_pool import ConnectionPool

        def configure(conn: Any) -> None:
            register_vector(conn)
            conn.autocommit = True

        self.location = location
        self._local = threading.local()
        self.pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            configure=configure,
            open=False,
            kwargs={"application_name": "engram"},
        )
        self.pool.open(wait=True, timeout=timeout)

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        """The thread's connection inside a unit of work, else one borrowed from the pool."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        with self.pool.connection() as conn:
            yield conn

    @contextlib.contextmanager
    def atomic(self, *, durable: bool = True) -> Iterator[Any]:
        """A transaction (a savepoint when nested) on the thread's connection."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            with current.transaction():
                yield current
            return
        with self.pool.connection() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    if not durable:
                        conn.execute("SET LOCAL synchronous_commit = off")
                    yield conn
            finally:
                self._local.conn = None

    def close(self) -> None:
        self.pool.close()


def maps_errors(cls: _Class) -> _Class:
    """Class decorator: every public method (generators included) raises psycopg errors mapped.

    The instance's ``location`` names the store in the messages.
    """
    for name in dir(cls):
        member = inspect.getattr_static(cls, name)
        if name.startswith("_") or not inspect.isfunction(member) or getattr(member, "_maps_errors", False):
            continue
        setattr(cls, name, _mapped(member))
    return cls


def _translate(exc: BaseException, location: str) -> BaseException | None:
    if isinstance(exc, EngramError) or not _is_backend_error(exc):
        return None
    return map_error(exc, location)


def _mapped(method: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                yield from method(self, *args, **kwargs)
            except Exception as exc:
                mapped = _translate(exc, self.location)
                if mapped is None:
                    raise
                raise mapped from exc

        wrapped: Callable[..., Any] = generator
    else:

        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                mapped = _translate(exc, self.location)
                if mapped is None:
                    raise
                raise mapped from exc

        wrapped = call
    wrapped._maps_errors = True  # type: ignore[attr-defined]
    return wrapped
