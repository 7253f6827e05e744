"""kill -9 at random points of upload / commit / release / delete / sweep cycles, then fsck
and a check that nothing acknowledged was lost (tests/reliability/crash_support.py).

``test_commit_killed_after_its_copy`` lands the kill in the one window the random campaign
rarely hits: after a commit copied the payload, before it recorded the recording.

The seed is printed; ``CRASH_SEED=<seed>`` replays a run, ``CRASH_ITERATIONS`` sets its
length (CI: a handful; ``make crash``: the full campaign). The system runs on a PostgreSQL
and a MinIO of each test alone (``postgres_private``, ``minio_private``): they are killed too.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from clients.api.storage import StorageApi
from clients.camera.queue import Journal
from clients.camera.seal import seal
from clients.camera.uploader import TransientUploadError, Uploader
from common.time import now_ms
from crypto.metadata import RecordingKind, RecordingMetadata
from storage_service.blobstore import CompletedPart
from storage_service.services.deletion import INTENT_GRACE_MS, drain_queue
from tests.clients.customer_world import World, running_world, setup_customer, setup_operator
from tests.reliability.crash_support import Campaign, seed_from_env
from tests.storage.support import CAMVAULT
from tests.support.services import MinioServer, PostgresServer, kill_group
from tests.support.stack import stack  # noqa: F401

ITERATIONS = int(os.environ.get("CRASH_ITERATIONS", "6"))


@pytest.fixture
def world(
    tmp_path: Path, postgres_private: PostgresServer, minio_private: MinioServer
) -> Iterator[World]:
    with running_world(
        tmp_path / "world",
        postgres=postgres_private,
        minio=minio_private,
        # Uploads left behind by a crash expire (and are swept) within the campaign.
        CAMVAULT_UPLOAD_EXPIRY_S="20",
    ) as w:
        yield w


def _campaign(
    world: World,
    tmp_path: Path,
    pg: PostgresServer,
    minio: MinioServer,
    victims: tuple[str, ...],
    iterations: int,
) -> None:
    seed = seed_from_env()
    print(f"\ncrash campaign: CRASH_SEED={seed} iterations={iterations} victims={victims}")
    work = tmp_path / "campaign"
    work.mkdir()
    c = Campaign(
        world,
        pg,
        minio,
        setup_customer(world, tmp_path),
        setup_operator(world, tmp_path),
        random.Random(seed),
        work,
        victims=victims,
    )
    try:
        for n in range(iterations):
            c.iteration(n)
        counts = c.verify()
    except BaseException:
        print("\n".join(c.log))
        print(f"replay with CRASH_SEED={seed}")
        raise
    summary = {
        "seed": seed,
        "iterations": iterations,
        "kills": dict(sorted(c.kills.items())),
        "actions": dict(sorted(c.actions.items())),
        "retried": dict(sorted(c.retried.items())),
        **counts,
    }
    print("crash campaign result: " + json.dumps(summary, sort_keys=True))
    out = os.environ.get("CRASH_REPORT")
    if out:
        with open(out, "a") as fh:
            fh.write(json.dumps(summary, sort_keys=True) + "\n")
    assert counts["inconsistencies"] == 0 and counts["recordings_lost"] == 0
    assert sum(c.kills.values()) == iterations
    assert counts["recordings_acknowledged"] > 0


def test_kill_anything(
    world: World,
    tmp_path: Path,
    postgres_private: PostgresServer,
    minio_private: MinioServer,
) -> None:
    """The storage service, one custodian, PostgreSQL or MinIO, killed at a random point."""
    victims = ("storage", "c1", "c2", "c3", "postgres", "minio")
    _campaign(world, tmp_path, postgres_private, minio_private, victims, ITERATIONS)


def test_commit_killed_after_its_copy(
    stack: World,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The storage service killed while a commit checks its server-side copy of the payload
    (copied, not yet recorded): the camera commits again, and the first copy must not stay
    in the store for ever (fsck: no orphan)."""
    customer = setup_customer(stack, tmp_path)
    cam = customer.camera
    journal = Journal(tmp_path / "journal.db", customer.site_id, cam.camera_id, cam.key)
    rid = "rec-killed-commit"
    start = now_ms() - 5_000
    meta = RecordingMetadata(
        customer.site_id, cam.camera_id, rid, RecordingKind.SEGMENT, start, start + 2_000
    )
    # large enough that hashing the copy takes a while: the kill lands inside the commit
    plain = io.BytesIO(os.urandom(48 * 1024 * 1024))
    journal.enqueue([seal(cam.site_keys(), meta, plain, tmp_path / f"{rid}.age")])
    item = journal.next_pending()
    assert item is not None
    store, svc = stack.storage.store(), stack.storage
    prefix = f"sites/{customer.site_id}/cameras/{cam.camera_id}/{rid}/"

    def upload() -> dict[str, Any]:
        keyid = f"device:{customer.site_id}/{cam.camera_id}"
        with StorageApi.connect(svc.url, keyid, cam.key, timeout=60) as api:
            # without store checksums: the commit copies the payload and hashes the copy,
            # the window this test kills the service in (checksummed uploads have no copy)
            up = Uploader(
                api, journal, multipart_threshold=1 << 40, part_size=1 << 23, checksums=False
            )
            return up.upload(item)

    first: dict[str, BaseException] = {}

    def attempt() -> None:
        try:
            upload()
        except BaseException as exc:
            first["error"] = exc

    thread = threading.Thread(target=attempt)
    thread.start()
    deadline = time.monotonic() + 120
    while not any(o.key[len(prefix) :].startswith("rec-") for o in store.list_objects(prefix)):
        assert thread.is_alive() and time.monotonic() < deadline, "the commit was not caught"
        time.sleep(0.005)
    assert svc.proc is not None
    kill_group(svc.proc)
    svc.proc = None
    thread.join(60)
    assert isinstance(first.get("error"), TransientUploadError), first
    svc.start()
    assert upload()["recording_id"] == rid  # the camera's retry
    journal.done(item.sequence)
    done = subprocess.run(
        [str(CAMVAULT), "admin", "fsck", "--json"],
        env={**os.environ, **svc.env},
        cwd=svc.workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    mine = [p for p in json.loads(done.stdout)["problems"] if prefix in str(p["ids"])]
    assert mine == []
    # ... and the sweeper removes it once its intent is due: only the recording's object stays
    engine = svc.engine()
    try:
        while drain_queue(engine, store, now=now_ms() + 2 * INTENT_GRACE_MS):
            pass
        with engine.connect() as conn:
            kept = conn.execute(
                sa.text("SELECT object_key FROM recordings WHERE recording_id = :r"), {"r": rid}
            ).scalar_one()
    finally:
        engine.dispose()
    assert [o.key for o in store.list_objects(prefix)] == [kept]


def test_commit_killed_after_completing_its_multipart(
    stack: World,  # noqa: F811
    tmp_path: Path,
) -> None:
    """What a storage service killed inside a commit leaves when it had completed the
    multipart upload (the first thing a multipart commit does): the upload is still open but
    its part URLs answer 404. The camera's retry must get a fresh upload, not the dead one
    until it expires (hours)."""
    customer = setup_customer(stack, tmp_path)
    cam = customer.camera
    journal = Journal(tmp_path / "journal.db", customer.site_id, cam.camera_id, cam.key)
    start = now_ms() - 5_000
    meta = RecordingMetadata(
        customer.site_id, cam.camera_id, "rec-mp", RecordingKind.SEGMENT, start, start + 2_000
    )
    journal.enqueue([seal(cam.site_keys(), meta, io.BytesIO(b"v" * 50_000), tmp_path / "a.age")])
    item = journal.next_pending()
    assert item is not None
    keyid = f"device:{customer.site_id}/{cam.camera_id}"
    with StorageApi.connect(stack.storage.url, keyid, cam.key, timeout=60) as api:
        up = Uploader(api, journal, multipart_threshold=0, part_size=5 * 1024 * 1024)
        body = {"recording_id": "rec-mp", "kind": "segment", "start_ms": start}
        body |= {"end_ms": start + 2_000, "payload_size": item.statement.payload_size}
        opened = api.request_upload(
            customer.site_id, cam.camera_id, body | {"multipart": True, "part_size": 5 << 20}
        )
        parts = up._put(item, opened)  # the camera's PUT of the part
        assert parts is not None
        # the dying commit's first step: complete the multipart upload
        engine = stack.storage.engine()
        try:
            with engine.connect() as conn:
                key, mp_id = conn.execute(
                    sa.text("SELECT object_key, multipart_upload_id FROM uploads WHERE id = :i"),
                    {"i": opened["upload_id"]},
                ).one()
        finally:
            engine.dispose()
        done = [CompletedPart(p["part_number"], p["etag"]) for p in parts]
        stack.storage.store().complete_multipart(key, mp_id, done)
        recording = up.upload(item)  # the camera's retry
    assert recording["recording_id"] == "rec-mp"
