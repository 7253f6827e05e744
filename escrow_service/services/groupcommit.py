"""Group commit: concurrent requests that write the log share one writer transaction.

A request hands its job to :meth:`GroupCommit.submit` and waits. If no group is being
written, it leads: it takes every job queued so far (its own included, up to ``max_group``),
runs ``write(conn, jobs)`` in ONE :meth:`LogStore.writer` transaction and commits; the jobs
that arrive meanwhile queue and are written by the next leader, one of them. A job is
answered only after the transaction holding its writes committed (``write`` returns one result
per job, in order). No timer: a request alone is written at once, a burst is written in as
many transactions as the writer can take, each carrying what queued while the previous one
committed.

If a group's transaction fails (a database error, not a refusal, which ``write`` logs as the
job's outcome), every job of it is written again alone, so that only the failing one sees
the error. ``write`` must therefore have no effect outside the connection it is given.

The order of the log is the order in which leaders take their groups and, within a group,
the order of its jobs: arrival order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy import Connection

from escrow_service.services.tlog_store import LogStore

J = TypeVar("J")
R = TypeVar("R")

MAX_GROUP = 64


class _Slot(Generic[J, R]):
    __slots__ = ("done", "error", "job", "result", "wake")

    def __init__(self, job: J) -> None:
        self.job = job
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None
        self.wake = threading.Event()  # set when done, or when it is its turn to lead


class GroupCommit(Generic[J, R]):
    """Writes the jobs of concurrent callers in shared transactions (see the module doc).

    Each waiting caller sleeps on its own event: a leader wakes the callers it answered and
    the next one to lead (the oldest still queued), no one else."""

    def __init__(
        self,
        log: LogStore,
        write: Callable[[Connection, Sequence[J]], list[R]],
        max_group: int = MAX_GROUP,
    ) -> None:
        self._log = log
        self._write = write
        self._max_group = max_group
        self._lock = threading.Lock()
        self._queue: list[_Slot[J, R]] = []
        self._leading = False  # a leader is writing; the queue's head leads next

    def submit(self, job: J) -> R:
        """Write ``job`` (with whatever else is queued) and return its result once committed;
        raises what writing it alone raised."""
        slot: _Slot[J, R] = _Slot(job)
        with self._lock:
            self._queue.append(slot)
            lead = not self._leading
            self._leading = True
        if not lead:
            slot.wake.wait()
        if not slot.done:  # its turn to lead: it is the head of the queue
            with self._lock:
                group = self._queue[: self._max_group]
                del self._queue[: self._max_group]
            try:
                self._run(group)
            finally:
                for other in group:  # interrupted (not an Exception): no one waits for ever
                    if not other.done:
                        self._finish(other, None, RuntimeError("the group's writer stopped"))
                with self._lock:
                    if self._queue:
                        self._queue[0].wake.set()  # the next leader
                    else:
                        self._leading = False
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _run(self, group: list[_Slot[J, R]]) -> None:
        try:
            with self._log.writer() as conn:
                results = self._write(conn, [s.job for s in group])
        except Exception as exc:
            if len(group) == 1:
                self._finish(group[0], None, exc)
                return
            for slot in group:  # alone, so that only the failing job fails
                self._run([slot])
            return
        for slot, result in zip(group, results, strict=True):
            self._finish(slot, result, None)

    @staticmethod
    def _finish(slot: _Slot[J, R], result: R | None, error: BaseException | None) -> None:
        slot.result, slot.error, slot.done = result, error, True
        slot.wake.set()
