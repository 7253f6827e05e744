"""Technical telemetry: devices post health data under a strict schema, the ARC (and the
customer) read it per site and device, paged; the retention limit hides and then sweeps it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from common.time import now_ms
from crypto.statements import OperatorRole
from tests.storage.support import Service, create_site
from tests.storage.support_arc import count, enroll_panel, operator, refused, start


@pytest.fixture(scope="module", params=["embedded", "pg_minio"])
def arc(request: pytest.FixtureRequest) -> Iterator[Service]:
    yield from start(request, request.param)


@pytest.fixture(scope="module")
def short(request: pytest.FixtureRequest) -> Iterator[Service]:
    yield from start(request, "embedded", CAMVAULT_TELEMETRY_RETENTION_S="2")


def health(**extra: Any) -> dict[str, Any]:
    return {
        "reported_ms": now_ms(),
        "battery_pct": 87,
        "signal_dbm": -61,
        "firmware": "1.4.2+build.7",
        "storage_health": "ok",
        "storage_free_bytes": 12_000_000_000,
        "temperature_c": 41.5,
        "uptime_s": 86_400,
        **extra,
    }


def test_post_and_read(arc: Service) -> None:
    site = create_site(arc.url)
    cam = site.enroll_camera()
    panel = enroll_panel(site)
    for i in range(3):
        r = cam.client.post(
            f"/v1/sites/{site.site_id}/devices/{cam.camera_id}/telemetry", json=health(uptime_s=i)
        )
        assert r.status_code == 201, r.text
    minimal = {
        "reported_ms": now_ms(),
        "firmware": "p-2",
        "storage_health": "absent",
        "uptime_s": 5,
    }
    r = panel.client.post(
        f"/v1/sites/{site.site_id}/devices/{panel.panel_id}/telemetry", json=minimal
    )
    assert r.status_code == 201, r.text
    assert r.json()["battery_pct"] is None

    op = operator(arc)
    path = f"/v1/sites/{site.site_id}/telemetry"
    everything = op.get(path).json()["items"]
    assert len(everything) == 4
    page = op.get(path, params={"device_id": cam.camera_id, "limit": 2}).json()
    assert [i["uptime_s"] for i in page["items"]] == [2, 1]  # newest first
    rest = op.get(path, params={"device_id": cam.camera_id, "cursor": page["next_cursor"]}).json()
    assert [i["uptime_s"] for i in rest["items"]] == [0] and rest["next_cursor"] is None
    assert rest["items"][0]["temperature_c"] == 41.5
    tech = operator(arc, OperatorRole.TECHNICIAN)
    assert len(tech.get(path).json()["items"]) == 4
    assert len(site.client.get(path).json()["items"]) == 4
    # devices do not read telemetry; telemetry never shows up among recordings
    refused(arc, lambda: cam.client.get(path), 403, "wrong_principal")
    assert site.client.get(f"/v1/sites/{site.site_id}/recordings").json()["items"] == []
    refused(arc, lambda: op.get(path, params={"cursor": "bm9wZQ"}), 400, "invalid_cursor")
    op.close()
    tech.close()
    site.close()


@pytest.mark.parametrize(
    "change",
    [
        {"unknown": 1},
        {"battery_pct": "87"},
        {"battery_pct": True},
        {"battery_pct": 101},
        {"signal_dbm": 5},
        {"temperature_c": "hot"},
        {"storage_health": "fine"},
        {"firmware": "1.0 beta"},
        {"uptime_s": -1},
        {"uptime_s": 1.5},
        {"reported_ms": None},
    ],
)
def test_strict_schema(arc: Service, change: dict[str, Any]) -> None:
    site = create_site(arc.url)
    cam = site.enroll_camera()
    path = f"/v1/sites/{site.site_id}/devices/{cam.camera_id}/telemetry"
    refused(arc, lambda: cam.client.post(path, json=health(**change)), 422, "validation_error")
    site.close()


def test_who_may_post(arc: Service) -> None:
    site = create_site(arc.url)
    cam, other = site.enroll_camera(), site.enroll_camera()
    path = f"/v1/sites/{site.site_id}/devices/{cam.camera_id}/telemetry"
    refused(arc, lambda: other.client.post(path, json=health()), 403, "wrong_principal")
    refused(arc, lambda: site.client.post(path, json=health()), 403, "wrong_principal")
    op = operator(arc)
    refused(arc, lambda: op.post(path, json=health()), 403, "wrong_principal")
    refused(
        arc,
        lambda: cam.client.post(path, content=b"{}", content_type="text/plain"),
        415,
        "unsupported_media_type",
    )
    op.close()
    site.close()


def test_retention(short: Service) -> None:
    site = create_site(short.url)
    cam = site.enroll_camera()
    r = cam.client.post(
        f"/v1/sites/{site.site_id}/devices/{cam.camera_id}/telemetry", json=health()
    )
    assert r.status_code == 201
    where = f"site_id = '{site.site_id}'"
    assert count(short, "device_telemetry", where) == 1
    time.sleep(2.2)
    # past its retention: never served, then deleted by the sweeper
    assert site.client.get(f"/v1/sites/{site.site_id}/telemetry").json()["items"] == []
    deadline = time.monotonic() + 10
    while count(short, "device_telemetry", where) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert count(short, "device_telemetry", where) == 0
    site.close()
