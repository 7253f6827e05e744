"""The camera journal's processed-segment table (clients/camera/queue.py) is pruned: a row
matters only while its segment file exists, so rows of deleted files (and of run directories
that are gone) are forgotten, before the source starts and periodically (the periodic prune
runs in tests/clients/test_camera_resilience.py), and the table stays small."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.camera.agent import CameraAgent
from clients.camera.config import CameraConfig, SourceConfig, SourceKind
from clients.camera.queue import Journal
from crypto.ed25519 import Ed25519SigningKey


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite", "site-1", "cam-1", Ed25519SigningKey.generate())
    yield j
    j.close()


def test_prune_forgets_the_rows_that_no_longer_matter_page_by_page(journal: Journal) -> None:
    keys = [f"run-000001/seg_{n:06d}.ts" for n in range(10)]
    for k in keys:
        journal.mark_processed(k)
    kept = {keys[0], keys[4], keys[9]}
    asked: list[str] = []

    def matters(key: str) -> bool:
        asked.append(key)
        return key in kept

    assert journal.prune_processed(matters, batch=3) == 7
    assert sorted(asked) == keys  # each row looked at once, across 4 pages
    assert journal.processed_count() == 3
    assert [k for k in keys if journal.is_processed(k)] == sorted(kept)
    assert journal.prune_processed(lambda _: True) == 0
    assert journal.prune_processed(lambda _: False) == 3
    assert journal.processed_count() == 0


def agent_in(tmp_path: Path, source: SourceConfig) -> CameraAgent:
    key = tmp_path / "camera.key"
    key.write_text(Ed25519SigningKey.generate().to_text() + "\n")
    cfg = CameraConfig(
        url="http://127.0.0.1:9",  # never contacted here
        site_id="site-1",
        camera_id="cam-1",
        key_file=str(key),
        state_dir=str(tmp_path / "state"),
        source=source,
        detector="none",
    )
    return CameraAgent(cfg)


def test_the_agent_keeps_only_rows_whose_segment_file_exists(tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    agent = agent_in(tmp_path, SourceConfig(kind=SourceKind.DIR, path=str(incoming)))
    runs = agent.cfg.state / "segments"
    (runs / "run-000002").mkdir(parents=True)
    (runs / "run-000002" / "seg_000007.ts").write_bytes(b"G")  # sealed, not yet deleted (crash)
    (incoming / "b.ts").write_bytes(b"G")
    j = agent.journal
    gone = [
        *(f"run-000001/seg_{n:06d}.ts" for n in range(100)),  # a run directory removed
        *(f"run-000002/seg_{n:06d}.ts" for n in range(7)),  # sealed and deleted
        "dir/a.ts",
        "weird",
    ]
    for k in [*gone, "run-000002/seg_000007.ts", "dir/b.ts"]:
        j.mark_processed(k)
    try:
        assert agent._prune_processed() == len(gone)
        assert j.processed_count() == 2
        assert j.is_processed("run-000002/seg_000007.ts") and j.is_processed("dir/b.ts")
    finally:
        agent.client.close()
        agent.up_client.close()
        j.close()


def test_rows_of_a_wiped_segments_directory_are_forgotten_before_the_source_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The state's segments directory was wiped: the new ffmpeg run is run-000001 again, and
    # an old row "run-000001/seg_000000.ts" must not make its first segment look processed.
    agent = agent_in(tmp_path, SourceConfig(kind=SourceKind.TESTSRC, duration_s=1))
    agent.journal.mark_processed("run-000001/seg_000000.ts")
    seen: list[int] = []

    def open_source() -> None:
        seen.append(agent.journal.processed_count())
        raise RuntimeError("stop here")

    monkeypatch.setattr(agent, "_open_source", open_source)
    try:
        with pytest.raises(RuntimeError, match="stop here"):
            agent._produce()
    finally:
        agent.client.close()
        agent.up_client.close()
        agent.journal.close()
    assert seen == [0]
