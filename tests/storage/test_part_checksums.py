"""The checksummed multipart commit (storage_service/services/part_checksums.py) attacked on
PostgreSQL + MinIO: a part replaced after upload, parts whose hashes are not the listed ones,
an overwrite racing the commit. Each refusal has its reason code and loses nothing stored;
the honest upload is committed in place (no copy) and served byte for byte. The same for a
single PUT opened with its payload's SHA-256 (the fleet's small segments)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from crypto.statements import Manifest
from storage_service.core.errors import ApiError
from storage_service.db.models import Recording as RecordingRow
from storage_service.db.models import Upload
from storage_service.schemas.recordings import CommitRequest
from storage_service.services import part_checksums, uploads
from tests.storage.conftest import _start
from tests.storage.support import Camera, CustomerSite, Recording, Service, create_site

PART = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def svc(request: pytest.FixtureRequest) -> Iterator[Service]:
    yield from _start(request, "pg_minio", CAMVAULT_SWEEPER_INTERVAL_S="3600")


@pytest.fixture
def site(svc: Service) -> Iterator[CustomerSite]:
    s = create_site(svc.url)
    yield s
    s.close()


def _b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _open(cam: Camera, rec: Recording) -> dict[str, Any]:
    body = rec.upload_body(multipart=True, part_size=PART, part_checksums=True)
    r = cam.client.post(f"{cam.base}/uploads", json=body)
    assert r.status_code == 201, r.text
    up: dict[str, Any] = r.json()
    assert up["part_checksum"] == "sha256"
    return up


def _put(url: str, data: bytes, checksum_of: bytes | None = None) -> httpx.Response:
    headers = {"x-amz-checksum-sha256": _b64(data if checksum_of is None else checksum_of)}
    return httpx.put(url, content=data, headers=headers)


def _chunks(rec: Recording) -> list[bytes]:
    return [rec.payload[i : i + PART] for i in range(0, len(rec.payload), PART)]


def _upload_all(up: dict[str, Any], rec: Recording) -> list[dict[str, Any]]:
    done = []
    for part, data in zip(up["parts"], _chunks(rec), strict=True):
        r = _put(part["url"], data)
        assert r.status_code == 200, r.text
        done.append(
            {
                "part_number": part["part_number"],
                "etag": r.headers["etag"],
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    return done


def _commit(cam: Camera, rec: Recording, up: dict[str, Any], parts: Any) -> httpx.Response:
    body = rec.commit_body(up["upload_id"], parts=parts)
    return cam.client.post(f"{cam.base}/recordings/{rec.recording_id}/commit", json=body)


def _row(svc: Service, rec: Recording) -> RecordingRow | None:
    engine = svc.engine()
    try:
        with Session(engine) as s:
            return s.exec(
                select(RecordingRow).where(RecordingRow.recording_id == rec.recording_id)
            ).first()
    finally:
        engine.dispose()


def _upload_row(svc: Service, upload_id: str) -> Upload | None:
    engine = svc.engine()
    try:
        with Session(engine) as s:
            return s.get(Upload, upload_id)
    finally:
        engine.dispose()


def _served(site: CustomerSite, cam: Camera, rec: Recording) -> bytes:
    r = site.client.get(f"{cam.base}/recordings/{rec.recording_id}")
    assert r.status_code == 200, r.text
    return httpx.get(r.json()["download_url"]).content


def test_honest_upload_is_committed_in_place(svc: Service, site: CustomerSite) -> None:
    cam = site.enroll_camera()
    rec = cam.record(b"h" * (2 * PART + 1000))
    up = _open(cam, rec)
    r = _commit(cam, rec, up, _upload_all(up, rec))
    assert r.status_code == 201, r.text
    row = _row(svc, rec)
    assert row is not None and row.object_key.endswith("/" + up["upload_id"])  # no copy
    assert _served(site, cam, rec) == rec.payload
    # the same commit again confirms it
    assert _commit(cam, rec, up, _upload_all_listing(up, rec)).status_code == 200


def _upload_all_listing(up: dict[str, Any], rec: Recording) -> list[dict[str, Any]]:
    """The commit's part list without uploading anything (ETags are not checked again)."""
    return [
        {"part_number": p["part_number"], "etag": "x", "sha256": hashlib.sha256(d).hexdigest()}
        for p, d in zip(up["parts"], _chunks(rec), strict=True)
    ]


def test_part_without_or_with_a_wrong_checksum_is_refused_by_the_store(
    svc: Service, site: CustomerSite
) -> None:
    cam = site.enroll_camera()
    rec = cam.record(b"w" * (PART + 10), advance=False)
    up = _open(cam, rec)
    first = up["parts"][0]["url"]
    data = _chunks(rec)[0]
    assert httpx.put(first, content=data).status_code == 400  # no checksum: refused
    assert _put(first, data, checksum_of=b"other").status_code == 400  # wrong checksum


def test_part_replaced_after_upload_is_refused(svc: Service, site: CustomerSite) -> None:
    """Someone holding the part URLs replaces part 2 (with a checksum of their bytes) after
    the camera uploaded it: the commit names the camera's hash, the store holds another."""
    cam = site.enroll_camera()
    rec = cam.record(b"r" * (2 * PART + 77))
    up = _open(cam, rec)
    parts = _upload_all(up, rec)
    evil = b"E" * PART
    assert _put(up["parts"][1]["url"], evil).status_code == 200
    parts[1]["etag"] = "ignored"
    r = _commit(cam, rec, up, parts)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "object_hash_mismatch"
    assert "part 2" in r.json()["error"]["message"]
    assert _row(svc, rec) is None
    assert _upload_row(svc, up["upload_id"]) is not None  # nothing lost: re-upload and retry
    assert _put(up["parts"][1]["url"], _chunks(rec)[1]).status_code == 200
    assert _commit(cam, rec, up, _upload_all(up, rec)).status_code == 201
    assert _served(site, cam, rec) == rec.payload


def test_listed_hashes_other_than_the_uploaded_parts_are_refused(
    svc: Service, site: CustomerSite
) -> None:
    """A payload whose bytes are not those listed (the camera's list of another payload)."""
    cam = site.enroll_camera()
    rec = cam.record(b"m" * (PART + 5), advance=False)
    up = _open(cam, rec)
    parts = _upload_all(up, rec)
    parts[0]["sha256"] = hashlib.sha256(b"something else").hexdigest()
    r = _commit(cam, rec, up, parts)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "object_hash_mismatch"
    assert _row(svc, rec) is None


def test_parts_of_another_size_are_refused(svc: Service, site: CustomerSite) -> None:
    cam = site.enroll_camera()
    rec = cam.record(b"s" * (PART + 5), advance=False)
    up = _open(cam, rec)
    parts = _upload_all(up, rec)
    short = _chunks(rec)[1][:-1]
    r2 = _put(up["parts"][1]["url"], short)
    assert r2.status_code == 200
    parts[1] |= {"etag": r2.headers["etag"], "sha256": hashlib.sha256(short).hexdigest()}
    r = _commit(cam, rec, up, parts)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "object_size_mismatch"


def test_overwrite_racing_the_commit_is_refused_or_not_served(
    svc: Service, site: CustomerSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part PUT between the service's check of the parts and the completion: the store
    checks the listed hashes again at completion, so the commit is refused; a PUT after the
    completion finds no upload (404) and the committed bytes stay the camera's."""
    cam = site.enroll_camera()
    rec = cam.record(b"c" * (PART + 99))
    up = _open(cam, rec)
    parts = _upload_all(up, rec)
    listed = part_checksums._check_listed

    def check_then_overwrite(*args: Any) -> None:
        listed(*args)
        assert _put(up["parts"][0]["url"], b"X" * PART).status_code == 200

    monkeypatch.setattr(part_checksums, "_check_listed", check_then_overwrite)
    engine = svc.engine()
    try:
        with pytest.raises(ApiError) as exc:
            uploads.commit(
                engine,
                svc.store(),
                svc.settings,
                site.site_id,
                cam.camera_id,
                rec.recording_id,
                CommitRequest.model_validate(rec.commit_body(up["upload_id"], parts=parts)),
            )
        assert exc.value.code == "object_hash_mismatch"
    finally:
        engine.dispose()
    monkeypatch.undo()
    assert _row(svc, rec) is None
    # the camera re-uploads part 1 and commits; a late PUT then cannot change anything
    assert _put(up["parts"][0]["url"], _chunks(rec)[0]).status_code == 200
    assert _commit(cam, rec, up, _upload_all(up, rec)).status_code == 201
    late = _put(up["parts"][0]["url"], b"L" * PART)
    assert late.status_code == 404, late.text
    assert _served(site, cam, rec) == rec.payload


# --- the single PUT opened with the payload's SHA-256 (the fleet's small segments) ---------


def _open_single(cam: Camera, rec: Recording, sha: bytes | None = None) -> dict[str, Any]:
    digest = hashlib.sha256(rec.payload).digest() if sha is None else sha
    r = cam.client.post(f"{cam.base}/uploads", json=rec.upload_body(payload_sha256=digest.hex()))
    assert r.status_code == 201, r.text
    up: dict[str, Any] = r.json()
    assert (up["mode"], up["payload_checksum"]) == ("single", "sha256")
    return up


def _commit_single(cam: Camera, rec: Recording, up: dict[str, Any]) -> httpx.Response:
    body = rec.commit_body(up["upload_id"])
    return cam.client.post(f"{cam.base}/recordings/{rec.recording_id}/commit", json=body)


def test_single_put_with_its_sha256_is_committed_in_place(svc: Service, site: CustomerSite) -> None:
    cam = site.enroll_camera()
    rec = cam.record(b"small segment " * 15_000)  # ~200 KiB, as the fleet's
    up = _open_single(cam, rec)
    assert _put(up["put_url"], rec.payload).status_code == 200
    r = _commit_single(cam, rec, up)
    assert r.status_code == 201, r.text
    row = _row(svc, rec)
    sha = hashlib.sha256(rec.payload).hexdigest()
    assert row is not None and row.object_key.endswith(f"/{up['upload_id']}.sha256-{sha}")
    assert svc.store().full_sha256(row.object_key) == (sha, len(rec.payload))
    assert _served(site, cam, rec) == rec.payload
    assert _upload_row(svc, up["upload_id"]) is None
    assert _commit_single(cam, rec, up).status_code == 200  # the same commit confirms it


def test_single_put_of_other_bytes_is_refused_by_the_store(
    svc: Service, site: CustomerSite
) -> None:
    cam = site.enroll_camera()
    rec = cam.record(b"honest " * 1000, advance=False)
    up = _open_single(cam, rec)
    evil = b"evil " * 1000
    url = up["put_url"]
    # without the signed header; with it but other bytes; with a header naming their hash
    assert httpx.put(url, content=rec.payload).status_code in (400, 403)
    refused = httpx.put(url, content=evil, headers={"x-amz-checksum-sha256": _b64(rec.payload)})
    assert refused.status_code == 400 and "Checksum" in refused.text, refused.text
    assert _put(url, evil).status_code == 403  # the signature covers the hash
    r = _commit_single(cam, rec, up)
    assert r.status_code == 422 and r.json()["error"]["code"] == "object_missing", r.text
    assert _put(url, rec.payload).status_code == 200  # control: the honest bytes go in
    assert _commit_single(cam, rec, up).status_code == 201
    assert _served(site, cam, rec) == rec.payload


def test_manifest_of_another_payload_than_the_upload_was_opened_for(
    svc: Service, site: CustomerSite
) -> None:
    """The upload is opened (and the PUT done) for payload X; the manifest committed signs
    another payload of the same size: the commit names the mismatch (the hash is a fact of
    the upload, like its size), nothing is stored."""
    cam = site.enroll_camera()
    rec = cam.record(b"a" * 5000, advance=False)
    m = rec.manifest.unverified_statement
    assert isinstance(m, Manifest)
    other = cam.record(b"b" * 5000, recording_id=m.recording_id, start_ms=m.start_ms)
    up = _open_single(cam, other)
    assert _put(up["put_url"], other.payload).status_code == 200
    r = _commit_single(cam, rec, up)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "manifest_mismatch"
    assert "payload_sha256" in r.json()["error"]["message"]
    assert _row(svc, rec) is None


def test_single_upload_parameters(svc: Service, site: CustomerSite) -> None:
    cam = site.enroll_camera()
    rec = cam.record(b"p" * 3000, advance=False)
    sha = hashlib.sha256(rec.payload).hexdigest()
    body = rec.upload_body(multipart=True, part_size=PART, payload_sha256=sha)
    r = cam.client.post(f"{cam.base}/uploads", json=body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "multipart_invalid", r.text
    up = _open_single(cam, rec)
    again = cam.client.post(f"{cam.base}/uploads", json=rec.upload_body(payload_sha256=sha))
    assert again.status_code == 200 and again.json()["upload_id"] == up["upload_id"]
    other = rec.upload_body(payload_sha256=hashlib.sha256(b"x").hexdigest())
    r = cam.client.post(f"{cam.base}/uploads", json=other)
    assert r.status_code == 409 and r.json()["error"]["code"] == "upload_conflict", r.text


def test_overwrite_after_or_during_the_commit_cannot_change_the_recording(
    svc: Service, site: CustomerSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PUT URL stays valid after the commit (until it expires): it can only write the
    bytes the manifest signs, during the commit's check as after it."""
    cam = site.enroll_camera()
    rec = cam.record(b"o" * 70_000)
    up = _open_single(cam, rec)
    assert _put(up["put_url"], rec.payload).status_code == 200
    attempts: list[int] = []
    real = part_checksums.check_single

    def check_then_overwrite(*args: Any) -> None:
        real(*args)
        attempts.append(_put(up["put_url"], b"X" * len(rec.payload)).status_code)

    monkeypatch.setattr(part_checksums, "check_single", check_then_overwrite)
    engine = svc.engine()
    try:
        committed = uploads.commit(
            engine,
            svc.store(),
            svc.settings,
            site.site_id,
            cam.camera_id,
            rec.recording_id,
            CommitRequest.model_validate(rec.commit_body(up["upload_id"])),
        )
    finally:
        engine.dispose()
    assert committed.created and attempts == [403]
    monkeypatch.undo()
    late = httpx.put(
        up["put_url"], content=b"L" * 10, headers={"x-amz-checksum-sha256": _b64(rec.payload)}
    )
    assert late.status_code == 400, late.text
    assert _put(up["put_url"], rec.payload).status_code == 200  # the same bytes again
    assert _served(site, cam, rec) == rec.payload
