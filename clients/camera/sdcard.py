"""The optional local "SD card": the same age files the camera uploads (header || payload,
readable by the customer with ``age -d -i identity``), kept under their own retention.

A card holds about 300,000 files after 7 days of 2 s segments, so the card is listed (one
``stat`` per file) only by a sweep, at start and then at most every ``check_s``: files older
than the retention go then, up to ``check_s`` late. ``max_bytes`` is kept at every store
without listing the card: a sweep counts the bytes on the card and remembers its oldest
files, each store adds its size, and a store that takes the card over the limit deletes the
remembered oldest files (a new sweep once they are used up).

Files deleted by hand make that count too high until the next listing, and a store would
then delete old recordings it did not need to. So before deleting, a store re-lists the card
once when the card changed behind the agent's back: its directory's mtime is not the one the
agent's own last change (or listing) left, or a remembered oldest file is already gone. The
mtime check costs one ``stat`` of the directory per store; it misses a change made within
the same timestamp tick as the agent's own (2 s on FAT), and such a count is then put right
by the "already gone" check or the next sweep.
"""

from __future__ import annotations

import heapq
import logging
import os
import shutil
import time
from collections import deque
from pathlib import Path

from clients.camera.seal import Sealed

log = logging.getLogger("camvault.camera")

SUFFIX = ".age"
#: Oldest files a sweep remembers for ``max_bytes`` (bounded memory however full the card).
OLDEST_REMEMBERED = 1024


class SdCard:
    def __init__(
        self,
        path: Path,
        retention_s: float,
        max_bytes: int | None = None,
        check_s: float = 60.0,
    ) -> None:
        self.path = path
        self.retention_s = retention_s
        self.max_bytes = max_bytes
        self.check_s = check_s
        self.sweeps = 0  # full listings of the card so far (for tests and logs)
        self._next_sweep: float | None = None  # monotonic time; None: the first call sweeps
        self._bytes = 0  # bytes on the card, as of the last sweep plus the stores since
        self._oldest: deque[tuple[float, str, int]] = deque()  # (mtime, name, size), oldest first
        self._dir_mtime_ns: int | None = None  # the card directory's mtime after our last change
        path.mkdir(parents=True, exist_ok=True)

    def store(self, sealed: Sealed) -> Path:
        dst = self.path / f"{sealed.recording_id}.{sealed.kind.value}{SUFFIX}"
        tmp = dst.with_name(dst.name + ".tmp")
        stale = self._changed_behind_us()  # before our own copy changes the directory
        shutil.copyfile(sealed.file, tmp)
        os.replace(tmp, dst)
        self._bytes += dst.stat().st_size
        self._shrink(stale)
        self._dir_mtime_ns = self._dir_mtime()
        return dst

    def files(self) -> list[Path]:
        """The card's recordings, oldest first (lists the whole card)."""
        return sorted(self.path.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime)

    def maybe_sweep(self, clock: float | None = None, now: float | None = None) -> int | None:
        """Sweep unless one ran less than ``check_s`` ago (``clock``: monotonic seconds);
        the number of files removed, or None when no sweep was due."""
        clock = time.monotonic() if clock is None else clock
        if self._next_sweep is not None and clock < self._next_sweep:
            return None
        return self.sweep(clock, now)

    def sweep(self, clock: float | None = None, now: float | None = None) -> int:
        """List the card once: delete files older than the retention (``now``: wall-clock
        seconds, compared with the files' mtime), then the oldest while over ``max_bytes``."""
        clock = time.monotonic() if clock is None else clock
        self._next_sweep = clock + self.check_s
        removed = self._list(time.time() if now is None else now)
        removed += self._shrink()
        self._dir_mtime_ns = self._dir_mtime()
        if removed:
            log.info("sd card: %d files removed, %d bytes kept", removed, self._bytes)
        return removed

    def _list(self, now: float) -> int:
        self.sweeps += 1
        kept: list[tuple[float, str, int]] = []
        removed = 0
        with os.scandir(self.path) as entries:
            for e in entries:
                if not e.name.endswith(SUFFIX) or not e.is_file(follow_symlinks=False):
                    continue
                try:
                    st = e.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if now - st.st_mtime > self.retention_s:
                    Path(e.path).unlink(missing_ok=True)
                    removed += 1
                else:
                    kept.append((st.st_mtime, e.name, st.st_size))
        self._bytes = sum(size for _, _, size in kept)
        self._oldest = deque(
            heapq.nsmallest(OLDEST_REMEMBERED, kept) if self.max_bytes is not None else ()
        )
        self._dir_mtime_ns = self._dir_mtime()  # the count is right as of this mtime
        return removed

    def _shrink(self, stale: bool = False) -> int:
        """Delete the oldest files while the card is over ``max_bytes``; ``stale``: the
        count may be wrong (the card changed behind our back), list the card before deleting
        anything."""
        removed = 0
        while self.max_bytes is not None and self._bytes > self.max_bytes:
            if stale or not self._oldest:  # a wrong count, or the remembered ones used up
                stale = False
                removed += self._list(time.time())
                if not self._oldest:
                    break
                continue
            _, name, size = self._oldest.popleft()
            try:
                (self.path / name).unlink()
            except FileNotFoundError:  # deleted by hand: the count is stale, look again
                log.info("sd card: %s already gone, listing the card again", name)
                stale = True
                continue
            self._bytes -= size
            removed += 1
        return removed

    def _dir_mtime(self) -> int | None:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return None

    def _changed_behind_us(self) -> bool:
        """Whether the card's directory changed since our last change or listing."""
        if self.max_bytes is None or self._dir_mtime_ns is None:
            return False
        return self._dir_mtime() != self._dir_mtime_ns

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.path).free
