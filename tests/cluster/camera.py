"""The product's camera (clients/camera: ffmpeg test pattern, segmenter, journal, uploader
with its own retry policy) recording in real time through the proxy beside the simulated
fleet: the faults hit a real client too. Afterwards its recordings are listed, their
manifest chain verified (unbroken, no recording twice) and each one exported and
decrypted with the site's identity."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from clients.camera.agent import CameraAgent
from clients.camera.config import SourceConfig, SourceKind
from clients.camera.queue import Journal
from tests.clients.test_camera_support import World, ffmpeg, new_world


@dataclass
class CameraCounts:
    uploaded: int = 0  # committed, as the agent counted them
    pending: int = 0  # still in its outbox when it stopped
    listed: int = 0
    verified: int = 0

    def line(self) -> str:
        return (
            f"product camera: uploaded {self.uploaded}, listed {self.listed}, read back and "
            f"verified {self.verified}, left in its outbox {self.pending}"
        )


@contextmanager
def product_camera(url: str, tmp: Path, seconds: float) -> Iterator[CameraCounts]:
    """A camera agent recording ``seconds`` of test pattern in real time for the block;
    on exit it finishes uploading (at most 60 s more) and is checked."""
    ffmpeg()
    tmp.mkdir(parents=True, exist_ok=True)
    w = new_world(url, tmp)
    source = SourceConfig(kind=SourceKind.TESTSRC, realtime=True, duration_s=seconds)
    agent = CameraAgent(w.config(source=source))
    thread = threading.Thread(target=agent.run, daemon=True)
    counts = CameraCounts()
    thread.start()
    try:
        yield counts
        thread.join(60)  # it exits once the source ended and its outbox is empty
    finally:
        if thread.is_alive():
            agent.stop()
            thread.join(30)
    counts.uploaded = agent.uploaded
    path = agent.cfg.state / "journal.sqlite"
    journal = Journal(path, w.site.site_id, w.cam.camera_id, w.cam.key)
    try:  # the agent closed its own on the way out
        counts.pending = journal.pending_count()
    finally:
        journal.close()
    check(w, counts)


def check(w: World, counts: CameraCounts) -> None:
    items = w.recordings()
    counts.listed = len(items)
    w.check_chain(items)  # signed, sequence 0..n-1 unbroken, no recording id twice
    for i in items:
        plain = w.decrypt(w.export(i["recording_id"]))
        if plain[:1] == b"\x47":  # an MPEG-TS segment, as ffmpeg cut it
            counts.verified += 1
