"""Scrubbing what a forget deleted out of the store's files, and finishing it later if it must wait.

A forget deletes rows with ``secure_delete`` on (freed cells and pages are zeroed, in the
tables and in the full-text indexes' shadow tables alike) and merges the full-text indexes
(so no segment keeps a forgotten term). The deleted content may still be in the ``-wal``
file, and in the main file until the WAL is checkpointed into it: a ``wal_checkpoint
(TRUNCATE)`` copies the zeroed pages over it and empties the ``-wal`` file.

A checkpoint cannot complete while another connection reads an older snapshot. Then the
forget waits for readers, retrying with backoff up to the store's ``scrub_wait`` (5 s by
default), and if readers remain its receipt says ``scrub_pending=True``. The store records
the pending scrub in ``engram_meta`` (so another process, or the next run, finishes it) and
retries at the end of every later write transaction, on open, on close, and on
:meth:`ScrubMixin.finish_scrub`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable

from engram.errors import StoreBusyError
from engram.store.sqlite.transactions import map_error

_FLAG = "scrub_pending"


class ScrubMixin:
    """Checkpointing the WAL after forgets for :class:`SQLiteStore`."""

    _conn: sqlite3.Connection
    _lock: threading.RLock
    _scrub_pending: bool
    path: str
    location: str
    read_only: bool
    timeout: float
    scrub_wait: float
    atomic: Callable[..., contextlib.AbstractContextManager[None]]

    def finish_scrub(self, *, wait: float | None = None) -> bool:
        """Finish a forget's scrub: checkpoint the WAL into the file and truncate it.

        Args:
            wait: seconds to wait for readers to let go (default: the store's ``scrub_wait``).

        Returns:
            ``True`` when no forgotten content is left in the ``-wal`` file (nothing pending).
        """
        if not self._checkpoint(self.scrub_wait if wait is None else wait):
            return False
        with self._lock:
            self._scrub_pending = False
            if not self._scrub_flagged():
                return True
            with self.atomic():
                self._conn.execute("DELETE FROM engram_meta WHERE key=?", (_FLAG,))
        self._checkpoint(0)  # best effort: the frames left hold only the cleared flag
        return True

    def _scrub_after_forget(self) -> bool:
        """Checkpoint after a forget, waiting for readers; returns whether the scrub is still pending."""
        if self._checkpoint(self.scrub_wait):
            return False
        with self.atomic():  # recorded for another process or a later run; retried on commit
            self._conn.execute("INSERT OR REPLACE INTO engram_meta(key, value) VALUES (?, '1')", (_FLAG,))
        return self._scrub_pending

    def _scrub_flagged(self) -> bool:
        """Whether a forget (of any process) left its scrub pending."""
        with self._lock:
            return (
                self._conn.execute("SELECT 1 FROM engram_meta WHERE key=?", (_FLAG,)).fetchone() is not None
            )

    def _checkpoint(self, wait: float) -> bool:
        """Checkpoint the whole WAL into the file and truncate it, retrying while readers hold it.

        Each attempt is non-blocking (no busy handler): the lock is released between attempts.
        Returns whether it completed.
        """
        if self.path == ":memory:":
            return True
        if self.read_only:
            return False
        deadline = time.monotonic() + wait
        pause = 0.01
        while True:
            if self._checkpoint_once():
                return True
            if time.monotonic() + pause > deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.25)

    def _checkpoint_once(self) -> bool:
        with self._lock:
            if self._conn.in_transaction:
                return False  # never from inside a unit of work: it commits first
            self._conn.execute("PRAGMA busy_timeout=0")
            try:
                busy, log, copied = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.OperationalError as exc:
                if not isinstance(map_error(exc, self.location), StoreBusyError):
                    raise
                return False
            finally:
                self._conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        return bool(busy == 0 and log == copied)
