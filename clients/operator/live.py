"""The operator's live view of an alarm: follows the alarm's storage feed and, as each new
live recording commits, releases it from the custodians (the same checked release as any
other, clients/operator/release.py), decrypts it and appends it to the camera's growing
live file. Pre-alarm recordings are left to ``release_alarm`` (console.py)."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients.api.errors import ServiceRefused
from clients.api.storage import StorageApi
from clients.common import signed_from_json
from clients.operator.console import (
    FETCH_WORKERS,
    Links,
    Released,
    ReleaseRefused,
    ReleaseResult,
    _append,
    _Batch,
    _key,
    _open,
    _recs,
    _release,
    _report,
    alarm,
)
from clients.operator.state import OperatorState
from clients.video import LiveFile
from common.time import now_ms
from crypto.metadata import RecordingKind
from crypto.statements import Purpose


@dataclass
class LiveSegment:
    """One recording of the feed, decrypted; times in ms on the wall clock."""

    released: Released
    end_ms: int  # end of the recording at the camera
    committed_ms: int  # committed at the storage service
    received_ms: int  # announced by the feed, at the operator
    released_ms: int  # t custodians had answered
    decrypted_ms: int  # decrypted at the operator (its plaintext file written)
    backlog: bool  # already committed when the feed was opened
    appended_ms: int = 0  # appended to the growing live file (remuxed by ffmpeg)

    @property
    def latency_ms(self) -> int:
        """Decrypted at the operator - end of the recording at the camera."""
        return self.decrypted_ms - self.end_ms


@dataclass
class LiveResult:
    segments: list[LiveSegment]
    ended: str  # why the feed ended
    pre_alarm: int = 0  # recordings of the feed left to release_alarm (ended before the trigger)
    warnings: list[str] = field(default_factory=list)  # receipts not delivered, ...


#: A ``live`` recording dated to end this much before the trigger is an earlier alarm's (in
#: this alarm's pre-alarm window), not this one's: a camera that dates its video from
#: ffmpeg's launch (before its runs were dated by their first listing, docs/CAMERA.md
#: "Dating") dates it up to ~0.4 s early, so this alarm's first live recording can end
#: "before" the trigger, but not by a second.
LIVE_DATING_SLACK_MS = 1000


def _pre_alarm(item: dict[str, Any], trigger_ms: int) -> bool:
    """A recording of the feed that :func:`release_alarm` released, not the live view: it
    ended before the trigger and is not a ``live`` recording of this alarm (a camera seals
    those only once it has seen the alarm, whatever their dated end; a live recording that
    ended well before the trigger was an earlier alarm's)."""
    end = int(item["end_ms"])
    if item.get("kind") == RecordingKind.LIVE:
        return end <= trigger_ms - LIVE_DATING_SLACK_MS
    return end <= trigger_ms


@dataclass(frozen=True, slots=True)
class _Msg:
    """What wakes the live view: a feed event, the feed's end, or a piece made ready."""

    kind: str  # "event", "eof" (the feed thread is done; ``error`` if it failed), "ready"
    name: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    received_ms: int = 0
    error: BaseException | None = None


def _follow(feed: StorageApi, alarm_id: str, timeout_s: float, inbox: queue.Queue[_Msg]) -> None:
    """The alarm's feed, read in its own thread (events keep arriving while a release is
    under way): each event goes to ``inbox`` with its arrival time, then one ``eof``."""
    try:
        for name, data in feed.alarm_feed(alarm_id, timeout_s):
            inbox.put(_Msg("event", name, data, now_ms()))
            if name == "end":
                break
    except BaseException as exc:  # handed to the live view's thread, raised there
        inbox.put(_Msg("eof", error=exc))
    else:
        inbox.put(_Msg("eof"))


@dataclass(frozen=True, slots=True)
class _InFlight:
    """A released piece being fetched, decrypted and appended."""

    item: dict[str, Any]
    received_ms: int
    released_ms: int
    done: Future[tuple[Released, int]]  # the piece, when it was appended


def _open_and_append(
    opened: Future[Released], append_to: Callable[[str], LiveFile]
) -> tuple[Released, int]:
    """(the appender thread) wait for a piece's plaintext, append it to the live file: the
    appender takes pieces in feed order, so the file grows in order whatever finished first."""
    out = opened.result()
    _append(out, append_to)
    return out, now_ms()


def live(
    state: OperatorState,
    alarm_id: str,
    out_dir: Path,
    *,
    on_segment: Callable[[LiveSegment], None] | None = None,
    on_skip: Callable[[dict[str, Any]], None] | None = None,
    max_segments: int | None = None,
    timeout_s: float = 1800.0,
) -> LiveResult:
    """Follow the alarm's live feed: release, decrypt and append to
    ``out_dir/<camera>-live.ts`` (remuxed to continue the file's clock, so it plays as one
    stream while it grows: :class:`clients.video.LiveFile`) each new recording.

    A pipeline, so that pieces do not queue behind each other: the feed is read in its own
    thread; everything it announced since the last release is released in one request per
    custodian (each receipt checked as for any release, the receipts posted to the
    customer's inbox in the background once the custodians not waited for have answered);
    payloads are fetched and decrypted :data:`FETCH_WORKERS` at a time while the next
    release is under way; one thread appends them to the live file in feed order. The
    header and presigned GET come with the feed's event (no request per piece). ``on_segment``
    is called in this thread, in feed order, once a piece is in the live file;
    ``LiveSegment.decrypted_ms`` is when its plaintext was written.

    The feed lists the whole alarm window, pre-alarm recordings first. Those that ended
    before the trigger are not released here (``on_skip`` is told of each): they are
    :func:`release_alarm`'s, which gets them in one batch; releasing them again would put
    every pre-alarm recording twice in the custodians' logs and hold up the first live
    segment behind them. A ``live`` recording is always released, whatever its dated end
    (:data:`LIVE_DATING_SLACK_MS`). A recording the feed lists twice (a reconnect) is
    released once. No more than ``max_segments`` are released."""
    a = alarm(state, alarm_id)
    site_id = a["site_id"]
    event = signed_from_json(a["event"])
    trigger = int(a["triggered_at_ms"])
    opened_ms = now_ms()
    out_dir.mkdir(parents=True, exist_ok=True)
    result = LiveResult([], "timeout")
    seen: set[tuple[str, str]] = set()
    live_files: dict[str, LiveFile] = {}

    def live_file(camera_id: str) -> LiveFile:
        if camera_id not in live_files:
            live_files[camera_id] = LiveFile(out_dir / f"{camera_id}-live.ts")
        return live_files[camera_id]

    inbox: queue.Queue[_Msg] = queue.Queue()
    waiting: list[tuple[dict[str, Any], int]] = []  # announced, not yet released
    pending: deque[_InFlight] = deque()  # released, in feed order
    reports: list[tuple[Future[None], ReleaseResult]] = []
    feed_over = False
    with contextlib.ExitStack() as stack:
        storage = stack.enter_context(state.storage())
        feed = stack.enter_context(state.storage(timeout=timeout_s))
        links = stack.enter_context(Links(state))
        pool = ThreadPoolExecutor(FETCH_WORKERS, thread_name_prefix="live-fetch")
        appender = ThreadPoolExecutor(1, thread_name_prefix="live-append")
        reporter = ThreadPoolExecutor(1, thread_name_prefix="live-receipts")
        threading.Thread(
            target=_follow, args=(feed, alarm_id, timeout_s, inbox), name="live-feed", daemon=True
        ).start()
        try:
            while True:
                msgs = [inbox.get()]
                with contextlib.suppress(queue.Empty):
                    while True:
                        msgs.append(inbox.get_nowait())
                for m in msgs:
                    if m.kind == "eof":
                        feed_over = True
                        if m.error is not None:
                            raise m.error
                    elif m.kind != "event" or feed_over:
                        continue
                    elif m.name == "end":
                        result.ended = str(m.data.get("reason", "end"))
                        feed_over = True
                        waiting.clear()  # access is over: they would be refused
                    elif m.name == "recording":
                        key = _key(m.data)
                        if key in seen:
                            continue
                        seen.add(key)
                        if _pre_alarm(m.data, trigger):
                            result.pre_alarm += 1
                            if on_skip is not None:
                                on_skip(m.data)
                            continue
                        waiting.append((m.data, m.received_ms))
                while pending and pending[0].done.done():
                    p = pending.popleft()
                    r, appended_ms = p.done.result()
                    committed = int(p.item.get("committed_ms", 0))
                    seg = LiveSegment(
                        r,
                        end_ms=int(p.item["end_ms"]),
                        committed_ms=committed,
                        received_ms=p.received_ms,
                        released_ms=p.released_ms,
                        decrypted_ms=r.decrypted_ms or appended_ms,
                        appended_ms=appended_ms,
                        backlog=committed < opened_ms,
                    )
                    result.segments.append(seg)
                    if on_segment is not None:
                        on_segment(seg)
                if max_segments is not None and len(result.segments) >= max_segments:
                    result.ended = "max_segments"
                    break
                room = len(waiting)
                if max_segments is not None:
                    room = min(room, max_segments - len(result.segments) - len(pending))
                if room > 0:
                    take, waiting = waiting[:room], waiting[room:]
                    batch: _Batch | None = None
                    try:
                        recs = _recs(storage, site_id, [i for i, _ in take], pool)
                        if recs:
                            batch = _release(
                                state,
                                storage,
                                site_id,
                                recs,
                                purpose=Purpose.ALARM_VERIFICATION,
                                justification=event,
                                links=links,
                            )
                    except (ServiceRefused, ReleaseRefused):
                        # A piece announced just before the access period closed is refused
                        # once it has closed: that ends the feed, not a failure. Anything
                        # else is.
                        if alarm(state, alarm_id).get("access_open", False):
                            raise
                        result.ended = "access_period_over"
                        feed_over = True
                        waiting.clear()
                    if batch is not None:
                        arrived = {_key(i): t for i, t in take}
                        for rec in recs:
                            opened = pool.submit(_open, rec, batch, out_dir, links.store)
                            done = appender.submit(_open_and_append, opened, live_file)
                            done.add_done_callback(lambda _: inbox.put(_Msg("ready")))
                            pending.append(
                                _InFlight(
                                    rec.item, arrived[_key(rec.item)], batch.released_ms, done
                                )
                            )
                        scratch = ReleaseResult([])
                        job = reporter.submit(_report, state, storage, site_id, batch, scratch)
                        reports.append((job, scratch))
                if feed_over and not pending and not waiting:
                    break
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            appender.shutdown(wait=False, cancel_futures=True)
            # every receipt reaches the customer's inbox, also when the view is interrupted
            reporter.shutdown(wait=True)
            for job, scratch in reports:
                if job.exception() is None:
                    result.warnings.extend(scratch.warnings)
                else:
                    result.warnings.append(f"release receipts not reported: {job.exception()}")
    return result
