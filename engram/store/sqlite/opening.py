"""Opening an SQLite store file: create it or refuse, read-only when it cannot be written.

- ``create=False`` and no file: :class:`~engram.errors.StoreNotFoundError`, and nothing is
  created (no folder, no file). Reads never create a store.
- A file, or a folder, this user cannot write is opened read-only (as is any file with
  ``read_only=True``): searches work, writes raise :class:`~engram.errors.StoreReadOnlyError`.
  SQLite reads a WAL database through its ``-shm`` file: ``mode=ro`` when the folder is
  writable or the ``-wal``/``-shm`` files exist, else ``immutable=1`` (in a read-only folder
  without them no WAL writer can be at work; an orphaned ``-wal`` without ``-shm`` is not seen).
- SQLite creates ``-wal`` and ``-shm`` with the database file's permissions, so reading a
  0444 file leaves 0444 ``-wal``/``-shm`` files behind (a read-only connection cannot remove
  them), and once the file is writable again every write fails on them. This user's own
  ``-wal``/``-shm`` files get their owner's write permission back on every open.
- Several processes may open a new file at once: migrations take the write lock before
  reading what is applied (:func:`~engram.store.sqlite.schema.migrate`), and a transient
  "database is locked" while opening (another opener switching the file to WAL or
  migrating) is retried until the busy timeout. Only a damaged file or a foreign database is
  called unusable (:class:`~engram.errors.CorruptStoreError`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
from pathlib import Path

from engram.errors import (
    CorruptStoreError,
    StoreBusyError,
    StoreError,
    StoreNotFoundError,
    StoreReadOnlyError,
)
from engram.store.sqlite.schema import check_compatible, migrate, pending_migrations
from engram.store.sqlite.transactions import map_error


def open_database(
    path: str, *, create: bool, read_only: bool, timeout: float, synchronous: str
) -> tuple[sqlite3.Connection, bool]:
    """A connection to an up-to-date Engram store at ``path``, and whether it is read-only.

    Raises:
        StoreNotFoundError: no file at ``path`` and ``create`` is false (or ``read_only``).
        StoreReadOnlyError: the file's folder cannot be created.
        StoreBusyError: another process kept the file locked past ``timeout``.
        CorruptStoreError: the file is damaged or another application's database.
        SchemaVersionError: the file was written by a newer Engram.
    """
    if path == ":memory:":
        conn = _connect(path, timeout)
        _prepare(conn, path, synchronous)
        return conn, False
    file = Path(path)
    if not file.exists():
        if not create or read_only:
            raise StoreNotFoundError(
                f"no Engram store at {path}; check the path (a typo?) or create one by adding memories"
            )
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreReadOnlyError(
                f"cannot create the folder of the store {path} ({exc.strerror}); choose a writable path"
            ) from exc
    elif file.is_dir():
        raise StoreError(f"{path} is a folder, not an Engram store: give the path of a file in it")
    writable = not read_only and (not file.exists() or _writable(file))
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        _repair_side_files(file)
        conn = _connect(path, timeout) if writable else _connect_read_only(file, timeout)
        try:
            if writable:
                _prepare(conn, path, synchronous)
            else:
                check_compatible(conn)
                if pending_migrations(conn):
                    raise StoreReadOnlyError(
                        f"the store {path} needs a schema upgrade but cannot be written: open it once "
                        "where it is writable (any command that writes upgrades it)"
                    )
                _repair_side_files(file)  # a read-only connection creates them with the file's mode
            return conn, not writable
        except (sqlite3.Error, StoreError) as exc:
            conn.close()
            error = map_error(exc, path) if isinstance(exc, sqlite3.Error) else exc
            if isinstance(error, StoreBusyError) and time.monotonic() + pause < deadline:
                time.sleep(pause)  # another opener is switching the file to WAL or migrating it
                pause = min(pause * 2, 0.2)
                continue
            if isinstance(error, CorruptStoreError) and isinstance(exc, sqlite3.Error):
                error = CorruptStoreError(f"cannot open {path} as an Engram store: {exc}")
            if error is exc:
                raise
            raise error from exc


def _prepare(conn: sqlite3.Connection, path: str, synchronous: str) -> None:
    check_compatible(conn)  # before any pragma that writes to the file
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA secure_delete=ON")  # deleted content is zeroed, not left in free pages
    conn.execute("PRAGMA foreign_keys=ON")
    migrate(conn, path)


def _connect(target: str, timeout: float, *, uri: bool = False) -> sqlite3.Connection:
    return sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=timeout, uri=uri)


def _connect_read_only(file: Path, timeout: float) -> sqlite3.Connection:
    folder_writable = os.access(file.parent, os.W_OK)
    side_files = all(Path(f"{file}{suffix}").exists() for suffix in ("-wal", "-shm"))
    mode = "mode=ro" if folder_writable or side_files else "mode=ro&immutable=1"
    return _connect(f"{file.resolve().as_uri()}?{mode}", timeout, uri=True)


def _writable(file: Path) -> bool:
    """Whether this user can write the store: the file, and its folder (or existing WAL files)."""
    if not os.access(file, os.W_OK):
        return False
    if os.access(file.parent, os.W_OK):
        return True
    sides = [Path(f"{file}{suffix}") for suffix in ("-wal", "-shm")]
    return all(side.exists() and os.access(side, os.W_OK) for side in sides)


def _repair_side_files(file: Path) -> None:
    """Give this user's ``-wal``/``-shm`` files of ``file`` their owner's write permission back."""
    for suffix in ("-wal", "-shm"):
        side = Path(f"{file}{suffix}")
        with contextlib.suppress(OSError):
            info = side.stat()
            if info.st_uid == os.geteuid() and not info.st_mode & stat.S_IWUSR:
                side.chmod(stat.S_IMODE(info.st_mode) | stat.S_IWUSR)
