"""Real custodian processes and a small world (site, panel, cameras, operator) for the tests."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from clients.operator.release import CustodianEndpoint, Recording
from common.http import SignedClient
from common.time import now_ms
from crypto import age, escrow
from crypto.age.x25519 import generate_identity
from crypto.ed25519 import Ed25519PublicKey, Ed25519SigningKey
from crypto.escrow import CustodianPublicKey, HybridCustodianPublicKey
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.siteid import site_id_for
from crypto.statements import (
    AlarmCancel,
    AlarmEvent,
    AlarmType,
    CameraProfile,
    Consent,
    ConsentScope,
    Custodian,
    DeviceEnrollment,
    DeviceKind,
    OperatorRegistration,
    OperatorRole,
    Purpose,
    Revocation,
    SignedStatement,
    SiteKeys,
    sign_statement,
)
from tests.support.services import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@dataclass
class CustodianProc:
    cid: str
    workdir: Path
    db_url: str
    env_extra: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.cid}.log"

    def start(self) -> None:
        env = dict(os.environ)
        env.update(
            CAMVAULT_ESCROW_CUSTODIAN_ID=self.cid,
            CAMVAULT_ESCROW_DATA_DIR=str(self.workdir / self.cid),
            CAMVAULT_ESCROW_DATABASE_URL=self.db_url,
            CAMVAULT_ESCROW_CRYPTO_WORKERS="0",
            CAMVAULT_ESCROW_NOTIFY_INTERVAL_S="0.2",
            # Signatures covering another @authority are refused (clients use self.url).
            CAMVAULT_ESCROW_PUBLIC_AUTHORITY=f"127.0.0.1:{self.port}",
        )
        env.update(self.env_extra)
        with self.log_path.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "escrow_service", "--port", str(self.port)],
                cwd=REPO,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(
            lambda: _healthy(self.url),
            what=f"custodian {self.cid}",
            proc=self.proc,
            log=self.log_path,
            timeout=60,
        )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def endpoint(self) -> CustodianEndpoint:
        info = httpx.get(self.url + "/v1/custodian", timeout=10).json()
        return CustodianEndpoint(
            custodian_id=info["custodian_id"],
            url=self.url,
            escrow_key=CustodianPublicKey.from_text(info["escrow_key"]),
            log_key=Ed25519PublicKey.from_text(info["log_key"]),
            hybrid_escrow_key=(
                HybridCustodianPublicKey.from_text(info["hybrid_escrow_key"])
                if info.get("hybrid_escrow_key")
                else None
            ),
        )


@dataclass
class Cluster:
    backend: str
    custodians: list[CustodianProc]
    arc_key: Ed25519SigningKey
    threshold: int = 2

    def endpoints(self) -> list[CustodianEndpoint]:
        return [c.endpoint() for c in self.custodians]

    def post_all(self, path: str, body: dict[str, Any]) -> list[httpx.Response]:
        return [httpx.post(c.url + path, json=body, timeout=30) for c in self.custodians]

    def close(self) -> None:
        for c in self.custodians:
            c.stop()


PROFILE = CameraProfile(pre_alarm_s=30, post_alarm_s=60, live_allowed=True, stills_only=False)
STILLS = CameraProfile(pre_alarm_s=30, post_alarm_s=60, live_allowed=False, stills_only=True)
NO_LIVE = CameraProfile(pre_alarm_s=30, post_alarm_s=60, live_allowed=False, stills_only=False)
HOUR = CameraProfile(pre_alarm_s=3600, post_alarm_s=60, live_allowed=False, stills_only=False)


@dataclass
class Site:
    """A customer's site. ``site_id`` is given as a label: the site's id is that label bound
    to the customer key (crypto.siteid), as every enrollment requires."""

    site_id: str
    customer_key: Ed25519SigningKey = field(default_factory=Ed25519SigningKey.generate)
    panel_key: Ed25519SigningKey = field(default_factory=Ed25519SigningKey.generate)
    identity: Any = field(default_factory=generate_identity)
    cameras: dict[str, CameraProfile] = field(
        default_factory=lambda: {
            "cam-front": PROFILE,
            "cam-still": STILLS,
            "cam-nolive": NO_LIVE,
            "cam-hour": HOUR,
        }
    )
    panel_id: str = "panel-1"
    escrow_keys: list[CustodianPublicKey] = field(default_factory=list)
    signed: list[SignedStatement] = field(default_factory=list)  # what the customer signed

    def __post_init__(self) -> None:
        self.site_id = site_id_for(self.customer_key.public_key, self.site_id)

    def sign(self, st: Any) -> SignedStatement:
        signed = sign_statement(st, self.customer_key)
        self.signed.append(signed)
        return signed

    def enroll(self, cluster: Cluster) -> None:
        eps = cluster.endpoints()
        self.escrow_keys = [e.escrow_key for e in eps]
        keys = SiteKeys(
            site_id=self.site_id,
            version=1,
            customer_key=self.customer_key.public_key,
            recipients=(self.identity.recipient(),),
            custodians=tuple(
                Custodian(e.custodian_id, e.escrow_key, e.log_key, e.url) for e in eps
            ),
            threshold=cluster.threshold,
            issued_at_ms=now_ms(),
        )
        for r in cluster.post_all("/v1/sites", {"site_keys": self.sign(keys).to_json()}):
            assert r.status_code == 200, r.text
        devices = [
            DeviceEnrollment(
                self.site_id,
                self.panel_id,
                DeviceKind.PANEL,
                "panel-x",
                self.panel_key.public_key,
                None,
                now_ms(),
            )
        ] + [
            DeviceEnrollment(
                self.site_id,
                cam,
                DeviceKind.CAMERA,
                f"model-{cam}",
                Ed25519SigningKey.generate().public_key,
                profile,
                now_ms(),
            )
            for cam, profile in self.cameras.items()
        ]
        for d in devices:
            body = {"device_enrollment": self.sign(d).to_json()}
            for r in cluster.post_all(f"/v1/sites/{self.site_id}/devices", body):
                assert r.status_code == 200, r.text

    def alarm(
        self,
        event_id: str,
        counter: int,
        triggered_at_ms: int | None = None,
        key: Ed25519SigningKey | None = None,
        panel_id: str | None = None,
    ) -> SignedStatement:
        ev = AlarmEvent(
            site_id=self.site_id,
            panel_id=panel_id or self.panel_id,
            event_id=event_id,
            alarm_type=AlarmType.INTRUSION,
            triggered_at_ms=now_ms() - 10_000 if triggered_at_ms is None else triggered_at_ms,
            counter=counter,
        )
        return sign_statement(ev, key or self.panel_key)

    def cancel(self, cluster: Cluster, event_id: str) -> None:
        c = AlarmCancel(self.site_id, self.panel_id, event_id, now_ms())
        for r in cluster.post_all(
            f"/v1/sites/{self.site_id}/alarm-cancels", {"alarm_cancel": self.sign(c).to_json()}
        ):
            assert r.status_code == 200, r.text

    def consent(
        self,
        consent_id: str,
        grantee: str,
        *,
        cameras: tuple[str, ...] = ("cam-front",),
        scope: tuple[ConsentScope, ...] = (ConsentScope.RECORDINGS,),
        rec_from: int,
        rec_to: int,
        not_before: int | None = None,
        not_after: int | None = None,
    ) -> SignedStatement:
        now = now_ms()
        c = Consent(
            consent_id=consent_id,
            site_id=self.site_id,
            grantee_id=grantee,
            grantee_key=None,
            cameras=cameras,
            scope=scope,
            recordings_from_ms=rec_from,
            recordings_to_ms=rec_to,
            not_before_ms=now - 60_000 if not_before is None else not_before,
            not_after_ms=now + 3_600_000 if not_after is None else not_after,
            purpose=Purpose.MAINTENANCE,
            issued_at_ms=now,
        )
        return self.sign(c)

    def revoke(self, cluster: Cluster, consent_id: str) -> None:
        rev = Revocation(self.site_id, consent_id, now_ms())
        for r in cluster.post_all(
            f"/v1/sites/{self.site_id}/revocations", {"revocation": self.sign(rev).to_json()}
        ):
            assert r.status_code == 200, r.text

    def record(
        self,
        rid: str,
        start_ms: int,
        end_ms: int,
        camera: str = "cam-front",
        kind: RecordingKind = RecordingKind.SEGMENT,
        plaintext: bytes | None = None,
    ) -> tuple[Recording, bytes, bytes]:
        meta = RecordingMetadata(self.site_id, camera, rid, kind, start_ms, end_ms)
        plain = plaintext if plaintext is not None else f"video {rid}".encode() * 50
        recipients = escrow.build_recipient_set(
            [self.identity.recipient()], self.escrow_keys, 2, meta
        )
        header, file_key = age.encrypt_header(recipients)
        payload = io.BytesIO()
        age.encrypt_payload(file_key, io.BytesIO(plain), payload)
        return Recording(header, meta), payload.getvalue(), plain

    def customer_client(self, url: str) -> SignedClient:
        return SignedClient(url, f"customer:{self.site_id}", self.customer_key)


def register_operator(
    cluster: Cluster, operator_id: str, role: OperatorRole = OperatorRole.OPERATOR
) -> Ed25519SigningKey:
    key = Ed25519SigningKey.generate()
    reg = OperatorRegistration(operator_id, key.public_key, role, now_ms())
    body = {"registration": sign_statement(reg, cluster.arc_key).to_json()}
    for r in cluster.post_all("/v1/operators", body):
        assert r.status_code == 200, r.text
    return key
