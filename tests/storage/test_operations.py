"""Operations: schema policy at start, sweeper surviving restarts and run from the CLI,
expired uploads, readiness when the object store is down, several workers, operator
registration, and logs that are JSON without secrets."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa

from common.http import SignedClient
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.statements import OperatorRegistration, OperatorRole, sign_statement
from storage_service.db import upgrade
from tests.storage.support import CAMVAULT, Service, create_site, make_service
from tests.support.services import MinioServer, PostgresServer


def _wait(cond: object, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def test_refuses_outdated_schema_unless_auto_migrate(tmp_path: Path) -> None:
    svc = make_service(tmp_path, None, None, CAMVAULT_AUTO_MIGRATE="false")
    upgrade(svc.settings.effective_database_url, "0001_sites")
    out = subprocess.run(
        [str(CAMVAULT), "serve", "storage", "--port", "1"],
        env={**os.environ, **svc.env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2
    assert "schema is at revision 0001_sites" in out.stderr
    assert "camvault db upgrade" in out.stderr
    # after `camvault db upgrade` it starts
    up = subprocess.run(
        [str(CAMVAULT), "db", "upgrade"], env={**os.environ, **svc.env}, cwd=tmp_path, check=False
    )
    assert up.returncode == 0
    svc.start()
    try:
        assert httpx.get(svc.url + "/readyz").status_code == 200
    finally:
        svc.stop()


def test_deletion_queue_survives_restart_and_cli_sweep(
    tmp_path: Path, postgres: PostgresServer, minio: MinioServer
) -> None:
    tag = uuid.uuid4().hex[:8]
    svc = make_service(
        tmp_path,
        postgres.create_database(f"ops_{tag}"),
        minio.settings_env(f"ops-{tag}"),
        CAMVAULT_SWEEPER_ENABLED="false",
    ).start()
    site = create_site(svc.url)
    cam = site.enroll_camera()
    rec = cam.record(b"to be deleted " * 100)
    assert cam.upload(rec).status_code == 201
    key = _only_object(svc)
    assert site.client.delete(f"{cam.base}/recordings/{rec.recording_id}").json() == {"deleted": 1}
    svc.stop()  # no sweeper ran: the object is still there, the queue row too
    store = svc.store()
    assert store.exists(key)
    assert _queue(svc) == [key]
    out = subprocess.run(
        [str(CAMVAULT), "serve", "sweep"],
        env={**os.environ, **svc.env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["objects_deleted"] == 1
    assert not store.exists(key)
    assert _queue(svc) == []
    site.close()


def _only_object(svc: Service) -> str:
    keys = [o.key for o in svc.store().list_objects("")]
    assert len(keys) == 1
    return keys[0]


def _queue(svc: Service) -> list[str]:
    engine = svc.engine()
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.text("SELECT object_key FROM deletion_queue"))]
    finally:
        engine.dispose()


def test_expired_uploads_are_swept(tmp_path: Path) -> None:
    svc = make_service(tmp_path, None, None, CAMVAULT_UPLOAD_EXPIRY_S="1").start()
    try:
        site = create_site(svc.url)
        cam = site.enroll_camera()
        rec = cam.record(b"never committed " * 100, advance=False)
        up = cam.client.post(f"{cam.base}/uploads", json=rec.upload_body()).json()
        assert httpx.put(up["put_url"], content=rec.payload).status_code == 200
        store = svc.store()
        assert _wait(lambda: not list(store.list_objects("sites/")))
        r = cam.client.post(
            f"{cam.base}/recordings/{rec.recording_id}/commit",
            json=rec.commit_body(up["upload_id"]),
        )
        assert r.status_code in (404, 410) and r.json()["error"]["code"] in (
            "upload_not_found",
            "upload_expired",
        )
        # a new upload of the same recording works
        assert cam.upload(rec).status_code == 201
        site.close()
    finally:
        svc.stop()


def test_readyz_reports_the_object_store(tmp_path: Path, minio_private: MinioServer) -> None:
    svc = make_service(tmp_path, None, minio_private.settings_env("ready")).start()
    try:
        assert httpx.get(svc.url + "/readyz").status_code == 200
        minio_private.stop()
        r = httpx.get(svc.url + "/readyz", timeout=60)
        assert r.status_code == 503
        assert r.json()["checks"]["object_store"].startswith("error")
        assert r.json()["checks"]["database"] == "ok"
        assert httpx.get(svc.url + "/healthz").status_code == 200
        # a request needing the store fails cleanly (503), never a 500
        site = create_site(svc.url)
        cam = site.enroll_camera()
        rec = cam.record(b"x" * 100)
        r = cam.client.post(f"{cam.base}/uploads", json=rec.upload_body())
        assert r.status_code in (201, 503), r.text
        minio_private.restart()
        assert _wait(lambda: httpx.get(svc.url + "/readyz").status_code == 200, 60)
        site.close()
    finally:
        svc.stop()


def test_workers_operators_and_logs(
    tmp_path: Path, postgres: PostgresServer, minio: MinioServer
) -> None:
    arc = Ed25519SigningKey.generate()
    tag = uuid.uuid4().hex[:8]
    svc = make_service(
        tmp_path,
        postgres.create_database(f"ops_{tag}"),
        minio.settings_env(f"ops-{tag}"),
        CAMVAULT_ARC_PUBLIC_KEY=arc.public_key.to_text(),
    ).start(workers=2)
    try:
        op_key = Ed25519SigningKey.generate()
        reg = sign_statement(
            OperatorRegistration("op-1", op_key.public_key, OperatorRole.OPERATOR, now_ms()), arc
        )
        op = SignedClient(svc.url, "operator:op-1", op_key)
        r = op.post("/v1/operators", json={"registration": reg.to_json()})
        assert r.status_code == 201, r.text
        assert op.post("/v1/operators", json={"registration": reg.to_json()}).status_code == 200
        forged = sign_statement(
            OperatorRegistration("op-2", op_key.public_key, OperatorRole.TECHNICIAN, now_ms()),
            op_key,
        )
        op2 = SignedClient(svc.url, "operator:op-2", op_key)
        bad = op2.post("/v1/operators", json={"registration": forged.to_json()})
        assert (
            bad.status_code == 422 and bad.json()["error"]["code"] == "statement_signature_invalid"
        )
        # an operator has no access to site resources here
        site = create_site(svc.url)
        denied = op.get(f"/v1/sites/{site.site_id}/recordings")
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "wrong_principal"
        # many requests spread over both workers
        cam = site.enroll_camera()
        for _ in range(4):
            assert cam.upload(cam.record(b"w" * 1000)).status_code == 201
        assert len(site.client.get(f"/v1/sites/{site.site_id}/recordings").json()["items"]) == 4
        metrics = httpx.get(svc.url + "/metrics").text
        assert "camvault_recordings_committed_total" in metrics
        site.close()
    finally:
        svc.stop()
    lines = [ln for ln in svc.log_text().splitlines() if ln.startswith("{")]
    records = [json.loads(ln) for ln in lines]
    requests = [r for r in records if r.get("msg") == "request"]
    assert requests and all({"method", "route", "status", "ms"} <= set(r) for r in requests)
    assert any(r["route"] == "/v1/sites/{site_id}/recordings" for r in requests)
    text = svc.log_text()
    for secret in (
        "sig1=",
        "X-Amz-Signature",
        "age-encryption.org",
        "ed25519-secret:",
        "AGE-SECRET-KEY",
    ):
        assert secret not in text, secret
    assert svc.env["CAMVAULT_S3_SECRET_KEY"] not in text
