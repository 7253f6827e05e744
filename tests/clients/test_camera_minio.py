"""The camera agent against the storage service on PostgreSQL + MinIO (the deployment
backend; the other camera tests use the embedded one): segments larger than the multipart
threshold go up in presigned parts straight to MinIO, commit, and decrypt with the chain
intact."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlmodel import Session, select

from clients.api.storage import StorageApi, put_part
from clients.camera import parts
from clients.camera.agent import CameraAgent
from clients.camera.config import SourceConfig, SourceKind
from clients.camera.queue import Journal
from clients.camera.seal import seal
from clients.camera.uploader import Uploader
from common.time import now_ms
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import SiteKeys
from storage_service.db.models import Recording as RecordingRow
from tests.clients.test_camera_support import ffmpeg, new_world, playable
from tests.storage.support import Service, create_site
from tests.storage.support_arc import start

MIB = 1024 * 1024
TS_SYNC = 0x47


@pytest.fixture(scope="module")
def svc(request: pytest.FixtureRequest) -> Iterator[Service]:
    ffmpeg()
    yield from start(request, "pg_minio")


def noise_clip(path: Path, seconds: int) -> Path:
    """720p noise: x264 cannot compress it, so every 2 s segment is well over 5 MiB."""
    subprocess.run(
        [ffmpeg(), "-loglevel", "error", "-f", "lavfi",
         "-i", "nullsrc=s=1280x720:r=10,geq=lum='random(1)*255':cb=128:cr=128",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-qp", "10",
         str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_large_segments_upload_in_parts_to_minio(
    svc: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (uploadId, partNumber, size, sha256) of every part PUT, in the order they finished
    parts: list[tuple[str, int, int, str | None]] = []

    def counting_put_part(
        client: httpx.Client, url: str, fd: int, offset: int, length: int, **kw: Any
    ) -> tuple[str, str | None]:
        query = parse_qs(urlsplit(url).query)
        etag, sha = put_part(client, url, fd, offset, length, **kw)
        parts.append((query["uploadId"][0], int(query["partNumber"][0]), length, sha))
        return etag, sha

    monkeypatch.setattr("clients.camera.uploader.put_part", counting_put_part)
    w = new_world(svc.url, tmp_path)
    clip = noise_clip(tmp_path / "noise.mp4", 4)
    source = SourceConfig(kind=SourceKind.FILE, path=str(clip), realtime=False)
    agent = CameraAgent(w.config(source=source, multipart_threshold=5 * MIB, part_size=5 * MIB))
    agent.run()

    items = w.recordings()
    assert len(items) == 2, [i["recording_id"] for i in items]
    w.check_chain(items)
    per_upload: dict[str, list[tuple[int, str | None]]] = {}
    for upload_id, _, size, sha in sorted(parts):  # in part-number order
        per_upload.setdefault(upload_id, []).append((size, sha))
    assert len(per_upload) == 2, parts  # one multipart upload per segment
    for listed in per_upload.values():  # parts of part_size, the last one at most that
        sizes = [size for size, _ in listed]
        assert len(sizes) >= 2 and set(sizes[:-1]) == {5 * MIB} and 0 < sizes[-1] <= 5 * MIB
        assert all(sha is not None for _, sha in listed)  # each part sent with its SHA-256
    stored = sorted(sum(size for size, _ in listed) for listed in per_upload.values())
    for i in items:
        plain = w.decrypt(w.export(i["recording_id"]))
        assert len(plain) > 5 * MIB and plain[0] == TS_SYNC and len(plain) % 188 == 0
        assert 1.5 <= playable(plain, tmp_path) <= 2.5
    assert stored == sorted(int(i["payload_size"]) for i in items)
    # what the store holds: each recording is the completed multipart upload itself (no
    # copy), made of the parts the camera sent, with the composite SHA-256 of their hashes
    store = svc.store()
    sent = {
        (
            hashlib.sha256(b"".join(bytes.fromhex(s or "") for _, s in listed)).hexdigest(),
            len(listed),
        )
        for listed in per_upload.values()
    }
    assert {store.composite_sha256(_object_key(svc, i["recording_id"])) for i in items} == sent


def _object_key(svc: Service, recording_id: str) -> str:
    engine = svc.engine()
    try:
        with Session(engine) as s:
            row = s.exec(
                select(RecordingRow).where(RecordingRow.recording_id == recording_id)
            ).one()
            return row.object_key
    finally:
        engine.dispose()


# --- part SHA-256s computed while sealing (clients/camera/parts.py) ------------------------


def _sealed_item(svc: Service, tmp_path: Path, size: int) -> tuple[Any, Journal, Any]:
    """A recording sealed with part hashes and journaled, as the camera does it."""
    site = create_site(svc.url)
    cam = site.enroll_camera()
    keys = site.site_keys.unverified_statement
    assert isinstance(keys, SiteKeys)
    t = now_ms()
    rid = f"rec-{t}"
    meta = RecordingMetadata(site.site_id, cam.camera_id, rid, RecordingKind.SEGMENT, t - 1, t)
    sealed = seal(
        keys,
        meta,
        io.BytesIO(os.urandom(size)),
        tmp_path / f"{rid}.age",
        part_size=5 * MIB,
        multipart_threshold=5 * MIB,
    )
    journal = Journal(tmp_path / "journal.sqlite", site.site_id, cam.camera_id, cam.key)
    journal.enqueue([sealed])
    item = journal.next_pending()
    assert item is not None
    return cam, journal, item


def _uploader(cam: Any, journal: Journal) -> tuple[Uploader, StorageApi]:
    api = StorageApi.connect(cam.site.url, f"device:{cam.site.site_id}/{cam.camera_id}", cam.key)
    return Uploader(api, journal, multipart_threshold=5 * MIB, part_size=5 * MIB), api


def test_part_hashes_from_sealing_are_sent_and_a_wrong_one_is_recomputed(
    svc: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cam, journal, item = _sealed_item(svc, tmp_path, 12 * MIB)
    payload = item.file.read_bytes()[item.header_len :]
    cut = [payload[i : i + 5 * MIB] for i in range(0, len(payload), 5 * MIB)]
    want = [hashlib.sha256(c).hexdigest() for c in cut]
    assert parts.load(item.file, 5 * MIB, len(payload)) == want  # hashed while sealing
    assert parts.load(item.file, 8 * MIB, len(payload)) is None  # another cut: not used
    assert parts.load(item.file, 5 * MIB, len(payload) + 1) is None
    # a stale or corrupted cache: part 2's hash is not its bytes'
    text = parts.parts_path(item.file).read_text().replace(want[1], "0" * 64)
    parts.parts_path(item.file).write_text(text)
    sent: list[tuple[int, str | None]] = []  # (part number, hash given to put_part)

    def recording_put_part(*args: Any, **kw: Any) -> tuple[str, str | None]:
        sent.append((int(parse_qs(urlsplit(args[1]).query)["partNumber"][0]), kw.get("sha256")))
        return put_part(*args, **kw)

    monkeypatch.setattr("clients.camera.uploader.put_part", recording_put_part)
    uploader, api = _uploader(cam, journal)
    with api:
        uploader.upload(item)
    # parts 1 and 3 went up with the sealed hashes, part 2 was refused by the store with the
    # wrong one and sent again hashed from the file
    assert sorted(sent, key=lambda x: (x[0], x[1] or "")) == [
        (1, want[0]),
        (2, None),
        (2, "0" * 64),
        (3, want[2]),
    ]
    assert not parts.parts_path(item.file).exists()  # removed once committed
    detail = cam.site.client.get(f"{cam.base}/recordings/{item.recording_id}")
    assert detail.status_code == 200, detail.text
    assert httpx.get(detail.json()["download_url"]).content == payload
    journal.close()


def test_small_recordings_get_no_part_hashes(svc: Service, tmp_path: Path) -> None:
    cam, journal, item = _sealed_item(svc, tmp_path, 1 * MIB)  # under the threshold
    assert not parts.parts_path(item.file).exists()
    uploader, api = _uploader(cam, journal)
    with api:
        assert uploader.upload(item)["recording_id"] == item.recording_id
    journal.close()
