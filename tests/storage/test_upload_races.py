"""Security review: the upload/commit path against the sweeper and against holders of the
upload's presigned URLs, and a header rewrite racing a delete.

Races are made deterministic by running the competing step in-process at the exact point
between the commit's payload check and its database transaction (monkeypatching the
function that runs there), against the real service's database and object store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from common.time import now_ms
from crypto.statements import Manifest
from storage_service.blobstore import BlobStore
from storage_service.blobstore.base import MAX_COPY_SIZE
from storage_service.core.errors import STATUS, ApiError
from storage_service.db.models import DeletionQueue, Upload
from storage_service.db.models import Recording as RecordingRow
from storage_service.schemas.recordings import CommitRequest
from storage_service.services import sweeper, uploads
from storage_service.services.deletion import drain_queue
from tests.storage.conftest import _start
from tests.storage.support import Camera, CustomerSite, Recording, Service, create_site

FAR_FUTURE_MS = 10**15


@pytest.fixture(scope="module", params=["embedded", "pg_minio"])
def svc(request: pytest.FixtureRequest) -> Iterator[Service]:
    # The background sweeper stays out of the way: the tests run its steps themselves.
    yield from _start(request, request.param, CAMVAULT_SWEEPER_INTERVAL_S="3600")


@pytest.fixture
def site(svc: Service) -> Iterator[CustomerSite]:
    s = create_site(svc.url)
    yield s
    s.close()


def _open_upload(cam: Camera, rec: Recording) -> dict[str, Any]:
    r = cam.client.post(f"{cam.base}/uploads", json=rec.upload_body())
    assert r.status_code == 201, r.text
    up: dict[str, Any] = r.json()
    assert httpx.put(up["put_url"], content=rec.payload).status_code == 200
    return up


def _commit_in_process(svc: Service, cam: Camera, rec: Recording, upload_id: str) -> Any:
    engine = svc.engine()
    try:
        return uploads.commit(
            engine,
            svc.store(),
            svc.settings,
            cam.site.site_id,
            cam.camera_id,
            rec.recording_id,
            CommitRequest.model_validate(rec.commit_body(upload_id)),
        )
    finally:
        engine.dispose()


def _queued(svc: Service) -> list[str]:
    engine = svc.engine()
    try:
        with Session(engine) as s:
            return [d.object_key for d in s.exec(select(DeletionQueue)).all()]
    finally:
        engine.dispose()


def _drain(svc: Service) -> None:
    engine = svc.engine()
    try:
        while drain_queue(engine, svc.store(), now=FAR_FUTURE_MS):
            pass
    finally:
        engine.dispose()


def _export_ok(site: CustomerSite, cam: Camera, rec: Recording) -> None:
    """The export is the camera's age file and its payload hashes to the signed manifest's."""
    r = site.client.get(f"{cam.base}/recordings/{rec.recording_id}/export")
    assert r.status_code == 200, r.text
    assert r.content == rec.header + rec.payload
    m = rec.manifest.unverified_statement
    assert isinstance(m, Manifest)
    assert hashlib.sha256(r.content[len(rec.header) :]).digest() == m.payload_sha256


def _recording_key(svc: Service, site: CustomerSite, rec: Recording) -> str:
    engine = svc.engine()
    try:
        with Session(engine) as s:
            row = s.exec(
                select(RecordingRow).where(
                    RecordingRow.site_id == site.site_id,
                    RecordingRow.recording_id == rec.recording_id,
                )
            ).one()
            return row.object_key
    finally:
        engine.dispose()


def _objects_under(store: BlobStore, site: CustomerSite) -> list[str]:
    return [o.key for o in store.list_objects(f"sites/{site.site_id}/")]


# --- finding 1: the sweeper expires the upload while commit checks the payload ---------------


def test_upload_expired_during_commit_refuses_the_commit(
    svc: Service, site: CustomerSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    cam = site.enroll_camera()
    rec = cam.record(b"x" * 5000)
    up = _open_upload(cam, rec)
    staging_key = (
        f"sites/{site.site_id}/cameras/{cam.camera_id}/{rec.recording_id}/{up['upload_id']}"
    )
    check = uploads._check_copy
    swept: list[int] = []

    def check_then_sweep(*args: Any) -> None:
        check(*args)
        # the upload expires and the sweeper runs while the payload is being hashed
        engine = svc.engine()
        try:
            swept.append(sweeper.expire_uploads(engine, FAR_FUTURE_MS))
        finally:
            engine.dispose()

    monkeypatch.setattr(uploads, "_check_copy", check_then_sweep)
    with pytest.raises(ApiError) as exc:
        _commit_in_process(svc, cam, rec, up["upload_id"])
    assert swept == [1]
    assert exc.value.code == "upload_expired"
    assert STATUS[exc.value.code] == 410
    assert "while it was being committed" in str(exc.value)
    # nothing committed, the chain head did not move, the staging object is left to expire
    r = site.client.get(f"{cam.base}/recordings/{rec.recording_id}")
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "recording_not_found"
    assert staging_key in _queued(svc)
    # the commit's own copy was removed: only the staging object is left, and it goes
    store = svc.store()
    assert _objects_under(store, site) == [staging_key]
    _drain(svc)
    assert _objects_under(store, site) == []
    # the camera starts over with a new upload, same manifest (the chain did not advance)
    monkeypatch.setattr(uploads, "_check_copy", check)
    up2 = _open_upload(cam, rec)
    r = cam.client.post(
        f"{cam.base}/recordings/{rec.recording_id}/commit", json=rec.commit_body(up2["upload_id"])
    )
    assert r.status_code == 201, r.text
    _export_ok(site, cam, rec)


def test_sweep_after_commit_never_queues_the_payload(svc: Service, site: CustomerSite) -> None:
    cam = site.enroll_camera()
    rec = cam.record(b"y" * 5000)
    up = _open_upload(cam, rec)
    done = _commit_in_process(svc, cam, rec, up["upload_id"])
    assert done.created
    engine = svc.engine()
    try:
        # the commit took the upload row: a sweep, however late its clock, finds nothing
        with Session(engine) as s:
            assert s.get(Upload, up["upload_id"]) is None
        assert sweeper.expire_uploads(engine, FAR_FUTURE_MS) == 0
    finally:
        engine.dispose()
    assert done.recording.object_key not in _queued(svc)
    _drain(svc)
    _export_ok(site, cam, rec)


def test_sweeper_skips_an_object_a_recording_points_to(svc: Service, site: CustomerSite) -> None:
    """Recordings committed before the fix kept their upload's key: an (expired) upload row
    naming that key must not get the recording's payload deleted."""
    cam = site.enroll_camera()
    rec = cam.record(b"w" * 3000)
    up = _open_upload(cam, rec)
    r = cam.client.post(
        f"{cam.base}/recordings/{rec.recording_id}/commit", json=rec.commit_body(up["upload_id"])
    )
    assert r.status_code == 201, r.text
    key = _recording_key(svc, site, rec)
    engine = svc.engine()
    try:
        with Session(engine) as s:
            s.add(
                Upload(
                    id="f" * 32,
                    site_id=site.site_id,
                    camera_id=cam.camera_id,
                    recording_id=rec.recording_id,
                    kind="segment",
                    start_ms=0,
                    end_ms=1,
                    payload_size=3000,
                    object_key=key,
                    created_ms=0,
                    expires_ms=1,
                )
            )
            s.commit()
        assert sweeper.expire_uploads(engine, now_ms()) == 1
        with Session(engine) as s:
            assert s.get(Upload, "f" * 32) is None
    finally:
        engine.dispose()
    assert key not in _queued(svc)
    _drain(svc)
    _export_ok(site, cam, rec)


# --- finding 2: the upload's presigned PUT URL after commit ------------------------------------


def test_put_through_upload_url_after_commit_changes_nothing(
    svc: Service, site: CustomerSite
) -> None:
    cam = site.enroll_camera()
    rec = cam.record(b"z" * 5000)
    up = _open_upload(cam, rec)
    r = cam.client.post(
        f"{cam.base}/recordings/{rec.recording_id}/commit", json=rec.commit_body(up["upload_id"])
    )
    assert r.status_code == 201, r.text
    staging_key = (
        f"sites/{site.site_id}/cameras/{cam.camera_id}/{rec.recording_id}/{up['upload_id']}"
    )
    key = _recording_key(svc, site, rec)
    assert key != staging_key
    assert key.startswith(f"sites/{site.site_id}/cameras/{cam.camera_id}/{rec.recording_id}/rec-")
    # the URL is still within its lifetime
    evil = b"Z" * len(rec.payload)
    put = httpx.put(up["put_url"], content=evil)
    if svc.settings.blobstore == "local":
        # the embedded store refuses writes once the upload is no longer open
        assert put.status_code == 403, put.text
        assert "no open upload" in put.json()["error"]["message"]
    else:
        # S3 cannot be told: the PUT lands on the staging key, which nothing serves
        assert put.status_code == 200, put.text
    _export_ok(site, cam, rec)
    r = site.client.get(f"{cam.base}/recordings/{rec.recording_id}")
    assert r.status_code == 200
    assert httpx.get(r.json()["download_url"]).content == rec.payload
    _drain(svc)
    _export_ok(site, cam, rec)


def test_overwrite_between_check_and_commit_is_not_served(
    svc: Service, site: CustomerSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The uploader swaps the staging object after the commit copied and checked it."""
    cam = site.enroll_camera()
    rec = cam.record(b"v" * 5000)
    up = _open_upload(cam, rec)
    check = uploads._check_copy

    def check_then_overwrite(*args: Any) -> None:
        check(*args)
        assert httpx.put(up["put_url"], content=b"E" * len(rec.payload)).status_code == 200

    monkeypatch.setattr(uploads, "_check_copy", check_then_overwrite)
    done = _commit_in_process(svc, cam, rec, up["upload_id"])
    assert done.created
    _export_ok(site, cam, rec)


def test_payload_swapped_before_commit_is_refused(svc: Service, site: CustomerSite) -> None:
    cam = site.enroll_camera()
    rec = cam.record(b"u" * 5000)
    up = _open_upload(cam, rec)
    assert httpx.put(up["put_url"], content=b"E" * len(rec.payload)).status_code == 200
    r = cam.client.post(
        f"{cam.base}/recordings/{rec.recording_id}/commit", json=rec.commit_body(up["upload_id"])
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "object_hash_mismatch"
    # the refused attempt's copy is gone; the staging object stays for a corrected upload
    staging_key = (
        f"sites/{site.site_id}/cameras/{cam.camera_id}/{rec.recording_id}/{up['upload_id']}"
    )
    assert _objects_under(svc.store(), site) == [staging_key]


def test_s3_uploads_are_limited_to_one_copy_request(svc: Service, site: CustomerSite) -> None:
    """Commit copies the payload with one CopyObject (at most 5 GiB): S3 refuses larger
    uploads up front instead of failing at commit."""
    cam = site.enroll_camera()
    rec = cam.record(b"q", advance=False)
    body = rec.upload_body(payload_size=MAX_COPY_SIZE + 1, multipart=True, part_size=2**30)
    r = cam.client.post(f"{cam.base}/uploads", json=body)
    if svc.settings.blobstore == "local":
        assert r.status_code == 201, r.text
    else:
        assert r.status_code == 413, r.text
        assert r.json()["error"]["code"] == "recording_too_large"
        assert str(MAX_COPY_SIZE) in r.json()["error"]["message"]
