"""A commit wakes the live feeds of the service process at once (storage_service.core.signals);
the database poll (``sse_poll_interval_s``) stays the fallback for other processes.

The service here polls only every 60 s, so a recording that reaches the operator within a
few seconds of its commit can only have come through the wake-up."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

import pytest

from common.time import now_ms
from storage_service.core.signals import CommitSignal
from tests.storage.support import Service, create_site
from tests.storage.support_arc import enroll_panel, operator, read_sse, start

POLL_S = 60


@pytest.fixture(scope="module")
def slow_poll(request: pytest.FixtureRequest) -> Iterator[Service]:
    yield from start(request, "embedded", CAMVAULT_SSE_POLL_INTERVAL_S=str(POLL_S))


def test_a_commit_reaches_an_open_feed_without_waiting_for_the_poll(slow_poll: Service) -> None:
    site = create_site(slow_poll.url)
    cam = site.enroll_camera()
    panel = enroll_panel(site)
    a = panel.raise_alarm()
    op = operator(slow_poll)
    rec = cam.record(b"live segment " * 500, start_ms=now_ms() - 1000)
    committed_at: list[float] = []

    def upload_soon() -> None:
        time.sleep(1.5)  # the feed has polled once (nothing) and sleeps for POLL_S
        assert cam.upload(rec).status_code == 201
        committed_at.append(time.monotonic())

    t = threading.Thread(target=upload_soon)
    t.start()
    events = read_sse(op, f"/v1/alarms/{a['alarm_id']}/feed", until="recording", timeout_s=30)
    arrived = time.monotonic()
    t.join()
    assert [d["recording_id"] for name, d, _ in events if name == "recording"] == [rec.recording_id]
    assert arrived - committed_at[0] < POLL_S / 4  # woken by the commit, not by the poll
    op.close()
    site.close()


async def test_signal_wakes_the_sites_waiters_from_another_thread() -> None:
    signal = CommitSignal()
    seen = signal.generation("site-a")
    waiter = asyncio.create_task(signal.wait("site-a", seen, timeout_s=30))
    other = asyncio.create_task(signal.wait("site-b", signal.generation("site-b"), 30))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    threading.Thread(target=signal.notify, args=("site-a",)).start()
    assert await asyncio.wait_for(waiter, 10) is True
    assert signal.generation("site-a") == seen + 1
    await asyncio.sleep(0.05)
    assert not other.done()  # another site's commit wakes nobody else
    other.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await other
    assert signal._waiters == {}  # a cancelled waiter (client gone) leaves nothing behind


async def test_signal_after_the_generation_was_read_is_not_lost() -> None:
    signal = CommitSignal()
    seen = signal.generation("site-a")
    signal.notify("site-a")  # between the feed's poll and its wait
    assert await signal.wait("site-a", seen, timeout_s=30) is True


async def test_signal_wait_times_out_without_a_commit() -> None:
    signal = CommitSignal()
    assert await signal.wait("site-a", signal.generation("site-a"), timeout_s=0.05) is False
    assert signal._waiters == {}
    signal.notify("site-a")  # no waiter left registered: nothing to wake, nothing raised
