"""In-process wake-ups: a committed recording wakes the live feeds (SSE) of this process at
once instead of at their next database poll.

The database stays the source of truth: a feed still polls every ``sse_poll_interval_s``,
which is what carries commits made by another worker process or another replica. The
signal only shortens the wait in the common single-process case; losing one (a waiter
registered a moment too late) costs at most one poll interval, never an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class CommitSignal:
    """A generation counter that async waiters can sleep on; ``notify`` from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    @property
    def generation(self) -> int:
        return self._generation

    def notify(self) -> None:
        """Something was committed: wake every waiter (safe from worker threads)."""
        with self._lock:
            self._generation += 1
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
                loop.call_soon_threadsafe(event.set)

    async def wait(self, seen: int, timeout_s: float) -> bool:
        """Sleep until a commit after generation ``seen`` or ``timeout_s``; True if woken."""
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._lock:
            if self._generation != seen:
                return True
            self._waiters.append(entry)
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove(entry)
