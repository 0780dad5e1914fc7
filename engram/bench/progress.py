"""A progress bar with an ETA on stderr; plain periodic lines when stderr is not a terminal."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    """``"1h02m"``, ``"4m05s"``, ``"12s"``."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class Progress:
    """Counts finished items and shows ``label [####----] 12/52 1m10s ETA 4m03s``.

    On a terminal the line is redrawn in place at most a few times a second; elsewhere (a
    log file under ``nohup``) a line is printed every ``log_every`` seconds and at the end.
    """

    def __init__(
        self,
        total: int,
        label: str,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        log_every: float = 30.0,
    ) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.log_every = log_every
        self.started = time.monotonic()
        self._last = 0.0
        self._lock = threading.Lock()

    def advance(self, n: int = 1) -> None:
        """Mark ``n`` more items finished."""
        with self._lock:
            self.done += n
            now = time.monotonic()
            interval = 0.2 if self.tty else self.log_every
            if self.done >= self.total or now - self._last >= interval:
                self._last = now
                self._draw()

    def line(self) -> str:
        """The current status line."""
        elapsed = time.monotonic() - self.started
        if self.done and self.total:
            eta = format_duration(elapsed / self.done * (self.total - self.done))
        else:
            eta = "?"
        width = 24
        filled = int(width * self.done / self.total) if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        return f"{self.label} [{bar}] {self.done}/{self.total} {format_duration(elapsed)} ETA {eta}"

    def _draw(self) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Finish the line."""
        if self.enabled and self.tty:
            self.stream.write("\r" + self.line() + "\n")
            self.stream.flush()
