"""The live feed of an alarm (SSE): the site's recordings inside the alarm's window, first
those already committed, then each new one as it is committed (a commit in this process wakes
the feed; commits made by other processes are found by the poll every ``sse_poll_interval_s``),
while the alarm's access period is open. Events carry what the justified recording route gives
(``RecordingDetail``: metadata, signed manifest, age header and a presigned GET), under the same
justification (an operator with role ``operator``, this alarm's access open, the recording in
its window): the live view needs no request per recording before asking the custodians.

Event ``recording`` (id = the recording's row id), comments as keep-alives, and a final
``end`` event with ``{"reason": "access_period_over" | "closed" | "cancelled" | "gone"}``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from common.time import now_ms
from storage_service.blobstore import BlobStore
from storage_service.core.settings import Settings
from storage_service.core.signals import CommitSignal
from storage_service.core.sse import sse_comment, sse_event
from storage_service.db.models import Alarm, Recording
from storage_service.services.arc_access import alarm_access_open, alarm_condition, camera_profiles
from storage_service.services.recordings import detail_out, recording_out

#: Commits are looked for from (last commit seen - SLACK_MS): a transaction that took a
#: commit time earlier but committed later than the previous poll is not missed.
SLACK_MS = 10_000
PAGE = 200


@dataclass(frozen=True, slots=True)
class _Poll:
    end_reason: str | None
    rows: list[Recording]
    until_ms: int


def _poll(engine: Engine, alarm_id: str, since_ms: int) -> _Poll:
    now = now_ms()
    with Session(engine) as s:
        alarm = s.get(Alarm, alarm_id)
        if alarm is None:
            return _Poll("gone", [], now)
        cond = alarm_condition(alarm, camera_profiles(s, alarm.site_id))
        rows = list(
            s.exec(
                select(Recording)
                .where(
                    cond,
                    col(Recording.deleted_ms).is_(None),
                    col(Recording.committed_ms) >= since_ms,
                )
                .order_by(col(Recording.committed_ms), col(Recording.id))
                .limit(PAGE)
            ).all()
        )
        reason = None
        if not alarm_access_open(alarm, now):
            reason = alarm.state if alarm.state in ("closed", "cancelled") else "access_period_over"
        return _Poll(reason, rows, alarm.access_until_ms)


async def alarm_feed(
    engine: Engine,
    settings: Settings,
    alarm_id: str,
    commits: tuple[CommitSignal, str] | None = None,
    store: BlobStore | None = None,
) -> AsyncIterator[bytes]:
    """The feed's events; ``commits`` (this process's commit signal and the alarm's site)
    wakes it between polls."""
    seen: dict[int, int] = {}
    watermark = 0
    last_sent = time.monotonic()
    yield b"retry: 2000\n\n"
    while True:
        generation = commits[0].generation(commits[1]) if commits is not None else 0
        poll = await run_in_threadpool(_poll, engine, alarm_id, max(0, watermark - SLACK_MS))
        if poll.end_reason is not None:  # nothing more is sent once access is over
            yield sse_event("end", json.dumps({"reason": poll.end_reason}), None)
            return
        fresh = [r for r in poll.rows if r.id not in seen]
        for r in fresh:
            seen[int(r.id or 0)] = r.committed_ms
            watermark = max(watermark, r.committed_ms)
            out = detail_out(r, store, settings) if store is not None else recording_out(r)
            yield sse_event("recording", out.model_dump_json(), str(r.id))
            last_sent = time.monotonic()
        if fresh and len(poll.rows) == PAGE:
            continue
        for rid, committed in list(seen.items()):
            if committed < watermark - 2 * SLACK_MS:
                del seen[rid]
        if time.monotonic() - last_sent >= settings.sse_keepalive_s:
            yield sse_comment("keepalive")
            last_sent = time.monotonic()
        remaining_s = max(0.0, (poll.until_ms - now_ms()) / 1000)
        pause = min(settings.sse_poll_interval_s, remaining_s + 0.05)
        if commits is None:
            await asyncio.sleep(pause)
        else:
            await commits[0].wait(commits[1], generation, pause)
