"""Security review: a header rewrite racing a delete must not undo the crypto-shred.

Under PostgreSQL READ COMMITTED a read-then-write of the header could write it back onto a
recording deleted between the read and the write. The delete is run in-process at exactly
that point (monkeypatching the read) against the real service's database.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from common.time import now_ms
from storage_service.core.errors import STATUS, ApiError, Reason
from storage_service.db.models import Recording as RecordingRow
from storage_service.services import recordings
from storage_service.services.deletion import shred
from tests.storage.conftest import _start
from tests.storage.support import CustomerSite, Recording, Service, create_site


@pytest.fixture(scope="module", params=["embedded", "pg_minio"])
def svc(request: pytest.FixtureRequest) -> Iterator[Service]:
    yield from _start(request, request.param)


@pytest.fixture
def site(svc: Service) -> Iterator[CustomerSite]:
    s = create_site(svc.url)
    yield s
    s.close()


def test_replace_header_on_deleted_recording(svc: Service, site: CustomerSite) -> None:
    cam = site.enroll_camera()
    rec = cam.record(b"t" * 2000)
    assert cam.upload(rec).status_code == 201
    path = f"{cam.base}/recordings/{rec.recording_id}"
    assert site.client.delete(path).status_code in (200, 204)
    r = site.client.put(f"{path}/header", json={"header": base64.b64encode(rec.header).decode()})
    assert r.status_code == 410, r.text
    assert r.json()["error"]["code"] == "recording_deleted"
    assert _header_of(svc, site, rec) is None


def test_replace_header_racing_a_delete(
    svc: Service, site: CustomerSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delete commits after replace_header read the (live) row and before it writes."""
    cam = site.enroll_camera()
    rec = cam.record(b"s" * 2000)
    assert cam.upload(rec).status_code == 201
    read = recordings.get_recording

    def read_then_delete(s: Session, site_id: str, camera_id: str, recording_id: str) -> Any:
        row = read(s, site_id, camera_id, recording_id)
        assert row.header is not None
        engine = svc.engine()
        try:
            assert shred(engine, RecordingRow.id == row.id, now_ms(), "customer") == 1
        finally:
            engine.dispose()
        return row

    monkeypatch.setattr(recordings, "get_recording", read_then_delete)
    engine = svc.engine()
    try:
        with pytest.raises(ApiError) as exc:
            recordings.replace_header(
                engine,
                svc.store(),
                svc.settings,
                site.site_id,
                cam.camera_id,
                rec.recording_id,
                base64.b64encode(rec.header).decode(),
            )
    finally:
        engine.dispose()
    assert exc.value.code == "recording_deleted"
    assert STATUS[Reason.RECORDING_DELETED] == 410
    assert _header_of(svc, site, rec) is None


def _header_of(svc: Service, site: CustomerSite, rec: Recording) -> bytes | None:
    engine = svc.engine()
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT header, deleted_ms FROM recordings "
                    "WHERE site_id = :s AND recording_id = :r"
                ),
                {"s": site.site_id, "r": rec.recording_id},
            ).one()
    finally:
        engine.dispose()
    assert row.deleted_ms is not None
    header: bytes | None = row.header
    return header
