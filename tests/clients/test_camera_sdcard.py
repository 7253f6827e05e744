"""The camera's SD card (clients/camera/sdcard.py): the card is listed for retention on the
first call and then at most every ``check_s``, not at every producer cycle; a sweep removes
expired recordings and nothing else; ``max_bytes`` holds at every store without listing, and
files deleted by hand make a store look again before it deletes anything."""

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


def full_card(card: Path, n: int = 10, size: int = 1000) -> list[Path]:
    """``n`` files of ``size`` bytes, f0 the oldest; the directory dated a minute ago (so
    that a change made now gives it another mtime, whatever the clock's granularity)."""
    card.mkdir()
    files = [put(card, f"f{i}.segment.age", 1000 - i, size=size) for i in range(n)]
    os.utime(card, (NOW - 60, NOW - 60))
    return files


def test_files_deleted_by_hand_are_not_counted_at_the_next_store(tmp_path: Path) -> None:
    card = tmp_path / "sd"
    files = full_card(card)
    sd = SdCard(card, retention_s=7 * DAY, max_bytes=10_000, check_s=3600)
    assert sd.sweep(clock=0.0) == 0  # exactly at the limit
    for f in files[5:]:  # 5,000 B of the newest deleted by hand
        f.unlink()
    sd.store(sealed(tmp_path, "n0", 1000))  # 6,000 B on the card: nothing may go
    assert names(card) == {f.name for f in files[:5]} | {"n0.segment.age"}
    assert sd.sweeps == 2  # the card changed behind our back: listed once before deleting
    for i in range(1, 5):  # the count is right again: fill up to the limit, no listing
        sd.store(sealed(tmp_path, f"n{i}", 1000))
    assert len(names(card)) == 10
    assert sd.sweeps == 2
    sd.store(sealed(tmp_path, "n5", 1000))  # now over: the oldest goes, without a listing
    assert "f0.segment.age" not in names(card) and len(names(card)) == 10
    assert sd.sweeps == 2


def test_a_remembered_oldest_file_already_gone_makes_a_store_look_again(tmp_path: Path) -> None:
    card = tmp_path / "sd"
    files = full_card(card)
    sd = SdCard(card, retention_s=7 * DAY, max_bytes=10_000, check_s=3600)
    sd.sweep(clock=0.0)
    # The oldest 5,000 B deleted by hand, within the directory's timestamp tick (FAT: 2 s),
    # so that its mtime does not show it: the first remembered file is then found gone.
    before = card.stat().st_mtime_ns
    for f in files[:5]:
        f.unlink()
    os.utime(card, ns=(before, before))
    sd.store(sealed(tmp_path, "n0", 1000))
    assert names(card) == {f.name for f in files[5:]} | {"n0.segment.age"}  # nothing deleted
    assert sd.sweeps == 2


def test_a_full_card_is_not_listed_at_every_store(tmp_path: Path) -> None:
    card = tmp_path / "sd"
    full_card(card)
    sd = SdCard(card, retention_s=7 * DAY, max_bytes=10_000, check_s=3600)
    sd.sweep(clock=0.0)
    for i in range(8):  # each store takes the card over the limit, each deletes the oldest
        sd.store(sealed(tmp_path, f"n{i}", 1000))
    assert sd.sweeps == 1  # our own changes are not "behind our back"
    assert names(card) == {f"f{i}.segment.age" for i in range(8, 10)} | {
        f"n{i}.segment.age" for i in range(8)
    }
