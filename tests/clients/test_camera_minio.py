"""The camera agent against the storage service on PostgreSQL + MinIO (the deployment
backend; the other camera tests use the embedded one): segments larger than the multipart
threshold go up in presigned parts straight to MinIO, commit, and decrypt with the chain
intact."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from clients.camera.agent import CameraAgent
from clients.camera.config import SourceConfig, SourceKind
from tests.clients.test_camera_support import ffmpeg, new_world, playable
from tests.storage.support import Service
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
    parts: list[tuple[str, int]] = []  # (uploadId, size) of every part PUT the camera made
    real_put = httpx.put

    def counting_put(url: str, **kw: Any) -> httpx.Response:
        query = parse_qs(urlsplit(url).query)
        if "partNumber" in query:
            parts.append((query["uploadId"][0], len(kw.get("content") or b"")))
        return real_put(url, **kw)

    monkeypatch.setattr(httpx, "put", counting_put)
    w = new_world(svc.url, tmp_path)
    clip = noise_clip(tmp_path / "noise.mp4", 4)
    source = SourceConfig(kind=SourceKind.FILE, path=str(clip), realtime=False)
    agent = CameraAgent(w.config(source=source, multipart_threshold=5 * MIB, part_size=5 * MIB))
    agent.run()

    items = w.recordings()
    assert len(items) == 2, [i["recording_id"] for i in items]
    w.check_chain(items)
    per_upload: dict[str, list[int]] = {}
    for upload_id, size in parts:
        per_upload.setdefault(upload_id, []).append(size)
    assert len(per_upload) == 2, parts  # one multipart upload per segment
    for sizes in per_upload.values():  # parts of part_size, the last one at most that
        assert len(sizes) >= 2 and set(sizes[:-1]) == {5 * MIB} and 0 < sizes[-1] <= 5 * MIB
    stored = sorted(sum(sizes) for sizes in per_upload.values())
    for i in items:
        plain = w.decrypt(w.export(i["recording_id"]))
        assert len(plain) > 5 * MIB and plain[0] == TS_SYNC and len(plain) % 188 == 0
        assert 1.5 <= playable(plain, tmp_path) <= 2.5
    assert stored == sorted(int(i["payload_size"]) for i in items)
