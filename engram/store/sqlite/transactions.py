"""Transactions and error mapping for the SQLite store: the one boundary SQLite errors cross.

Every write runs inside :func:`transaction`: ``BEGIN IMMEDIATE`` at the outermost level (the
write lock is taken up front, so a transaction never fails half-way on a lock upgrade), a
``SAVEPOINT`` when nested. On an error the work is rolled back only if SQLite still has a
transaction open (after ``SQLITE_FULL`` or an I/O error SQLite may have rolled back itself,
and a second ``ROLLBACK`` would replace the real error with "no transaction is active"),
and the original error is re-raised.

Every ``sqlite3`` error leaving the store goes through :func:`map_error` once, onto
:mod:`engram.errors`' tree, with a message that names the file and the next step:

==========================================  =======================
SQLite                                      Engram
==========================================  =======================
BUSY / LOCKED ("database is locked")        StoreBusyError
FULL ("database or disk is full")           StoreFullError
READONLY, PERM, CANTOPEN on a write         StoreReadOnlyError
CORRUPT, NOTADB                             CorruptStoreError
IOERR ("disk I/O error") and anything else  StoreError
==========================================  =======================

:func:`maps_errors` applies the mapping to every public method of a store class, so reads
are covered as well as writes at the cost of one ``try`` per call.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from engram.errors import (
    CorruptStoreError,
    StoreBusyError,
    StoreError,
    StoreFullError,
    StoreReadOnlyError,
)

_savepoints = itertools.count()
_Class = TypeVar("_Class", bound=type)


def map_error(exc: sqlite3.Error, location: str) -> StoreError:
    """The :class:`~engram.errors.StoreError` that says what ``exc`` means for the store at ``location``."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    lowered = text.lower()
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in lowered or "busy" in lowered:
        return StoreBusyError(
            f"the store {location} is locked: another process (or connection) held it longer than the "
            "busy timeout. Retry in a moment, or open the store with a longer timeout."
        )
    if primary == sqlite3.SQLITE_FULL or "disk is full" in lowered:
        return StoreFullError(
            f"the store {location} could not be written: the disk (or the database's size limit) is full. "
            "Nothing of this write was kept; free some space and retry."
        )
    if primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM) or "readonly" in lowered:
        return read_only_error(location)
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in lowered:
        return CorruptStoreError(
            f"the store {location} is damaged or not an SQLite database ({text}). Restore it from a "
            "backup, or recover what is readable with the sqlite3 shell's .recover."
        )
    if primary == sqlite3.SQLITE_CANTOPEN:
        return StoreError(
            f"cannot open the store {location} ({text}): check that the path and its folder exist "
            "and can be read and written."
        )
    if primary == sqlite3.SQLITE_IOERR or "i/o error" in lowered:
        return StoreError(
            f"the disk failed to read or write the store {location} ({text}). Check the disk and "
            "retry; nothing of a failed write was kept."
        )
    return StoreError(f"the store {location} failed: {text}")


def read_only_error(location: str) -> StoreReadOnlyError:
    """The error a write to a store that cannot be written raises."""
    return StoreReadOnlyError(
        f"the store {location} is read-only (the file or its folder cannot be written by this "
        "user, or it was opened read-only): searches work, writes do not. Make the file and its "
        "folder writable, or copy the store somewhere writable, to change it."
    )


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, location: str) -> Iterator[None]:
    """A unit of work on ``conn``: ``BEGIN IMMEDIATE`` at the outermost level, a savepoint inside.

    Commits (or releases) on success. On any error rolls back what is still open and
    re-raises the original error, an SQLite one mapped by :func:`map_error`.
    """
    try:
        if conn.in_transaction:
            name = f"engram_{next(_savepoints)}"
            conn.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                _quietly(conn, f"ROLLBACK TO {name}", f"RELEASE {name}")
                raise
            conn.execute(f"RELEASE {name}")
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            _quietly(conn, "ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise map_error(exc, location) from exc


def _quietly(conn: sqlite3.Connection, *statements: str) -> None:
    """Run rollback statements if a transaction is still open, never hiding the error being raised."""
    for statement in statements:
        if not conn.in_transaction:
            return
        with contextlib.suppress(sqlite3.Error):
            conn.execute(statement)


def maps_errors(cls: _Class) -> _Class:
    """Class decorator: every public method (generators included) raises SQLite errors mapped.

    The instance's ``location`` names the store in the messages.
    """
    for name in dir(cls):
        member = inspect.getattr_static(cls, name)  # resolved along the MRO, as a call would
        if name.startswith("_") or not inspect.isfunction(member) or getattr(member, "_maps_errors", False):
            continue
        setattr(cls, name, _mapped(member))
    return cls


def _mapped(method: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                yield from method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise map_error(exc, self.location) from exc

        wrapped: Callable[..., Any] = generator
    else:

        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise map_error(exc, self.location) from exc

        wrapped = call
    wrapped._maps_errors = True  # type: ignore[attr-defined]
    return wrapped
