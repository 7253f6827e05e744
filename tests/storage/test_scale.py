"""Scale: a 200 MiB recording through presigned multipart upload (generated and hashed as a
stream, exported and decrypted by the real `age` as a stream), and 50 cameras uploading at
once with every recording verified afterwards (chain, hashes, decryption)."""

from __future__ import annotations

import base64
import hashlib
import io
import random
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from common.time import now_ms
from crypto.age import decrypt, encrypt_header, encrypt_payload
from crypto.age.x25519 import format_identity_file
from crypto.canonical import canonical_json
from crypto.escrow import build_recipient_set
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import Manifest, manifest_hash, parse_signed, sign_statement, verify_chain
from tests.storage.support import Camera, Service, create_site

MiB = 1024 * 1024


class _Generated:
    """``size`` deterministic pseudo-random bytes, read as a stream (and hashed on the way)."""

    def __init__(self, size: int, seed: int) -> None:
        self.left = size
        self.rng = random.Random(seed)
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.rng.randbytes(n)
        self.left -= n
        self.sha.update(data)
        return data


def _encrypt_to_file(cam: Camera, size: int, path: Path) -> tuple[bytes, Manifest, str]:
    """(header, manifest, plaintext sha256 hex) of a generated recording whose payload is
    streamed into ``path``."""
    rid = f"big-{now_ms()}"
    start = now_ms() - 60_000
    meta = RecordingMetadata(
        cam.site.site_id, cam.camera_id, rid, RecordingKind.CLIP, start, start + 60_000
    )
    recipients = build_recipient_set(
        [cam.site.identity.recipient()], [c.public_key() for c in cam.site.custodians], 2, meta
    )
    header, file_key = encrypt_header(recipients)
    src = _Generated(size, seed=7)

    class _Hashing(io.RawIOBase):
        def __init__(self, f: io.BufferedWriter) -> None:
            self.f, self.sha, self.n = f, hashlib.sha256(), 0

        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:  # type: ignore[override]
            self.sha.update(b)
            self.n += len(b)
            return self.f.write(b)

    with path.open("wb") as f:
        out = _Hashing(f)
        encrypt_payload(file_key, src, out)  # type: ignore[arg-type]
    m = Manifest(
        site_id=cam.site.site_id,
        camera_id=cam.camera_id,
        recording_id=rid,
        kind=RecordingKind.CLIP,
        start_ms=start,
        end_ms=start + 60_000,
        payload_sha256=out.sha.digest(),
        payload_size=out.n,
        header_sha256=hashlib.sha256(header).digest(),
        sequence=cam.sequence,
        prev_manifest_sha256=cam.prev,
        issued_at_ms=now_ms(),
    )
    return header, m, src.sha.hexdigest()


@pytest.mark.slow
def test_multipart_200_mib(service: Service, age_cli: tuple[str, str], tmp_path: Path) -> None:
    site = create_site(service.url)
    cam = site.enroll_camera()
    payload_path = tmp_path / "payload.bin"
    header, m, plain_sha = _encrypt_to_file(cam, 200 * MiB, payload_path)
    signed = sign_statement(m, cam.key)
    part_size = 16 * MiB
    r = cam.client.post(
        f"{cam.base}/uploads",
        json={
            "recording_id": m.recording_id,
            "kind": m.kind.value,
            "start_ms": m.start_ms,
            "end_ms": m.end_ms,
            "payload_size": m.payload_size,
            "multipart": True,
            "part_size": part_size,
        },
    )
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["mode"] == "multipart" and len(up["parts"]) == 13
    parts = []
    with payload_path.open("rb") as f, httpx.Client(timeout=300) as http:
        for p in up["parts"]:
            f.seek((p["part_number"] - 1) * part_size)
            resp = http.put(p["url"], content=f.read(part_size))
            assert resp.status_code == 200, resp.text
            parts.append({"part_number": p["part_number"], "etag": resp.headers["etag"].strip('"')})
    c = cam.client.post(
        f"{cam.base}/recordings/{m.recording_id}/commit",
        json={
            "upload_id": up["upload_id"],
            "header": base64.b64encode(header).decode(),
            "manifest": signed.to_json(),
            "parts": parts,
        },
    )
    assert c.status_code == 201, c.text
    assert c.json()["payload_size"] == m.payload_size
    cam.sequence, cam.prev = 1, manifest_hash(signed)

    # export streamed straight into the real age, plaintext hashed as it comes out
    ident = tmp_path / "id.txt"
    ident.write_text(format_identity_file(site.identity, datetime.now(UTC)))
    proc = subprocess.Popen(
        [age_cli[0], "-d", "-i", str(ident)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    digest = hashlib.sha256()
    assert proc.stdout is not None and proc.stdin is not None

    def drain() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(MiB):
            digest.update(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    with cam.site.client.stream("GET", f"{cam.base}/recordings/{m.recording_id}/export") as resp:
        assert resp.status_code == 200
        assert int(resp.headers["content-length"]) == len(header) + m.payload_size
        for chunk in resp.iter_bytes(MiB):
            proc.stdin.write(chunk)
    proc.stdin.close()
    reader.join()
    assert proc.wait() == 0
    assert digest.hexdigest() == plain_sha
    site.close()


def test_fifty_cameras_concurrently(service: Service) -> None:
    site = create_site(service.url)
    cams = [site.enroll_camera(f"cam-{i:02d}") for i in range(50)]
    per_camera = 3
    plaintexts: dict[str, bytes] = {}
    lock = threading.Lock()

    def run(cam: Camera) -> None:
        for n in range(per_camera):
            text = f"{cam.camera_id} segment {n} ".encode() * 2000
            rec = cam.record(text, recording_id=f"{cam.camera_id}-r{n}")
            r = cam.upload(rec)
            assert r.status_code == 201, r.text
            with lock:
                plaintexts[rec.recording_id] = text

    with ThreadPoolExecutor(max_workers=50) as pool:
        for f in [pool.submit(run, c) for c in cams]:
            f.result()
    assert len(plaintexts) == 50 * per_camera

    # every recording: listed, chain intact per camera, decrypts to what the camera recorded
    items = []
    cursor = None
    while True:
        params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = site.client.get(f"/v1/sites/{site.site_id}/recordings", params=params).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(items) == 150
    starts = [i["start_ms"] for i in items]
    assert starts == sorted(starts, reverse=True)
    for cam in cams:
        mine = sorted(
            (i for i in items if i["camera_id"] == cam.camera_id), key=lambda i: i["sequence"]
        )
        manifests = [parse_signed(canonical_json(i["manifest"])) for i in mine]
        problems = verify_chain(
            manifests,
            cam.key.public_key,
            site_id=site.site_id,
            camera_id=cam.camera_id,
            expected_last_sequence=per_camera - 1,
        )
        assert problems == []
    for item in items:
        path = f"/v1/sites/{site.site_id}/cameras/{item['camera_id']}"
        d = site.client.get(f"{path}/recordings/{item['recording_id']}").json()
        payload = httpx.get(d["download_url"]).content
        assert hashlib.sha256(payload).hexdigest() == item["payload_sha256"]
        out = io.BytesIO()
        decrypt([site.identity], io.BytesIO(base64.b64decode(d["header"]) + payload), out)
        assert out.getvalue() == plaintexts[item["recording_id"]]
    site.close()
