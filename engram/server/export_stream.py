"""Stream an export as it is written, without holding the whole file in memory.

:meth:`AsyncMemory.export` writes to a file object in a worker thread; :class:`ChunkPipe`
is that file object. It hands ~64 KiB chunks through a small bounded queue to the response,
so a slow client slows the export down instead of growing a buffer, and a client that goes
away stops it.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import IO, Any

CHUNK_BYTES = 64 * 1024
_END = object()


class _Cancelled(Exception):
    """The reader went away; the export stops at its next write."""


class ChunkPipe:
    """A write-only text file that is read, a chunk at a time, by an async iterator."""

    def __init__(self, depth: int = 8) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._buffer: list[str] = []
        self._size = 0
        self.cancelled = False

    def write(self, text: str) -> int:
        self._buffer.append(text)
        self._size += len(text)
        if self._size >= CHUNK_BYTES:
            self._put("".join(self._buffer))
            self._buffer, self._size = [], 0
        return len(text)

    def finish(self, error: BaseException | None) -> None:
        """Flush, then end the stream (with ``error`` if the writer failed)."""
        if error is None and self._buffer:
            self._put("".join(self._buffer))
        self._put(error if error is not None else _END)

    def _put(self, item: object) -> None:
        while True:
            if self.cancelled:
                raise _Cancelled
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    async def get(self) -> str | None:
        """The next chunk, ``None`` at the end; re-raises the writer's error."""
        item = await asyncio.to_thread(self._queue.get)
        if item is _END:
            return None
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, str)
        return item

    def cancel(self) -> None:
        self.cancelled = True
        while True:  # unblock a writer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return


async def stream_export(write: Callable[[IO[str]], Awaitable[Any]]) -> AsyncIterator[str]:
    """Run ``write(pipe)`` and iterate over what it writes.

    The first chunk (or the writer's error) is awaited before this returns, so a rejected
    export raises here, before any response has started.
    """
    pipe = ChunkPipe()

    async def produce() -> None:
        error: BaseException | None = None
        try:
            await write(pipe)  # type: ignore[arg-type]
        except _Cancelled:
            return
        except Exception as exc:
            error = exc
        try:
            await asyncio.to_thread(pipe.finish, error)
        except _Cancelled:
            return

    task = asyncio.create_task(produce())
    try:
        first = await pipe.get()
    except BaseException:
        pipe.cancel()
        await task
        raise

    async def chunks() -> AsyncIterator[str]:
        try:
            chunk = first
            while chunk is not None:
                yield chunk
                chunk = await pipe.get()
        finally:
            pipe.cancel()
            await task

    return chunks()
