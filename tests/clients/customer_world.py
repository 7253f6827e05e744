"""A real world for the customer and operator CLI tests: the storage service (embedded
defaults: SQLite + local object store) and three custodian processes (t = 2) that deliver
their access notices to the storage inbox, sharing one ARC key; a test camera that encrypts
and uploads exactly like a camera (recipients and escrow keys read from the site's
customer-signed SiteKeys); a panel that signs AlarmEvents; a CliRunner for `camvault`."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from camvault.cli import app
from clients.camera.config import SourceConfig
from clients.camera.segmenter import ffmpeg_command
from clients.cli import customer as customercli
from clients.cli import helpers as clihelpers
from clients.cli import operator as operatorcli
from clients.common import signed_from_json
from clients.customer.state import CustomerState
from common.http import SignedClient
from common.time import now_ms
from crypto import age, escrow
from crypto.ed25519 import Ed25519SigningKey
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import (
    AlarmEvent,
    AlarmType,
    Manifest,
    SiteKeys,
    manifest_hash,
    sign_statement,
)
from tests.escrow.harness import CustodianProc
from tests.storage.support import Service, make_service
from tests.support.services import MinioServer, PostgresServer

ACCESS_PERIOD_S = 120


@dataclass
class World:
    storage: Service
    custodians: list[CustodianProc]
    arc_key: Ed25519SigningKey
    workdir: Path

    @property
    def custodian_urls(self) -> list[str]:
        return [c.url for c in self.custodians]

    def arc_key_file(self) -> Path:
        path = self.workdir / "arc.key"
        if not path.exists():
            path.write_text(self.arc_key.to_text() + "\n")
            path.chmod(0o600)
        return path


@contextmanager
def running_world(
    workdir: Path,
    *,
    postgres: PostgresServer | None = None,
    minio: MinioServer | None = None,
    **storage_env: str,
) -> Iterator[World]:
    """Storage + three custodians sharing one ARC key. On the embedded defaults (SQLite +
    local object store) unless `postgres` / `minio` are given: then every service has its
    own database on that server and storage its own bucket."""
    arc = Ed25519SigningKey.generate()
    tag = uuid.uuid4().hex[:10]
    storage = make_service(
        workdir / "storage",
        postgres.create_database(f"st_{tag}") if postgres else None,
        minio.settings_env(f"st-{tag}") if minio else None,
        **{
            "CAMVAULT_ARC_PUBLIC_KEY": arc.public_key.to_text(),
            "CAMVAULT_ALARM_ACCESS_PERIOD_S": str(ACCESS_PERIOD_S),
            "CAMVAULT_SSE_POLL_INTERVAL_S": "0.2",
            "CAMVAULT_SSE_KEEPALIVE_S": "1",
            **storage_env,
        },
    )
    (workdir / "storage").mkdir(parents=True, exist_ok=True)
    custodians = [
        CustodianProc(
            f"c{i}",
            workdir,
            postgres.create_database(f"esc_{tag}_c{i}")
            if postgres
            else f"sqlite:///{workdir / f'c{i}' / 'escrow.db'}",
            {
                "CAMVAULT_ESCROW_ARC_PUBLIC_KEY": arc.public_key.to_text(),
                "CAMVAULT_ESCROW_NOTIFY_URL": storage.url + "/v1/notices",
                "CAMVAULT_ESCROW_ACCESS_PERIOD_S": str(ACCESS_PERIOD_S),
            },
        )
        for i in (1, 2, 3)
    ]
    try:
        storage.start()
        for c in custodians:
            c.start()
        yield World(storage, custodians, arc, workdir)
    finally:
        for c in custodians:
            c.stop()
        storage.stop()


@pytest.fixture(scope="module", name="world")
def world_fixture() -> Iterator[World]:
    workdir = Path(tempfile.mkdtemp(prefix="camvault-clients-"))
    try:
        with running_world(workdir) as world:
            yield world
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


runner = CliRunner()


def cli(*args: str | Path, env: dict[str, str] | None = None, code: int = 0) -> Result:
    """Run `camvault <args>` in-process; check the exit status."""
    customercli.console.width = 250
    clihelpers.err_console.width = 250
    operatorcli.console.width = 250
    result = runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)
    assert result.exit_code == code, f"exit {result.exit_code}:\n{result.output}"
    return result


@dataclass
class TestCamera:
    """Encrypts like a camera: to the recipients and custodians of the SiteKeys it fetched
    (and verified under the pinned key it was given), signs the manifest chain, uploads."""

    url: str
    site_id: str
    camera_id: str
    customer_key: Ed25519SigningKey | None = None  # pinned (verify SiteKeys), if known
    key: Ed25519SigningKey = field(default_factory=Ed25519SigningKey.generate)
    sequence: int = 0
    prev: bytes | None = None
    plaintexts: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, bytes] = field(default_factory=dict)  # as first written
    metas: dict[str, RecordingMetadata] = field(default_factory=dict)

    __test__ = False

    @property
    def client(self) -> SignedClient:
        return SignedClient(self.url, f"device:{self.site_id}/{self.camera_id}", self.key)

    def site_keys(self) -> SiteKeys:
        with self.client as c:
            r = c.get(f"/v1/sites/{self.site_id}")
            assert r.status_code == 200, r.text
            signed = signed_from_json(r.json()["site_keys"])
        st = signed.unverified_statement
        assert isinstance(st, SiteKeys)
        return signed.verify(st.customer_key, SiteKeys)

    def post_head(self, interval_s: int = 3600) -> None:
        """Sign and post the camera's chain head (clients/camera/heads.py), as the agent does."""
        from clients.camera.heads import head_path, sign_head

        head = sign_head(
            self.key, self.site_id, self.camera_id, self.sequence, self.prev, interval_s
        )
        with self.client as c:
            r = c.post(head_path(self.site_id, self.camera_id), json={"head": head.to_json()})
        assert r.status_code in (200, 201), r.text

    def record(
        self,
        start_ms: int,
        *,
        duration_ms: int = 2000,
        kind: RecordingKind = RecordingKind.SEGMENT,
        plaintext: bytes | None = None,
        recording_id: str | None = None,
    ) -> str:
        keys = self.site_keys()
        rid = recording_id or f"rec-{uuid.uuid4().hex[:10]}"
        plain = plaintext if plaintext is not None else os.urandom(70_000) + rid.encode()
        meta = RecordingMetadata(
            self.site_id, self.camera_id, rid, kind, start_ms, start_ms + duration_ms
        )
        recipients = escrow.build_recipient_set(
            list(keys.recipients), [c.sealing_key() for c in keys.custodians], keys.threshold, meta
        )
        header, file_key = age.encrypt_header(recipients)
        out = io.BytesIO()
        age.encrypt_payload(file_key, io.BytesIO(plain), out)
        payload = out.getvalue()
        manifest = sign_statement(
            Manifest(
                site_id=self.site_id,
                camera_id=self.camera_id,
                recording_id=rid,
                kind=kind,
                start_ms=start_ms,
                end_ms=start_ms + duration_ms,
                payload_sha256=hashlib.sha256(payload).digest(),
                payload_size=len(payload),
                header_sha256=hashlib.sha256(header).digest(),
                sequence=self.sequence,
                prev_manifest_sha256=self.prev,
                issued_at_ms=now_ms(),
            ),
            self.key,
        )
        base = f"/v1/sites/{self.site_id}/cameras/{self.camera_id}"
        with self.client as c:
            r = c.post(
                f"{base}/uploads",
                json={
                    "recording_id": rid,
                    "kind": kind.value,
                    "start_ms": start_ms,
                    "end_ms": start_ms + duration_ms,
                    "payload_size": len(payload),
                },
            )
            assert r.status_code in (200, 201), r.text
            up = r.json()
            assert httpx.put(up["put_url"], content=payload, timeout=60).status_code == 200
            r = c.post(
                f"{base}/recordings/{rid}/commit",
                json={
                    "upload_id": up["upload_id"],
                    "header": base64.b64encode(header).decode(),
                    "manifest": manifest.to_json(),
                },
            )
            assert r.status_code == 201, r.text
        self.sequence += 1
        self.prev = manifest_hash(manifest)
        self.plaintexts[rid] = plain
        self.headers[rid], self.metas[rid] = header, meta
        return rid


@dataclass
class TestPanel:
    url: str
    site_id: str
    panel_id: str
    key: Ed25519SigningKey = field(default_factory=Ed25519SigningKey.generate)
    counter: int = 0

    __test__ = False

    def raise_alarm(self, triggered_at_ms: int | None = None) -> dict[str, Any]:
        self.counter += 1
        event = sign_statement(
            AlarmEvent(
                site_id=self.site_id,
                panel_id=self.panel_id,
                event_id=f"ev-{uuid.uuid4().hex[:10]}",
                alarm_type=AlarmType.INTRUSION,
                triggered_at_ms=now_ms() if triggered_at_ms is None else triggered_at_ms,
                counter=self.counter,
            ),
            self.key,
        )
        with SignedClient(self.url, f"device:{self.site_id}/{self.panel_id}", self.key) as c:
            r = c.post(f"/v1/sites/{self.site_id}/alarms", json={"event": event.to_json()})
        assert r.status_code == 201, r.text
        return dict(r.json())


@dataclass
class Customer:
    """A customer set up through the CLI: `init`, `site create`, one camera, one panel."""

    world: World
    state: Path
    site_id: str
    camera: TestCamera
    panel: TestPanel

    @property
    def env(self) -> dict[str, str]:
        return {"CAMVAULT_CUSTOMER_DIR": str(self.state)}

    def run(self, *args: str | Path, code: int = 0) -> Result:
        return cli("customer", *args, env=self.env, code=code)


def setup_customer(
    world: World, tmp: Path, *, pre_alarm: int = 30, pq_escrow: bool | None = None
) -> Customer:
    """``pq_escrow``: None, `site create`'s default (hybrid escrow when every custodian
    publishes a hybrid key, as the world's do); True / False: --pq-escrow / --no-pq-escrow."""
    label = f"site-{uuid.uuid4().hex[:8]}"
    state = tmp / f"customer-{label}"
    env = {"CAMVAULT_CUSTOMER_DIR": str(state)}
    cli("customer", "init", env=env)
    args = ["customer", "site", "create", "--label", label, "--storage", world.storage.url]
    for u in world.custodian_urls:
        args += ["--custodian", u]
    pq = {None: [], True: ["--pq-escrow"], False: ["--no-pq-escrow"]}[pq_escrow]
    cli(*args, "--threshold", "2", *pq, env=env)
    # the site's id is the label bound to the site key `customer init` made (crypto.siteid)
    site_id = CustomerState(state).site()[1]
    camera = TestCamera(world.storage.url, site_id, "cam-front")
    cli(
        "customer",
        "enroll-camera",
        "cam-front",
        "--device-key",
        camera.key.public_key.to_text(),
        "--model",
        "test-cam",
        "--pre-alarm",
        str(pre_alarm),
        "--post-alarm",
        "60",
        env=env,
    )
    panel = TestPanel(world.storage.url, site_id, "panel-1")
    cli(
        "customer",
        "enroll-panel",
        "panel-1",
        "--device-key",
        panel.key.public_key.to_text(),
        env=env,
    )
    return Customer(world, state, site_id, camera, panel)


@dataclass
class Operator:
    world: World
    state: Path
    operator_id: str

    @property
    def env(self) -> dict[str, str]:
        return {"CAMVAULT_OPERATOR_DIR": str(self.state)}

    def run(self, *args: str | Path, code: int = 0) -> Result:
        return cli("operator", *args, env=self.env, code=code)


def setup_operator(world: World, tmp: Path, role: str = "operator") -> Operator:
    """`operator init` (key + pinned custodian keys), then the ARC registers it."""
    oid = f"{role[:4]}-{uuid.uuid4().hex[:6]}"
    op = Operator(world, tmp / f"operator-{oid}", oid)
    args = ["init", "--id", oid, "--role", role, "--storage", world.storage.url]
    for u in world.custodian_urls:
        args += ["--custodian", u]
    op.run(*args)
    out = op.run("register", "--arc-key", world.arc_key_file()).output
    assert out.count("registered at") == 4, out
    return op


@functools.cache
def video_segments(n: int = 4, seconds: float = 2.0) -> tuple[bytes, ...]:
    """``n`` real MPEG-TS segments (test pattern and tone) cut by the camera agent's own
    ffmpeg command, for tests whose recordings must play (made once per test process)."""
    with tempfile.TemporaryDirectory() as tmp:
        source = SourceConfig(realtime=False, duration_s=n * seconds)
        subprocess.run(ffmpeg_command(source, Path(tmp), seconds), check=True, timeout=120)
        return tuple(p.read_bytes() for p in sorted(Path(tmp).glob("seg_*.ts")))
