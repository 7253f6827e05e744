"""In-process checks of the custodian's parts: window rule edges, log store proofs against
the reference implementation, log key rotation, memoized metadata."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import CameraProfile
from crypto.tlog import (
    consistency_proof,
    entry_leaf_hash,
    inclusion_proof,
    root_from_leaf_hashes,
)
from crypto.tlog.note import NoteSigner, open_checkpoint
from escrow_service.core.errors import Refusal
from escrow_service.core.keys import load_or_create
from escrow_service.db import make_engine, upgrade
from escrow_service.schemas.metadata import MemoMetadata
from escrow_service.services.policy import AlarmWindow, check_alarm_item
from escrow_service.services.tlog_store import LogStore

T = 1_700_000_000_000
PROFILE = CameraProfile(pre_alarm_s=30, post_alarm_s=60, live_allowed=True, stills_only=False)
WINDOW = AlarmWindow("s", T, T + 1_800_000)


def meta(start: int, end: int, kind: RecordingKind = RecordingKind.SEGMENT) -> RecordingMetadata:
    return RecordingMetadata("s", "cam", "r", kind, start, end)


@pytest.mark.parametrize(
    ("start", "end", "reason"),
    [
        (T - 32_000, T - 30_001, "outside_window_before"),
        (T - 32_000, T - 30_000, None),  # touches the pre-alarm edge: intersects
        (T + 60_000, T + 62_000, None),  # starts on the post-alarm edge
        (T + 60_001, T + 62_000, "outside_window_after"),
    ],
)
def test_window_edges(start: int, end: int, reason: str | None) -> None:
    if reason is None:
        check_alarm_item(meta(start, end), WINDOW, PROFILE)
    else:
        with pytest.raises(Refusal) as info:
            check_alarm_item(meta(start, end), WINDOW, PROFILE)
        assert info.value.reason.value == reason


def test_live_is_releasable_until_the_access_period_ends() -> None:
    check_alarm_item(meta(T + 1_700_000, T + 1_702_000, RecordingKind.LIVE), WINDOW, PROFILE)
    with pytest.raises(Refusal) as info:
        check_alarm_item(meta(T + 1_800_001, T + 1_802_000), WINDOW, PROFILE)
    assert info.value.reason.value == "outside_window_after"


def test_log_store_proofs_match_the_reference(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    upgrade(url)
    engine = make_engine(url)
    keys = load_or_create(tmp_path, "c9")
    store = LogStore(engine, keys)
    leaves = []
    for i in range(70):
        with store.writer() as conn:
            a = store.append(conn, {"type": "test", "i": i}, kind="test", site_id=None, now_ms=T)
        assert a.index == i and a.leaf_hash == entry_leaf_hash(a.entry)
        leaves.append(a.leaf_hash)
    for size in (1, 2, 3, 16, 17, 64, 65, 70):
        assert store.root(size) == root_from_leaf_hashes(leaves[:size])
        for index in (0, size // 2, size - 1):
            assert store.inclusion_proof(index, size) == inclusion_proof(leaves, index, size)
        for old in (1, size // 3, size - 1):
            if 0 < old <= size:
                assert store.consistency_proof(old, size) == consistency_proof(leaves, old, size)
    # A restarted process (fresh store) agrees.
    assert LogStore(engine, keys).root(70) == root_from_leaf_hashes(leaves)
    engine.dispose()


def test_log_key_rotation_cosigns_checkpoints(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    upgrade(url)
    engine = make_engine(url)
    old = load_or_create(tmp_path, "c9")
    nxt = NoteSigner.generate(old.origin)
    (tmp_path / "log.next.key").write_text(nxt.to_text() + "\n")
    keys = load_or_create(tmp_path, "c9")
    assert keys.public_info()["next_log_key"] is not None
    store = LogStore(engine, keys)
    with store.writer() as conn:
        store.append(conn, {"type": "test"}, kind="test", site_id=None, now_ms=T)
    note = store.checkpoint()
    # Clients knowing only the old key, or only the new one, both accept it.
    assert open_checkpoint(note, [old.log_verifier], old.origin).size == 1
    assert open_checkpoint(note, [nxt.verifier], old.origin).size == 1
    engine.dispose()


def test_memoized_metadata_is_the_same_value() -> None:
    m = MemoMetadata.from_json(meta(1, 2).to_json())
    assert isinstance(m, RecordingMetadata)
    assert m.associated_data() == meta(1, 2).associated_data() == m.associated_data()
    assert pickle.loads(pickle.dumps(m)).associated_data() == m.associated_data()
