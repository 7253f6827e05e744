"""`camvault admin fsck` and `fsck-custodian` on real parts: a storage service process on
SQLite + local store (and on PostgreSQL + MinIO), a custodian database built by the
custodian's own migrations and log code. Each case breaks one thing and checks that fsck
names exactly it."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.escrow import CustodianKey
from crypto.statements import (
    AlarmCancel,
    AlarmClose,
    DeviceEnrollment,
    DeviceKind,
    OperatorRegistration,
    OperatorRole,
    RecordingDeletion,
    RetentionPolicy,
    Revocation,
    SignedStatement,
    SiteKeys,
    sign_statement,
)
from crypto.statements import Custodian as StatementCustodian
from escrow_service.core.auth import Caller
from escrow_service.core.keys import load_or_create
from escrow_service.core.settings import EscrowSettings
from escrow_service.db.engine import make_engine as escrow_engine
from escrow_service.db.migrate import upgrade as escrow_upgrade
from escrow_service.db.models import log_entries, notices, outbox
from escrow_service.services.escrow import EscrowService
from escrow_service.services.opener import Opener
from escrow_service.services.tlog_store import LogStore
from storage_service.blobstore import LocalBlobStore
from tests.escrow.harness import PROFILE
from tests.escrow.harness import Site as HarnessSite
from tests.storage.support import CAMVAULT, Camera, Service, create_site, make_service
from tests.support.services import MinioServer, PostgresServer


def _run(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    import os

    return subprocess.run(
        [str(CAMVAULT), "admin", *args],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _fsck(svc: Service) -> tuple[int, dict[str, Any]]:
    done = _run(["fsck", "--json"], svc.env, svc.workdir)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def _mine(body: dict[str, Any], site_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The problems about ``site_id`` (each case works on a site of its own)."""
    return [
        (p["kind"], p["ids"])
        for p in body["problems"]
        if p["ids"].get("site") == site_id or site_id in str(p["ids"].get("key", ""))
    ]


@pytest.fixture(scope="module", params=["embedded", "pg_minio"])
def svc(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    workdir = tmp_path_factory.mktemp("fsck")
    if request.param == "pg_minio":
        minio: MinioServer = request.getfixturevalue("minio")
        pg: PostgresServer = request.getfixturevalue("postgres")
        tag = uuid.uuid4().hex[:10]
        service = make_service(
            workdir, pg.create_database(f"fs_{tag}"), minio.settings_env(f"fs-{tag}")
        )
    else:
        service = make_service(workdir, None, None)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def _camera_with(svc: Service, n: int) -> tuple[str, Camera, list[str]]:
    site = create_site(svc.url)
    cam = site.enroll_camera()
    ids = []
    for i in range(n):
        rec = cam.record(b"frame %d " % i * 100)
        assert cam.upload(rec).status_code in (200, 201)
        ids.append(rec.recording_id)
    return site.site_id, cam, ids


def _row(svc: Service, site_id: str, recording_id: str) -> dict[str, Any]:
    engine = svc.engine()
    try:
        with engine.connect() as conn:
            row = (
                conn.execute(
                    sa.text("SELECT * FROM recordings WHERE site_id=:s AND recording_id=:r"),
                    {"s": site_id, "r": recording_id},
                )
                .mappings()
                .one()
            )
            return dict(row)
    finally:
        engine.dispose()


def _sql(svc: Service, statement: str, **params: Any) -> None:
    engine = svc.engine()
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()


def test_clean_site_is_clean(svc: Service) -> None:
    site_id, _, _ = _camera_with(svc, 3)
    code, body = _fsck(svc)
    assert _mine(body, site_id) == []
    if not body["problems"]:
        assert code == 0
    assert body["summary"]["recordings"] >= 3
    text = _run(["fsck"], svc.env, svc.workdir)
    assert "problems=" in text.stdout.strip().splitlines()[-1]


def _kinds_after(svc: Service, site_id: str) -> list[str]:
    code, body = _fsck(svc)
    assert code == 1
    return sorted(kind for kind, _ in _mine(body, site_id))


def test_payload_deleted(svc: Service) -> None:
    site_id, _, ids = _camera_with(svc, 2)
    svc.store().delete(_row(svc, site_id, ids[1])["object_key"])
    assert _kinds_after(svc, site_id) == ["payload_missing"]


def test_payload_truncated(svc: Service) -> None:
    import io

    site_id, _, ids = _camera_with(svc, 2)
    key = _row(svc, site_id, ids[0])["object_key"]
    store = svc.store()
    with store.get(key) as reader:
        data = b"".join(reader.iter_chunks())
    store.put(key, io.BytesIO(data[:-7]))
    assert _kinds_after(svc, site_id) == ["payload_size_mismatch"]


def test_orphan_object(svc: Service) -> None:
    import io

    site_id, _, _ = _camera_with(svc, 1)
    svc.store().put(f"sites/{site_id}/stray", io.BytesIO(b"x" * 10))
    assert _kinds_after(svc, site_id) == ["orphan_object"]


def test_sequence_gap(svc: Service) -> None:
    site_id, _, ids = _camera_with(svc, 3)
    row = _row(svc, site_id, ids[1])
    _sql(svc, "DELETE FROM recordings WHERE id=:i", i=row["id"])
    svc.store().delete(row["object_key"])
    assert _kinds_after(svc, site_id) == ["chain_broken"]


def test_corrupt_header(svc: Service) -> None:
    site_id, _, ids = _camera_with(svc, 1)
    row = _row(svc, site_id, ids[0])
    _sql(svc, "UPDATE recordings SET header=:h WHERE id=:i", h=b"not an age header\n", i=row["id"])
    assert _kinds_after(svc, site_id) == ["header_invalid"]


def test_listing_is_streamed(svc: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store listing and the database's keys are merged as they come (neither is read
    whole first), and a camera's chain is checked in windows: with windows of 2, a gap at
    a window's edge, a missing payload and an orphan are still named, and nothing else."""
    import io

    from storage_service.services import fsck

    site_id, _, ids = _camera_with(svc, 6)
    gone = _row(svc, site_id, ids[2])  # windows [0, 1] [3, 4] [5]: the gap is at an edge
    _sql(svc, "DELETE FROM recordings WHERE id=:i", i=gone["id"])
    store = svc.store()
    store.delete(gone["object_key"])
    store.delete(_row(svc, site_id, ids[4])["object_key"])
    store.put(f"sites/{site_id}/stray", io.BytesIO(b"x" * 10))
    events: list[str] = []

    class Listing:
        def list_objects(self) -> Iterator[Any]:
            for info in store.list_objects(page_size=2):
                events.append("object")
                yield info

    referenced = fsck._referenced

    def rows(engine: sa.Engine, conn: sa.Connection) -> Iterator[Any]:
        for row in referenced(engine, conn):
            events.append("row")
            yield row

    monkeypatch.setattr(fsck, "WINDOW", 2)
    monkeypatch.setattr(fsck, "_referenced", rows)
    engine = svc.engine()
    try:
        report = fsck.check(engine, Listing())  # type: ignore[arg-type]
    finally:
        engine.dispose()
    mine = [p for p in report.problems if site_id in str(p.ids)]
    assert sorted(p.kind for p in mine) == ["chain_broken", "orphan_object", "payload_missing"]
    assert [p.ids.get("sequence") for p in mine if p.kind == "chain_broken"] == [2]
    last = {e: len(events) - 1 - events[::-1].index(e) for e in ("object", "row")}
    assert events.index("row") < last["object"] and events.index("object") < last["row"]


def test_bad_configuration_is_one_line(tmp_path: Path) -> None:
    done = _run(["fsck"], {"CAMVAULT_DATA_DIR": str(tmp_path / "none")}, tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("camvault: error: ") and done.stderr.count("\n") == 1
    assert not (tmp_path / "none").exists()  # read-only: nothing created
    done = _run(["fsck"], {"CAMVAULT_BLOBSTORE": "ftp"}, tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1


# --- one custodian ---------------------------------------------------------------------------


@pytest.fixture
def custodian(tmp_path: Path) -> tuple[Path, sa.Engine, Path]:
    """A custodian data directory with a log of 5 entries (one release with its notice and
    outbox row) and a checkpoint signed at the full size."""
    data = tmp_path / "escrow-c7"
    keys = load_or_create(data, "c7")
    url = f"sqlite:///{data / 'escrow.db'}"
    escrow_upgrade(url)
    engine = escrow_engine(url)
    log = LogStore(engine, keys)
    with log.writer() as conn:
        for i in range(5):
            kind = "release" if i == 3 else "site-settings"
            entry = {"v": 1, "type": kind, "custodian_id": "c7", "time_ms": i}
            log.append(conn, entry, kind=kind, site_id="s1", now_ms=i)
        notice = conn.execute(
            notices.insert(),
            {"site_id": "s1", "log_index": 3, "body": "{}", "created_ms": 3},
        ).inserted_primary_key
        assert notice is not None
        conn.execute(outbox.insert(), {"notice_id": notice[0], "attempts": 0, "next_attempt_ms": 3})
    checkpoint = tmp_path / "cp5"
    checkpoint.write_bytes(log.checkpoint())
    return data, engine, checkpoint


def _fsck_custodian(data: Path, checkpoint: Path) -> tuple[int, dict[str, Any]]:
    done = _run(
        [
            "fsck-custodian",
            "--id",
            "c7",
            "--data-dir",
            str(data),
            "--checkpoint",
            str(checkpoint),
            "--json",
        ]
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def _kinds(body: dict[str, Any]) -> list[str]:
    return sorted({p["kind"] for p in body["problems"]})


def test_custodian_clean(custodian: tuple[Path, sa.Engine, Path]) -> None:
    data, _, checkpoint = custodian
    code, body = _fsck_custodian(data, checkpoint)
    assert (code, body["problems"]) == (0, [])
    assert body["summary"] == {
        "entries": 5,
        "notices": 1,
        "statements": 0,
        "checkpoints": 1,
        "problems": 0,
        "by_kind": {},
    }


def test_custodian_tampered_entry(custodian: tuple[Path, sa.Engine, Path]) -> None:
    data, engine, checkpoint = custodian
    with engine.begin() as conn:
        old = conn.execute(
            sa.select(log_entries.c.entry).where(log_entries.c.idx == 1)
        ).scalar_one()
        conn.execute(
            log_entries.update().where(log_entries.c.idx == 1),
            {"entry": bytes(old).replace(b'"time_ms":1', b'"time_ms":9')},
        )
    code, body = _fsck_custodian(data, checkpoint)
    assert code == 1
    assert _kinds(body) == ["checkpoint_mismatch", "leaf_mismatch"]


def _drop_entries(custodian: tuple[Path, sa.Engine, Path], *indexes: int) -> dict[str, Any]:
    data, engine, checkpoint = custodian
    with engine.begin() as conn:
        conn.execute(log_entries.delete().where(log_entries.c.idx.in_(indexes)))
    code, body = _fsck_custodian(data, checkpoint)
    assert code == 1
    return body


def test_custodian_removed_leaf(custodian: tuple[Path, sa.Engine, Path]) -> None:
    # The newest entry gone: only the checkpoint that signed it can tell.
    assert _kinds(_drop_entries(custodian, 4)) == ["checkpoint_beyond_log"]
    body = _drop_entries(custodian, 1)
    assert _kinds(body) == ["checkpoint_beyond_log", "log_gap"]
    assert [p["ids"] for p in body["problems"] if p["kind"] == "log_gap"] == [{"index": 1}]


def test_custodian_release_without_entry(custodian: tuple[Path, sa.Engine, Path]) -> None:
    body = _drop_entries(custodian, 3)
    assert _kinds(body) == ["checkpoint_beyond_log", "log_gap", "notice_without_entry"]
    assert [p["ids"] for p in body["problems"] if p["kind"] == "notice_without_entry"] == [
        {"notice": 1, "site": "s1", "index": 3}
    ]


def test_custodian_bad_configuration(tmp_path: Path) -> None:
    done = _run(["fsck-custodian", "--id", "c7", "--data-dir", str(tmp_path / "none")])
    assert done.returncode == 2
    assert done.stderr.startswith("camvault: error: ") and done.stderr.count("\n") == 1


def test_admin_group_keeps_start_up_lazy() -> None:
    """`camvault encrypt` and even `camvault admin --help` import no database or store code."""
    code = (
        "import sys; from camvault.cli import build_app;"
        "build_app('encrypt'); assert 'sqlalchemy' not in sys.modules, 'encrypt';"
        "build_app('admin'); heavy = [m for m in ('sqlalchemy', 'boto3', 'fastapi')"
        " if m in sys.modules]; assert not heavy, heavy"
    )
    done = subprocess.run(
        [str(CAMVAULT.parent / "python"), "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "fsck-custodian" in _run(["--help"]).stdout


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_custodian_after_real_releases(backend: str, request: pytest.FixtureRequest) -> None:
    """A running custodian's log after real releases is clean; its published checkpoint
    then catches a release entry removed from the database, and the notice is named."""
    import httpx

    from tests.escrow.conftest import make_cluster
    from tests.escrow.test_log import release, setup

    cluster = make_cluster(backend, request)
    site, op, endpoints = setup(cluster)
    for n in range(3):
        release(site, op, endpoints[0], f"ev-{n}", n + 1)
    proc = cluster.custodians[0]
    checkpoint = proc.workdir / "published-checkpoint"
    checkpoint.write_bytes(httpx.get(proc.url + "/v1/log/checkpoint", timeout=10).content)
    args = ["fsck-custodian", "--id", proc.cid, "--data-dir", str(proc.workdir / proc.cid)]
    args += ["--checkpoint", str(checkpoint), "--json"]
    env = {"CAMVAULT_ESCROW_DATABASE_URL": proc.db_url}
    done = _run(args, env)
    assert done.returncode == 0, done.stdout + done.stderr
    body = json.loads(done.stdout)
    assert body["summary"]["problems"] == 0 and body["summary"]["notices"] >= 3
    engine = escrow_engine(proc.db_url)
    try:
        with engine.begin() as conn:
            index = conn.execute(sa.select(sa.func.min(notices.c.log_index))).scalar_one()
            conn.execute(log_entries.delete().where(log_entries.c.idx == index))
    finally:
        engine.dispose()
    done = _run(args, env)
    assert done.returncode == 1
    kinds = {p["kind"] for p in json.loads(done.stdout)["problems"]}
    assert kinds == {"log_gap", "checkpoint_beyond_log", "notice_without_entry"}


# --- a custodian's statements and their log entries -------------------------------------------

ENDS_TABLES = {
    "revocation": "escrow_revocations",
    "alarm-cancel": "escrow_alarm_cancels",
    "alarm-close": "escrow_alarm_closes",
    "recording-deletion": "escrow_deletions",
}


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, sa.Engine, dict[str, SignedStatement]]]:
    """A custodian (in process, SQLite) that took one statement of every kind through its
    own intake: site keys, two devices, an operator, a revocation, an alarm cancel, an alarm
    close and a recording deletion. Yields its data dir, engine and the ends it took."""
    url = f"sqlite:///{tmp_path / 'escrow.db'}"
    escrow_upgrade(url)
    arc = Ed25519SigningKey.generate()
    settings = EscrowSettings(
        custodian_id="c7",
        data_dir=tmp_path,
        database_url=url,
        arc_public_key=arc.public_key.to_text(),
        crypto_workers=0,
    )
    engine = escrow_engine(url)
    keys = load_or_create(tmp_path, "c7")
    log = LogStore(engine, keys)
    opener = Opener(keys.escrow_key, workers=0, parallel_threshold=settings.parallel_threshold)
    svc = EscrowService(engine, keys, settings, log, opener, now_ms)
    site = HarnessSite("site-1", cameras={"cam-front": PROFILE})
    other = CustodianKey.generate().public_key()
    custodians = (
        StatementCustodian("c7", keys.escrow_public, keys.log_public_key, None),
        StatementCustodian("c8", other, Ed25519SigningKey.generate().public_key, None),
    )
    sk = SiteKeys(
        site.site_id,
        1,
        site.customer_key.public_key,
        (site.identity.recipient(),),
        custodians,
        2,
        now_ms(),
    )
    svc.intake.site_keys.take(site.sign(sk).encode())
    for dev_id, kind, pub, profile in (
        ("panel-1", DeviceKind.PANEL, site.panel_key.public_key, None),
        ("cam-front", DeviceKind.CAMERA, Ed25519SigningKey.generate().public_key, PROFILE),
    ):
        enrollment = DeviceEnrollment(site.site_id, dev_id, kind, "m", pub, profile, now_ms())
        svc.intake.devices.take(site.sign(enrollment).encode(), site.site_id)
    op_key = Ed25519SigningKey.generate()
    reg = OperatorRegistration("op-1", op_key.public_key, OperatorRole.OPERATOR, now_ms())
    svc.intake.operators.take(sign_statement(reg, arc).encode())
    ends = _ends(site, op_key, "1")
    svc.intake.revocations.take(ends["revocation"].encode(), site.site_id)
    svc.intake.alarm_cancels.take(ends["alarm-cancel"].encode(), site.site_id)
    caller = Caller("operator", "op-1", "operator:op-1", "n-1", now_ms() + 60_000)
    svc.alarm_closes.take_from(caller, ends["alarm-close"].encode(), site.site_id)
    svc.deletions.take(ends["recording-deletion"].encode(), site.site_id)
    policy = site.sign(RetentionPolicy(site.site_id, 30, now_ms()))
    svc.retention.take(policy.encode(), site.site_id)
    yield tmp_path, engine, _ends(site, op_key, "2")
    opener.close()
    engine.dispose()


def _ends(site: HarnessSite, op_key: Ed25519SigningKey, n: str) -> dict[str, SignedStatement]:
    """One signed end of access of each kind (``n`` makes them distinct)."""
    t = now_ms()
    return {
        "revocation": site.sign(Revocation(site.site_id, f"consent-{n}", t)),
        "alarm-cancel": site.sign(AlarmCancel(site.site_id, "panel-1", f"ev-c{n}", t)),
        "alarm-close": sign_statement(
            AlarmClose(site.site_id, "panel-1", f"ev-x{n}", "op-1", t), op_key
        ),
        "recording-deletion": site.sign(
            RecordingDeletion(site.site_id, "cam-front", (f"rec-{n}",), t)
        ),
    }


def _fsck_held(data: Path) -> tuple[int, dict[str, Any]]:
    args = ["fsck-custodian", "--id", "c7", "--data-dir", str(data), "--json"]
    done = _run(args, {"CAMVAULT_ESCROW_DATABASE_URL": f"sqlite:///{data / 'escrow.db'}"})
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_custodian_statements_clean(
    held: tuple[Path, sa.Engine, dict[str, SignedStatement]],
) -> None:
    code, body = _fsck_held(held[0])
    assert (code, body["problems"]) == (0, [])
    # site keys, 2 devices, an operator, 4 ends, the deleted recording, the retention policy
    assert body["summary"]["statements"] == 10


def test_custodian_retention_policy_without_entry(
    held: tuple[Path, sa.Engine, dict[str, SignedStatement]],
) -> None:
    """The retention policy in force, replaced by one stored without its log entry."""
    data, engine, _ = held
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE escrow_retention SET statement = :s"), {"s": b"{}x"})
    code, body = _fsck_held(data)
    assert code == 1
    found = [(p["kind"], p["ids"]["type"]) for p in body["problems"]]
    assert found == [("statement_without_entry", "retention-policy")]


def _plant(engine: sa.Engine, kind: str, signed: SignedStatement) -> None:
    """Store ``signed`` the way its intake does, without the log entry (a write that
    bypassed the writer transaction)."""
    st: Any = signed.unverified_statement
    data = signed.encode()
    row: dict[str, Any] = {"site_id": st.site_id, "statement": data}
    if kind == "revocation":
        row |= {"consent_id": st.consent_id, "revoked_ms": 1}
    elif kind in ("alarm-cancel", "alarm-close"):
        row |= {"panel_id": st.panel_id, "event_id": st.event_id}
        row |= {"cancelled_ms": 1} if kind == "alarm-cancel" else {}
        row |= {"operator_id": st.operator_id, "closed_ms": 1} if kind == "alarm-close" else {}
    else:
        digest = signed.statement_hash()
        row |= {"statement_sha256": digest, "camera_id": st.camera_id, "received_ms": 1}
    columns = ", ".join(row)
    values = ", ".join(f":{c}" for c in row)
    with engine.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO {ENDS_TABLES[kind]} ({columns}) VALUES ({values})"), row)
        if kind == "recording-deletion":
            conn.execute(
                sa.text("INSERT INTO escrow_deleted_recordings VALUES (:s, :c, :r, 1, :h)"),
                {"s": st.site_id, "c": st.camera_id, "r": st.recording_ids[0], "h": digest},
            )


def test_custodian_statement_without_entry(
    held: tuple[Path, sa.Engine, dict[str, SignedStatement]],
) -> None:
    """An end of access of each kind stored without its log entry is named."""
    data, engine, unlogged = held
    for kind, signed in unlogged.items():
        _plant(engine, kind, signed)
    code, body = _fsck_held(data)
    assert code == 1
    found = sorted((p["kind"], p["ids"]["type"]) for p in body["problems"])
    # the planted deletion is named twice: its statement, and the recording it deleted
    want = [("statement_without_entry", k) for k in sorted(ENDS_TABLES)]
    assert found == sorted([*want, ("statement_without_entry", "recording-deletion")])


def test_custodian_logged_end_not_held(
    held: tuple[Path, sa.Engine, dict[str, SignedStatement]],
) -> None:
    """An end of access whose row is gone while its entry stays is named."""
    data, engine, _ = held
    with engine.begin() as conn:
        for table in ENDS_TABLES.values():
            conn.execute(sa.text(f"DELETE FROM {table}"))
    code, body = _fsck_held(data)
    assert code == 1
    found = sorted((p["kind"], p["ids"]["type"]) for p in body["problems"])
    assert found == [("end_not_held", k) for k in sorted(ENDS_TABLES)]


def test_local_store_leftovers(tmp_path: Path) -> None:
    """The local store: a write killed midway leaves a temporary file, a crash between
    starting a multipart upload and recording it leaves the upload; neither is listed, so
    only fsck can name them. A multipart upload an open upload names is not a leftover."""
    svc = make_service(tmp_path, None, None)
    svc.start()
    try:
        site = create_site(svc.url)
        cam = site.enroll_camera()
        rec = cam.record(b"x" * 100)
        body = rec.upload_body(multipart=True, part_size=5 * 1024 * 1024)
        r = cam.client.post(f"{cam.base}/uploads", json=body)
        assert r.status_code == 201, r.text
        code, body = _fsck(svc)
        assert (code, body["summary"]["multipart_uploads"]) == (0, 1)  # the control
        store = svc.store()
        assert isinstance(store, LocalBlobStore)
        key = store.create_multipart(f"sites/{site.site_id}/cameras/{cam.camera_id}/x/y")
        (store.root / ".camvault-tmp-0123456789abcdef").write_bytes(b"half")
        code, body = _fsck(svc)
    finally:
        svc.stop()
    assert code == 1
    found = sorted((p["kind"], str(p["ids"])) for p in body["problems"])
    assert found == [
        ("orphan_multipart", str({"multipart_upload": key})),
        ("temp_file", str({"path": ".camvault-tmp-0123456789abcdef"})),
    ]
