"""Helpers of the alarm, consent, telemetry and inbox tests: a service configured with an ARC
key and short SSE intervals, ARC principals, panels, SSE reading, and a snapshot that also
covers the alarm, consent, telemetry and inbox tables."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from httpx_sse._decoders import SSEDecoder

from common.http import SignedClient
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.statements import (
    AlarmEvent,
    AlarmType,
    DeviceEnrollment,
    DeviceKind,
    OperatorRegistration,
    OperatorRole,
    SignedStatement,
    sign_statement,
)
from tests.storage.conftest import _start
from tests.storage.support import CustomerSite, Service, snapshot

ARC_KEY = Ed25519SigningKey.generate()
ACCESS_PERIOD_S = 30
ARC_ENV = {
    "CAMVAULT_ARC_PUBLIC_KEY": ARC_KEY.public_key.to_text(),
    "CAMVAULT_ALARM_ACCESS_PERIOD_S": str(ACCESS_PERIOD_S),
    "CAMVAULT_SSE_POLL_INTERVAL_S": "0.2",
    "CAMVAULT_SSE_KEEPALIVE_S": "1",
}
ARC_TABLES = (
    "alarms",
    "panel_counters",
    "consent_requests",
    "consents",
    "device_telemetry",
    "inbox_items",
)


def start(request: pytest.FixtureRequest, kind: str, **extra: str) -> Iterator[Service]:
    yield from _start(request, kind, **{**ARC_ENV, **extra})


def full_snapshot(service: Service) -> dict[str, Any]:
    out = snapshot(service)
    engine = service.engine()
    try:
        with engine.connect() as conn:
            for table in ARC_TABLES:
                rows = conn.execute(sa.text(f"SELECT * FROM {table}")).mappings().all()
                out[table] = sorted(repr(sorted(dict(r).items())) for r in rows)
    finally:
        engine.dispose()
    return out


def refused(service: Service, send: Any, status: int, code: str) -> dict[str, Any]:
    """``send()`` is answered ``status``/``code`` and nothing stored changes."""
    before = full_snapshot(service)
    r = send()
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"]["code"] == code, body
    assert full_snapshot(service) == before, "a refused request changed what is stored"
    return dict(body)


def count(service: Service, table: str, where: str = "1=1") -> int:
    engine = service.engine()
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar_one()
            )
    finally:
        engine.dispose()


def operator(service: Service, role: OperatorRole = OperatorRole.OPERATOR) -> SignedClient:
    """A registered ARC principal (keyid ``operator:<id>``)."""
    op_id = f"{role.value}-{uuid.uuid4().hex[:8]}"
    key = Ed25519SigningKey.generate()
    reg = sign_statement(OperatorRegistration(op_id, key.public_key, role, now_ms()), ARC_KEY)
    client = SignedClient(service.url, f"operator:{op_id}", key)
    r = client.post("/v1/operators", json={"registration": reg.to_json()})
    assert r.status_code == 201, r.text
    return client


def op_id(client: SignedClient) -> str:
    return client.keyid.split(":", 1)[1]


@dataclass
class Panel:
    site: CustomerSite
    panel_id: str
    key: Ed25519SigningKey
    client: SignedClient
    counter: int = 0

    def event(
        self,
        *,
        event_id: str | None = None,
        triggered_at_ms: int | None = None,
        counter: int | None = None,
        signer: Ed25519SigningKey | None = None,
        site_id: str | None = None,
        panel_id: str | None = None,
    ) -> SignedStatement:
        if counter is None:
            self.counter += 1
            counter = self.counter
        return sign_statement(
            AlarmEvent(
                site_id=site_id or self.site.site_id,
                panel_id=panel_id or self.panel_id,
                event_id=event_id or f"ev-{uuid.uuid4().hex[:10]}",
                alarm_type=AlarmType.INTRUSION,
                triggered_at_ms=triggered_at_ms if triggered_at_ms is not None else now_ms(),
                counter=counter,
            ),
            signer or self.key,
        )

    def post(self, event: SignedStatement) -> httpx.Response:
        return self.client.post(
            f"/v1/sites/{self.site.site_id}/alarms", json={"event": event.to_json()}
        )

    def raise_alarm(self, **kw: Any) -> dict[str, Any]:
        r = self.post(self.event(**kw))
        assert r.status_code == 201, r.text
        return dict(r.json())


def enroll_panel(site: CustomerSite) -> Panel:
    pid = f"panel-{uuid.uuid4().hex[:8]}"
    key = Ed25519SigningKey.generate()
    enrollment = sign_statement(
        DeviceEnrollment(
            site.site_id, pid, DeviceKind.PANEL, "test-panel", key.public_key, None, now_ms()
        ),
        site.key,
    )
    r = site.client.post(
        f"/v1/sites/{site.site_id}/devices", json={"enrollment": enrollment.to_json()}
    )
    assert r.status_code == 201, r.text
    return Panel(site, pid, key, SignedClient(site.url, f"device:{site.site_id}/{pid}", key))


def read_sse(
    client: SignedClient,
    path: str,
    *,
    until: str,
    timeout_s: float = 20.0,
    headers: dict[str, str] | None = None,
    **kw: Any,
) -> list[tuple[str, dict[str, Any], str | None]]:
    """Read events ``(event, data, id)`` until one named ``until`` (inclusive). ``headers``
    are added after signing (e.g. ``Last-Event-ID``, not a covered component)."""
    events: list[tuple[str, dict[str, Any], str | None]] = []
    deadline = time.monotonic() + timeout_s
    request = client.build("GET", path, **kw)
    request.headers.update(headers or {})
    r = client.send(request, stream=True)
    with contextlib.closing(r):
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        decoder = SSEDecoder()  # httpx-sse's, as clients/api/sse.py reads the feed
        for line in r.iter_lines():
            if time.monotonic() > deadline:
                raise AssertionError(f"no {until!r} event within {timeout_s} s: {events}")
            event = decoder.decode(line)
            if event is not None and event.data:
                events.append((event.event or "message", json.loads(event.data), event.id or None))
                if event.event == until:
                    return events
    raise AssertionError(f"stream ended without {until!r}: {events}")
