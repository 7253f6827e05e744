"""The camera's SD card (clients/camera/sdcard.py): the card is listed for retention on the
first call and then at most every ``check_s``, not at every producer cycle; a sweep removes
expired recordings and nothing else; ``max_bytes`` holds at every store without listing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from clients.camera import sdcard
from clients.camera.sdcard import SdCard
from clients.camera.seal import Sealed
from crypto.metadata import RecordingKind

NOW = time.time()  # wall clock of the tests (seconds)
DAY = 86400.0


def put(card: Path, name: str, age_s: float, size: int = 10) -> Path:
    """A file on the card, last written ``age_s`` before NOW."""
    p = card / name
    p.write_bytes(b"x" * size)
    os.utime(p, (NOW - age_s, NOW - age_s))
    return p


def sealed(tmp: Path, rid: str, size: int) -> Sealed:
    f = tmp / f"{rid}.sealed"
    f.write_bytes(b"a" * size)
    return Sealed(rid, RecordingKind.SEGMENT, 0, 2000, f, 0, size, b"", b"")


def names(card: Path) -> set[str]:
    return {p.name for p in card.iterdir()}


def test_sweep_on_first_call_then_not_again_within_the_interval(tmp_path: Path) -> None:
    card = tmp_path / "sd"
    sd = SdCard(card, retention_s=7 * DAY, check_s=60)
    put(card, "old.segment.age", 8 * DAY)
    put(card, "fresh.segment.age", 60)
    assert sd.maybe_sweep(clock=1000.0, now=NOW) == 1  # first call: a sweep
    assert names(card) == {"fresh.segment.age"}
    assert sd.sweeps == 1
    put(card, "expired-meanwhile.live.age", 7 * DAY + 1)
    for clock in (1000.2, 1030.0, 1059.9):  # producer cycles within the interval
        assert sd.maybe_sweep(clock=clock, now=NOW) is None
    assert "expired-meanwhile.live.age" in names(card)
    assert sd.sweeps == 1  # the card was not listed again
    assert sd.maybe_sweep(clock=1060.0, now=NOW) == 1
    assert names(card) == {"fresh.segment.age"}
    assert sd.sweeps == 2
    assert sd.maybe_sweep(clock=1060.2, now=NOW) is None


def test_a_sweep_removes_expired_recordings_and_nothing_else(tmp_path: Path) -> None:
    card = tmp_path / "sd"
    card.mkdir()
    expired = {put(card, f"r{i}.clip.age", 7 * DAY + 10 + i).name for i in range(5)}
    kept = {
        put(card, "young.segment.age", 7 * DAY - 10).name,  # just within the retention
        put(card, "now.event.age", 0).name,
        put(card, "being-copied.segment.age.tmp", 30 * DAY).name,  # not a recording (yet)
        put(card, "notes.txt", 30 * DAY).name,  # not ours
    }
    (card / "subdir.age").mkdir()  # a directory is never removed
    os.utime(card / "subdir.age", (NOW - 30 * DAY, NOW - 30 * DAY))
    kept.add("subdir.age")
    sd = SdCard(card, retention_s=7 * DAY)
    assert names(card) == expired | kept
    assert sd.sweep(now=NOW) == len(expired)
    assert names(card) == kept


def test_store_does_not_list_the_card(tmp_path: Path) -> None:
    card = tmp_path / "sd"
    sd = SdCard(card, retention_s=7 * DAY, check_s=60)
    sd.sweep(clock=0.0, now=NOW)
    put(card, "expired.segment.age", 8 * DAY)
    stored = {sd.store(sealed(tmp_path, f"segment-{i}", 100)).name for i in range(20)}
    assert stored == {f"segment-{i}.segment.age" for i in range(20)}
    assert names(card) == stored | {"expired.segment.age"}  # left for the next sweep
    assert sd.sweeps == 1
    assert all((card / n).read_bytes() == b"a" * 100 for n in stored)  # the sealed bytes


def test_max_bytes_holds_at_every_store_oldest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sdcard, "OLDEST_REMEMBERED", 4)
    card = tmp_path / "sd"
    card.mkdir()
    for i in range(8):  # 8 x 100 bytes, b0 the oldest
        put(card, f"b{i}.segment.age", 1000 - i, size=100)
    sd = SdCard(card, retention_s=7 * DAY, max_bytes=650, check_s=60)
    assert sd.sweep(clock=0.0) == 2  # over by 150 bytes: the two oldest go (of 4 remembered)
    assert names(card) == {f"b{i}.segment.age" for i in range(2, 8)}
    assert sd.sweeps == 1
    sd.store(sealed(tmp_path, "n0", 100))  # 700 > 650: b2 goes (remembered, no listing)
    assert names(card) == {f"b{i}.segment.age" for i in range(3, 8)} | {"n0.segment.age"}
    assert sd.sweeps == 1
    sd.store(sealed(tmp_path, "n1", 100))  # b3 goes, still remembered
    assert sd.sweeps == 1
    sd.store(sealed(tmp_path, "n2", 100))  # the 2 remembered are used up: one listing, b4 goes
    assert sd.sweeps == 2
    assert names(card) == {f"b{i}.segment.age" for i in range(5, 8)} | {
        f"n{i}.segment.age" for i in range(3)
    }
    assert sum(p.stat().st_size for p in card.iterdir()) <= 650
    assert sd.maybe_sweep(clock=30.0) is None  # the size limit does not move the next sweep


def test_a_recording_alone_over_max_bytes_does_not_loop(tmp_path: Path) -> None:
    card = tmp_path / "sd"
    sd = SdCard(card, retention_s=7 * DAY, max_bytes=50)
    sd.sweep()
    sd.store(sealed(tmp_path, "big", 100))
    assert names(card) == set()  # oldest first, until under the limit: the new one too
