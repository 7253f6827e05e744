"""What the adversary modules share: the running system of a module (``Arena``: the ``stack``
fixture's storage service and three custodians, t = 2), customers set up through the real
CLI (``Home``), operators registered by the ARC at every service, and the checks every attack
ends with: each custodian refused for the reason and logged it (signed checkpoint, inclusion,
stored bytes), and the customer's own audit (clients/audit/site.py) lists the refusal and
finds nothing wrong. Controls use the same helpers with a valid request."""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from clients.api.storage import StorageApi, header_bytes
from clients.audit.site import CustodianAudit, audit_site
from clients.common import signed_from_json
from clients.customer.state import CustomerState
from clients.operator.release import (
    CustodianEndpoint,
    Recording,
    decrypt_recording,
    gather_releases,
)
from clients.operator.state import OperatorState
from common.http import SignedClient
from common.time import now_ms
from crypto import age, escrow
from crypto.ed25519 import Ed25519SigningKey
from crypto.escrow import SessionKey
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import (
    AlarmEvent,
    AlarmType,
    Manifest,
    OperatorRegistration,
    OperatorRole,
    SignedStatement,
    SiteKeys,
    manifest_hash,
    sign_statement,
)
from tests.clients.customer_world import Customer, TestCamera, World, setup_customer, setup_operator
from tests.clients.customer_world import Operator as CliOperator
from tests.escrow.ends_support import ask, expect_refusal, logged_entry
from tests.escrow.harness import Cluster

ALARM = "alarm-verification"
MAINT = "maintenance"
Operator = tuple[str, Ed25519SigningKey]


@dataclass
class Arena:
    """One module's running system and a scratch directory."""

    world: World
    cluster: Cluster
    eps: list[CustodianEndpoint]
    tmp: Path

    @property
    def storage_url(self) -> str:
        return self.world.storage.url


def arena_of(world: World, tmp: Path) -> Arena:
    cluster = Cluster("postgres", world.custodians, world.arc_key)
    return Arena(world, cluster, cluster.endpoints(), tmp)


def enlist(
    arena: Arena, role: OperatorRole = OperatorRole.OPERATOR, oid: str | None = None
) -> Operator:
    """A new ARC operator (or technician), registered by the ARC at storage and custodians."""
    oid = oid or f"{role.value[:4]}-{uuid.uuid4().hex[:8]}"
    key = Ed25519SigningKey.generate()
    reg = sign_statement(
        OperatorRegistration(oid, key.public_key, role, now_ms()), arena.world.arc_key
    )
    with StorageApi.connect(arena.storage_url, f"operator:{oid}", key) as storage:
        assert storage.register_operator(reg) == 201
    for r in arena.cluster.post_all("/v1/operators", {"registration": reg.to_json()}):
        assert r.status_code == 200, r.text
    return oid, key


@dataclass
class Home:
    """A customer's site on the whole system, set up with the `camvault customer` CLI."""

    arena: Arena
    customer: Customer
    extra: dict[str, TestCamera] = field(default_factory=dict)  # cameras beyond cam-front

    @property
    def site_id(self) -> str:
        return self.customer.site_id

    @property
    def state(self) -> CustomerState:
        return CustomerState(self.customer.state)

    @property
    def key(self) -> Ed25519SigningKey:
        return self.state.site_key()

    def storage(self) -> StorageApi:
        return StorageApi.connect(self.arena.storage_url, f"customer:{self.site_id}", self.key)

    def camera(self, camera_id: str = "cam-front", **profile: str) -> TestCamera:
        """The site's camera; another id is enrolled first (``live="--no-live"`` etc.)."""
        if camera_id == "cam-front":
            return self.customer.camera
        if camera_id in self.extra:
            return self.extra[camera_id]
        cam = TestCamera(self.arena.storage_url, self.site_id, camera_id)
        self.customer.run(
            "enroll-camera",
            camera_id,
            "--device-key",
            cam.key.public_key.to_text(),
            *profile.values(),
        )
        self.extra[camera_id] = cam
        return cam

    def upload(
        self,
        start_ms: int,
        *,
        camera: TestCamera | None = None,
        kind: RecordingKind = RecordingKind.SEGMENT,
        duration_ms: int = 2000,
        plaintext: bytes | None = None,
    ) -> Recording:
        """A recording the camera encrypts and uploads; its header as the storage holds it."""
        cam = camera or self.customer.camera
        rid = cam.record(start_ms, duration_ms=duration_ms, kind=kind, plaintext=plaintext)
        with self.storage() as s:
            header = header_bytes(s.recording(self.site_id, cam.camera_id, rid))
        assert header is not None
        meta = RecordingMetadata(
            self.site_id, cam.camera_id, rid, kind, start_ms, start_ms + duration_ms
        )
        return Recording(header, meta)

    def plaintext(self, rec: Recording) -> bytes:
        for cam in [self.customer.camera, *self.extra.values()]:
            if rec.metadata.recording_id in cam.plaintexts:
                return cam.plaintexts[rec.metadata.recording_id]
        raise KeyError(rec.metadata.recording_id)

    def payload(self, rec: Recording) -> bytes:
        m = rec.metadata
        with self.storage() as s:
            url = s.recording(self.site_id, m.camera_id, m.recording_id)["download_url"]
        r = httpx.get(url, timeout=60)
        assert r.status_code == 200, r.text
        return r.content

    def alarm(self, triggered_at_ms: int | None = None) -> tuple[str, SignedStatement]:
        """The panel raises an alarm at the storage service: (alarm id, signed AlarmEvent)."""
        out = self.customer.panel.raise_alarm(triggered_at_ms)
        return str(out["alarm_id"]), signed_from_json(out["event"])

    def sign(self, statement: Any) -> SignedStatement:
        """Signed with the site key and remembered (the audit expects what it signed)."""
        state = self.state
        signed = sign_statement(statement, state.site_key())
        state.remember(signed)
        state.save()
        return signed

    def audit(self) -> list[CustodianAudit]:
        return audit_site(self.state)

    def store_consent(self, consent: SignedStatement) -> None:
        """The customer stores a consent it signed at the storage service (no request)."""
        with self.customer_client(self.arena.storage_url) as c:
            r = c.post(f"/v1/sites/{self.site_id}/consents", json={"consent": consent.to_json()})
        assert r.status_code == 201, r.text

    def customer_client(self, url: str) -> SignedClient:
        return SignedClient(url, f"customer:{self.site_id}", self.key)


def event(
    home: Home,
    triggered_at_ms: int | None = None,
    *,
    counter: int | None = None,
    key: Ed25519SigningKey | None = None,
    panel_id: str | None = None,
    event_id: str | None = None,
) -> SignedStatement:
    """An AlarmEvent signed by the site's panel (or ``key``), its counter the panel's next."""
    panel = home.customer.panel
    if counter is None:
        panel.counter += 1
        counter = panel.counter
    body = AlarmEvent(
        site_id=home.site_id,
        panel_id=panel_id or panel.panel_id,
        event_id=event_id or f"ev-{uuid.uuid4().hex[:10]}",
        alarm_type=AlarmType.INTRUSION,
        triggered_at_ms=now_ms() - 1_000 if triggered_at_ms is None else triggered_at_ms,
        counter=counter,
    )
    return sign_statement(body, key or panel.key)


def cli_operator(arena: Arena, role: str = "operator") -> tuple[CliOperator, Operator]:
    """An operator set up with `camvault operator init` / `register` (the ARC's key)."""
    op = setup_operator(arena.world, arena.tmp, role)
    return op, (op.operator_id, OperatorState(op.state).key())


def new_home(arena: Arena, **kw: Any) -> Home:
    return Home(arena, setup_customer(arena.world, arena.tmp, **kw))


def refused_everywhere(
    arena: Arena,
    operator: Operator,
    justification: SignedStatement | None,
    recordings: list[Recording],
    reason: str,
    purpose: str = ALARM,
) -> list[dict[str, Any]]:
    """Every custodian refuses the whole request for ``reason`` and logs the refusal."""
    return expect_refusal(
        arena.cluster, arena.eps, operator, justification, recordings, reason, purpose
    )


def items_refused_everywhere(
    arena: Arena,
    operator: Operator,
    justification: SignedStatement,
    recordings: list[Recording],
    reason: str,
    purpose: str = ALARM,
) -> None:
    """Every custodian refuses each recording for ``reason``: nothing released, logged."""
    for proc, ep in zip(arena.cluster.custodians, arena.eps, strict=True):
        rel = ask(ep, operator, justification, recordings, purpose)
        assert rel.sealed == {}
        assert {r: v[0] for r, v in rel.refused.items()} == {
            r.metadata.recording_id: reason for r in recordings
        }
        entry = logged_entry(proc, ep, rel.receipt)
        assert entry["type"] == "refusal"
        assert entry["refused"]["reasons"] == {reason: len(recordings)}


def released(
    arena: Arena,
    home: Home,
    operator: Operator,
    justification: SignedStatement,
    rec: Recording,
    purpose: str = ALARM,
) -> None:
    """Control: t custodians release, and the shares open the recording the camera made."""
    session = SessionKey.generate()
    releases = gather_releases(
        arena.eps,
        2,
        *operator,
        purpose=purpose,
        justification=justification,
        session=session,
        recordings=[rec],
    )
    out = io.BytesIO()
    decrypt_recording(releases, rec, session, io.BytesIO(home.payload(rec)), out)
    assert out.getvalue() == home.plaintext(rec)


def audit_reports(home: Home, reason: str, *, listed: bool = True) -> None:
    """The customer's audit of every custodian is clean and shows the ``reason`` refusal
    (of the whole request, or of recordings in it). ``listed=False``: a request refused before
    its body is read (request signature, unregistered operator) or with no justification
    names no site; it is logged without one, so it is in no site's audit, and it must not be
    a finding either."""
    for audit in home.audit():
        assert audit.ok, (audit.custodian.custodian_id, audit.error, audit.findings)
        assert audit.report is not None
        refusals = [e for _, e in audit.report.site_entries if e.get("type") == "refusal"]
        seen = any(
            e.get("reason") == reason or reason in (e.get("refused") or {}).get("reasons", {})
            for e in refusals
        )
        assert seen == listed, refusals[-3:]


def try_record(
    cam: TestCamera,
    start_ms: int,
    *,
    path_camera: str | None = None,
    path_site: str | None = None,
    manifest_camera: str | None = None,
    recording_id: str | None = None,
    keys: SiteKeys | None = None,
) -> httpx.Response:
    """What TestCamera.record does, with the camera's key, but aimed elsewhere (another
    camera's or site's path, a manifest naming another camera, a recording id already used;
    ``keys``: SiteKeys fetched before, when the key may no longer read them):
    the first refused response (or the commit's). The chain advances only on success."""
    keys = keys or cam.site_keys()
    rid = recording_id or f"rec-{uuid.uuid4().hex[:10]}"
    site_id, camera_id = path_site or cam.site_id, path_camera or cam.camera_id
    meta = RecordingMetadata(
        site_id, camera_id, rid, RecordingKind.SEGMENT, start_ms, start_ms + 2000
    )
    recipients = escrow.build_recipient_set(
        list(keys.recipients), [c.escrow_key for c in keys.custodians], keys.threshold, meta
    )
    header, file_key = age.encrypt_header(recipients)
    out = io.BytesIO()
    age.encrypt_payload(file_key, io.BytesIO(b"forged" * 1000), out)
    payload = out.getvalue()
    manifest = sign_statement(
        Manifest(
            site_id=site_id,
            camera_id=manifest_camera or camera_id,
            recording_id=rid,
            kind=RecordingKind.SEGMENT,
            start_ms=start_ms,
            end_ms=start_ms + 2000,
            payload_sha256=hashlib.sha256(payload).digest(),
            payload_size=len(payload),
            header_sha256=hashlib.sha256(header).digest(),
            sequence=cam.sequence,
            prev_manifest_sha256=cam.prev,
            issued_at_ms=now_ms(),
        ),
        cam.key,
    )
    base = f"/v1/sites/{site_id}/cameras/{camera_id}"
    with cam.client as c:
        r = c.post(
            f"{base}/uploads",
            json={
                "recording_id": rid,
                "kind": "segment",
                "start_ms": start_ms,
                "end_ms": start_ms + 2000,
                "payload_size": len(payload),
            },
        )
        if r.status_code not in (200, 201):
            return r
        put = httpx.put(r.json()["put_url"], content=payload, timeout=60)
        assert put.status_code == 200, put.text
        body = {
            "upload_id": r.json()["upload_id"],
            "header": base64.b64encode(header).decode(),
            "manifest": manifest.to_json(),
        }
        r = c.post(f"{base}/recordings/{rid}/commit", json=body)
    if r.status_code == 201:
        cam.sequence += 1
        cam.prev = manifest_hash(manifest)
    return r
