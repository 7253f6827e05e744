"""Helpers of the storage-service tests: a real uvicorn process of the service, and a small
"world" of customers, cameras and custodians that make real age recordings."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from common.http import SignedClient
from common.time import now_ms
from crypto.age import encrypt_header, encrypt_payload
from crypto.age.format import FileKey
from crypto.age.x25519 import X25519Identity
from crypto.ed25519 import Ed25519SigningKey
from crypto.escrow import CustodianKey, build_recipient_set
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.siteid import site_id_for
from crypto.statements import (
    CameraProfile,
    Custodian,
    DeviceEnrollment,
    DeviceKind,
    Manifest,
    SignedStatement,
    SiteKeys,
    manifest_hash,
    sign_statement,
)
from storage_service.blobstore import BlobStore, open_blobstore
from storage_service.core.settings import Settings
from storage_service.db.engine import make_engine
from tests.support.services import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
CAMVAULT = REPO / ".venv" / "bin" / "camvault"


# --- the service process --------------------------------------------------------------------


@dataclass
class Service:
    url: str
    env: dict[str, str]
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def settings(self) -> Settings:
        values: dict[str, Any] = {
            k[len("CAMVAULT_") :].lower(): v
            for k, v in self.env.items()
            if k.startswith("CAMVAULT_")
        }
        return Settings(**values)

    def start(self, workers: int = 1) -> Service:
        log = self.workdir / "service.log"
        port = self.url.rsplit(":", 1)[1]
        self.proc = subprocess.Popen(
            [
                str(CAMVAULT),
                "serve",
                "storage",
                "--host",
                "127.0.0.1",
                "--port",
                port,
                "--workers",
                str(workers),
            ],
            cwd=self.workdir,
            env={**os.environ, **self.env},
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def ready() -> bool:
            try:
                return httpx.get(self.url + "/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, what="storage service", proc=self.proc, log=log, timeout=60)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    def log_text(self) -> str:
        return (self.workdir / "service.log").read_text(errors="replace")

    def store(self) -> BlobStore:
        return open_blobstore(self.settings)

    def engine(self) -> sa.Engine:
        return make_engine(self.settings.effective_database_url)


def make_service(
    workdir: Path, db_url: str | None, s3_env: dict[str, str] | None, **extra: str
) -> Service:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "CAMVAULT_DATA_DIR": str(workdir / "data"),
        "CAMVAULT_PUBLIC_URL": url,
        "CAMVAULT_AUTO_MIGRATE": "true",
        "CAMVAULT_SWEEPER_INTERVAL_S": "0.5",
        "CAMVAULT_LOG_LEVEL": "INFO",
        **(s3_env or {}),
        **extra,
    }
    if db_url:
        env["CAMVAULT_DATABASE_URL"] = db_url
    return Service(url, env, workdir)


# --- customers, cameras, recordings ----------------------------------------------------------


@dataclass
class Recording:
    recording_id: str
    header: bytes
    payload: bytes
    manifest: SignedStatement
    plaintext: bytes
    file_key: FileKey

    def commit_body(self, upload_id: str, **extra: Any) -> dict[str, Any]:
        return {
            "upload_id": upload_id,
            "header": base64.b64encode(self.header).decode(),
            "manifest": self.manifest.to_json(),
            **extra,
        }

    def upload_body(self, **extra: Any) -> dict[str, Any]:
        m = self.manifest.unverified_statement
        assert isinstance(m, Manifest)
        return {
            "recording_id": m.recording_id,
            "kind": m.kind.value,
            "start_ms": m.start_ms,
            "end_ms": m.end_ms,
            "payload_size": m.payload_size,
            **extra,
        }


@dataclass
class Camera:
    site: CustomerSite
    camera_id: str
    key: Ed25519SigningKey
    client: SignedClient
    sequence: int = 0
    prev: bytes | None = None

    @property
    def base(self) -> str:
        return f"/v1/sites/{self.site.site_id}/cameras/{self.camera_id}"

    def record(
        self,
        plaintext: bytes,
        *,
        recording_id: str | None = None,
        start_ms: int | None = None,
        kind: RecordingKind = RecordingKind.SEGMENT,
        advance: bool = True,
    ) -> Recording:
        """Encrypt like a camera: customer recipient + 2-of-3 escrow; sign the manifest."""
        rid = recording_id or f"rec-{uuid.uuid4().hex[:12]}"
        start = start_ms if start_ms is not None else now_ms() - 10_000
        meta = RecordingMetadata(self.site.site_id, self.camera_id, rid, kind, start, start + 5000)
        recipients = build_recipient_set(
            [self.site.identity.recipient()],
            [c.public_key() for c in self.site.custodians],
            2,
            meta,
        )
        header, file_key = encrypt_header(recipients)
        out = io.BytesIO()
        encrypt_payload(file_key, io.BytesIO(plaintext), out)
        payload = out.getvalue()
        manifest = sign_statement(
            Manifest(
                site_id=self.site.site_id,
                camera_id=self.camera_id,
                recording_id=rid,
                kind=kind,
                start_ms=start,
                end_ms=start + 5000,
                payload_sha256=hashlib.sha256(payload).digest(),
                payload_size=len(payload),
                header_sha256=hashlib.sha256(header).digest(),
                sequence=self.sequence,
                prev_manifest_sha256=self.prev,
                issued_at_ms=now_ms(),
            ),
            self.key,
        )
        if advance:
            self.sequence += 1
            self.prev = manifest_hash(manifest)
        return Recording(rid, header, payload, manifest, plaintext, file_key)

    def upload(self, rec: Recording) -> httpx.Response:
        """Request an upload, PUT the payload to the presigned URL, commit."""
        r = self.client.post(f"{self.base}/uploads", json=rec.upload_body())
        assert r.status_code in (200, 201), r.text
        up = r.json()
        put = httpx.put(up["put_url"], content=rec.payload, timeout=120)
        assert put.status_code == 200, put.text
        return self.client.post(
            f"{self.base}/recordings/{rec.recording_id}/commit",
            json=rec.commit_body(up["upload_id"]),
        )


@dataclass
class CustomerSite:
    url: str
    site_id: str
    key: Ed25519SigningKey
    identity: X25519Identity
    custodians: list[CustodianKey]
    site_keys: SignedStatement
    client: SignedClient
    cameras: list[Camera] = field(default_factory=list)

    def enroll_camera(self, camera_id: str | None = None) -> Camera:
        cid = camera_id or f"cam-{uuid.uuid4().hex[:8]}"
        key = Ed25519SigningKey.generate()
        enrollment = sign_statement(
            DeviceEnrollment(
                site_id=self.site_id,
                device_id=cid,
                kind=DeviceKind.CAMERA,
                model="test-cam",
                device_key=key.public_key,
                camera_profile=CameraProfile(30, 60, True, False),
                issued_at_ms=now_ms(),
            ),
            self.key,
        )
        r = self.client.post(
            f"/v1/sites/{self.site_id}/devices", json={"enrollment": enrollment.to_json()}
        )
        assert r.status_code == 201, r.text
        cam = Camera(self, cid, key, SignedClient(self.url, f"device:{self.site_id}/{cid}", key))
        self.cameras.append(cam)
        return cam

    def close(self) -> None:
        self.client.close()
        for c in self.cameras:
            c.client.close()


def site_keys_statement(
    site_id: str,
    key: Ed25519SigningKey,
    identity: X25519Identity,
    custodians: list[CustodianKey],
    *,
    version: int = 1,
    signer: Ed25519SigningKey | None = None,
) -> SignedStatement:
    return sign_statement(
        SiteKeys(
            site_id=site_id,
            version=version,
            customer_key=key.public_key,
            recipients=(identity.recipient(),),
            custodians=tuple(
                Custodian(
                    f"cust-{i}", c.public_key(), Ed25519SigningKey.generate().public_key, None
                )
                for i, c in enumerate(custodians)
            ),
            threshold=2,
            issued_at_ms=now_ms(),
        ),
        signer or key,
    )


def create_site(url: str, label: str | None = None) -> CustomerSite:
    """A new site at the storage service; its id is ``label`` (default random) bound to a fresh
    customer key (crypto.siteid)."""
    key = Ed25519SigningKey.generate()
    sid = site_id_for(key.public_key, label or f"site-{uuid.uuid4().hex[:10]}")
    identity = X25519Identity.generate()
    custodians = [CustodianKey.generate() for _ in range(3)]
    statement = site_keys_statement(sid, key, identity, custodians)
    client = SignedClient(url, f"customer:{sid}", key)
    r = client.post("/v1/sites", json={"site_keys": statement.to_json()})
    assert r.status_code == 201, r.text
    return CustomerSite(url, sid, key, identity, custodians, statement, client)


# --- what the service stores -----------------------------------------------------------------

#: Tables a refused request must leave as they were (request_nonces records every accepted
#: signature, even of a request refused later, by design).
STATE_TABLES = (
    "sites",
    "site_settings",
    "devices",
    "uploads",
    "recordings",
    "deletion_queue",
    "operators",
)


def snapshot(service: Service) -> dict[str, Any]:
    """Every row of the domain tables and every object (key, size, sha256)."""
    engine = service.engine()
    out: dict[str, Any] = {}
    try:
        with engine.connect() as conn:
            for table in STATE_TABLES:
                rows = conn.execute(sa.text(f"SELECT * FROM {table}")).mappings().all()
                out[table] = sorted(repr(sorted(dict(r).items())) for r in rows)
    finally:
        engine.dispose()
    out["objects"] = sorted((o.key, o.size) for o in service.store().list_objects(""))
    return out


def iter_objects(store: BlobStore) -> Iterator[tuple[str, bytes]]:
    for info in store.list_objects(""):
        with store.get(info.key) as reader:
            yield info.key, b"".join(reader.iter_chunks())
