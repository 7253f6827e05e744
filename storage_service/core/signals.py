"""In-process wake-ups: a committed recording wakes the live feeds (SSE) of its site in this
process at once instead of at their next database poll.

The database stays the source of truth: a feed still polls every ``sse_poll_interval_s``,
which is what carries commits made by another worker process or another replica. The
signal only shortens the wait in the common single-process case; losing one (a waiter
registered a moment too late) costs at most one poll interval, never an event. Signals are
per site: a commit wakes only the feeds that can show it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

_Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Event]


class CommitSignal:
    """Per-site generation counters that async waiters sleep on; ``notify`` from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generations: dict[str, int] = {}
        self._waiters: dict[str, list[_Waiter]] = {}

    def generation(self, site_id: str) -> int:
        with self._lock:
            return self._generations.get(site_id, 0)

    def notify(self, site_id: str) -> None:
        """Something of ``site_id`` was committed: wake its waiters (safe from worker threads)."""
        with self._lock:
            self._generations[site_id] = self._generations.get(site_id, 0) + 1
            waiters = self._waiters.pop(site_id, [])
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
                loop.call_soon_threadsafe(event.set)

    async def wait(self, site_id: str, seen: int, timeout_s: float) -> bool:
        """Sleep until a commit of ``site_id`` after generation ``seen``, or ``timeout_s``;
        True if woken by a commit."""
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._lock:
            if self._generations.get(site_id, 0) != seen:
                return True
            self._waiters.setdefault(site_id, []).append(entry)
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                waiters = self._waiters.get(site_id, [])
                with contextlib.suppress(ValueError):
                    waiters.remove(entry)
                if not waiters:
                    self._waiters.pop(site_id, None)
