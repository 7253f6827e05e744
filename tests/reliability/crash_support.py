"""The crash campaign of tests/reliability/test_crash.py: the whole system (storage +
three custodians, on a private PostgreSQL and MinIO) driven by the real client code while
one part is killed with SIGKILL at a random moment, then restarted.

Each iteration draws (from one seeded ``random.Random``) an action and a victim:

- ``upload``: the camera seals recordings into its journal (clients/camera/queue.py) and its
  uploader (clients/camera/uploader.py) drains the outbox: request, PUT (single or
  multipart), commit. A commit answered 2xx is *acknowledged*.
- ``release``: the panel raises an alarm, the operator acknowledges it and asks every
  custodian for shares of recordings in its window (clients/operator/release.py, receipts
  verified); sometimes the operator then closes it (storage, then an AlarmClose to each
  custodian). A verified receipt is an *acknowledged* release.
- ``delete``: the customer deletes one acknowledged recording (clients/customer: a
  RecordingDeletion to every custodian, then the storage service's shred).
- ``sweep``: the storage service's sweeper runs (every 0.5 s) while the kill lands.

The victim (the storage service, one custodian, PostgreSQL's postmaster, or MinIO) is
killed after a random delay while the action runs; the action's first attempt may fail.
The victim is restarted and the action is finished the way the real clients do it (the
camera re-uploads what was not acknowledged; the operator and the customer send again).

:meth:`Campaign.verify` then runs both fscks (zero problems) and checks that nothing
acknowledged was lost: every acknowledged, undeleted recording is listed and its payload
matches its manifest's hash; every acknowledged release's entry is in its custodian's log,
at its index, byte for byte, under the checkpoint the operator was given.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from clients.api.errors import ServiceRefused
from clients.api.escrow import CustodianApi
from clients.api.storage import StorageApi, download, header_bytes
from clients.camera.queue import Journal
from clients.camera.seal import seal
from clients.camera.uploader import PermanentUploadError, TransientUploadError, Uploader
from clients.customer import recordings as rec_lib
from clients.customer.state import CustomerState
from clients.operator.release import CustodianRelease, Recording, request_release
from clients.operator.state import OperatorState
from common.http import SignedClient
from common.time import now_ms
from crypto.escrow import SessionKey
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import AlarmClose, AlarmEvent, AlarmType, sign_statement
from escrow_service.db.engine import make_engine as escrow_engine
from escrow_service.db.models import log_entries
from tests.clients.customer_world import Customer, Operator, World
from tests.storage.support import CAMVAULT
from tests.support.services import MinioServer, PostgresServer, kill_group

T = TypeVar("T")

ACTIONS = ("upload", "upload", "release", "delete", "sweep")
#: How long an action may keep failing once its victim is back before the campaign fails.
RETRY_DEADLINE_S = 90.0


def seed_from_env() -> int:
    """``CRASH_SEED`` if set (to reproduce a run), else a fresh seed (printed by the test)."""
    value = os.environ.get("CRASH_SEED")
    return int(value) if value else random.SystemRandom().randrange(2**32)


@dataclass
class Acked:
    """A recording whose commit the storage service acknowledged."""

    camera_id: str
    recording_id: str
    start_ms: int
    payload_sha256: bytes


@dataclass
class Receipt:
    """A release whose receipt the operator verified: the entry must stay in the log."""

    custodian_id: str
    index: int
    entry: bytes
    checkpoint: bytes


@dataclass
class Campaign:
    world: World
    pg: PostgresServer
    minio: MinioServer
    customer: Customer
    operator: Operator
    rng: random.Random
    workdir: Path
    victims: tuple[str, ...] = ("storage", "c1", "c2", "c3", "postgres")
    acked: dict[str, Acked] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    receipts: list[Receipt] = field(default_factory=list)
    kills: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    retried: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)
    _last_start: int = 0
    _journal: Journal | None = None
    _multipart: dict[str, bool] = field(default_factory=dict)

    # --- the parts -------------------------------------------------------------------------

    @property
    def site_id(self) -> str:
        return self.customer.site_id

    @property
    def camera_id(self) -> str:
        return self.customer.camera.camera_id

    def journal(self) -> Journal:
        if self._journal is None:
            cam = self.customer.camera
            self._journal = Journal(
                self.workdir / "camera-journal.db", self.site_id, self.camera_id, cam.key
            )
        return self._journal

    def camera_api(self) -> StorageApi:
        cam = self.customer.camera
        return StorageApi.connect(
            self.world.storage.url, f"device:{self.site_id}/{self.camera_id}", cam.key, timeout=20
        )

    def kill(self, victim: str) -> None:
        """SIGKILL ``victim`` (its whole process group; PostgreSQL: the postmaster)."""
        self.kills[victim] += 1
        if victim == "postgres":
            self.pg.kill()
        elif victim == "minio":
            self.minio.kill()
        else:
            proc = self._process(victim)
            if proc.proc is not None:
                kill_group(proc.proc)
                proc.proc = None

    def restart(self, victim: str) -> None:
        if victim == "postgres":
            self.pg.start()
        elif victim == "minio":
            self.minio.start()
        else:
            self._process(victim).start()

    def _process(self, victim: str) -> Any:
        if victim == "storage":
            return self.world.storage
        return next(c for c in self.world.custodians if c.cid == victim)

    # --- one iteration ---------------------------------------------------------------------

    def iteration(self, n: int) -> None:
        action = self.rng.choice(ACTIONS)
        if action == "delete" and len(self._deletable()) < 3:
            action = "upload"
        victim = self.rng.choice(self.victims)
        delay = self.rng.uniform(0.0, 0.8)
        run = self._action(action)
        self.actions[action] += 1
        self.log.append(f"#{n}: {action}, kill {victim} after {delay:.2f}s")
        began = time.monotonic()
        killer = threading.Timer(delay, self.kill, (victim,))
        killer.start()
        try:
            run()
        except Exception as exc:  # the first attempt may meet the crash: finished below
            self.retried[f"{action}: {_kind(exc)}"] += 1
        killer.join()
        self.restart(victim)
        self._until_done(action, run)
        self.log[-1] += f" ({time.monotonic() - began:.1f}s)"

    def _action(self, action: str) -> Callable[[], None]:
        if action == "upload":
            self._seal(self.rng.randint(2, 4))
            return self._drain
        if action == "release":
            return self._release_flow()
        if action == "delete":
            return self._delete_flow()
        return lambda: time.sleep(1.0)

    def _until_done(self, action: str, run: Callable[[], None]) -> None:
        deadline = time.monotonic() + RETRY_DEADLINE_S
        while True:
            try:
                run()
                return
            except (AttributeError, TypeError, NameError, KeyError, AssertionError):
                raise  # a mistake of this harness, not a crash to wait out
            except Exception as exc:
                self.retried[f"{action}: {_kind(exc)}"] += 1
                if time.monotonic() > deadline:
                    raise AssertionError(f"{action} never succeeded after the restart") from exc
                time.sleep(0.3)

    # --- the camera -------------------------------------------------------------------------

    def _seal(self, count: int) -> None:
        site = self.customer.camera.site_keys()
        items = []
        for _ in range(count):
            start = max(now_ms() - 1500, self._last_start + 2000)
            self._last_start = start
            rid = f"rec-{uuid.UUID(int=self.rng.getrandbits(128)).hex[:12]}"
            meta = RecordingMetadata(
                self.site_id, self.camera_id, rid, RecordingKind.SEGMENT, start, start + 1000
            )
            plain = self.rng.randbytes(self.rng.randint(20_000, 200_000))
            path = self.workdir / "outbox" / f"{rid}.age"
            path.parent.mkdir(exist_ok=True)
            items.append(seal(site, meta, io.BytesIO(plain), path))
            self._multipart[rid] = self.rng.random() < 0.4  # the camera's choice, kept
        self.journal().enqueue(items)

    def _drain(self) -> None:
        """The camera's upload loop: oldest first, done only once the commit is answered."""
        journal = self.journal()
        with self.camera_api() as api:
            while (item := journal.next_pending()) is not None:
                multipart = self._multipart[item.recording_id]
                uploader = Uploader(
                    api,
                    journal,
                    multipart_threshold=0 if multipart else 1 << 40,
                    part_size=5 * 1024 * 1024,
                    timeout=20,
                )
                uploader.upload(item)
                m = item.statement
                self.acked[m.recording_id] = Acked(
                    m.camera_id, m.recording_id, m.start_ms, m.payload_sha256
                )
                journal.done(item.sequence)
                item.file.unlink(missing_ok=True)

    # --- the operator -------------------------------------------------------------------------

    def _release_flow(self) -> Callable[[], None]:
        """Alarm (panel), acknowledge and release (operator), sometimes close: each step
        is done once; a step that failed is sent again."""
        panel = self.customer.panel
        panel.counter += 1
        event = sign_statement(
            AlarmEvent(
                site_id=self.site_id,
                panel_id=panel.panel_id,
                event_id=f"ev-{uuid.UUID(int=self.rng.getrandbits(128)).hex[:10]}",
                alarm_type=AlarmType.INTRUSION,
                triggered_at_ms=now_ms(),
                counter=panel.counter,
            ),
            panel.key,
        )
        close = self.rng.random() < 0.5
        state = OperatorState(self.operator.state)
        done: dict[str, Any] = {}

        def run() -> None:
            if "alarm" not in done:
                keyid = f"device:{self.site_id}/{panel.panel_id}"
                with StorageApi.connect(self.world.storage.url, keyid, panel.key) as api:
                    done["alarm"] = api.post_alarm(self.site_id, event)
            alarm_id = str(done["alarm"]["alarm_id"])
            if "ack" not in done:
                with state.storage(timeout=20) as storage:
                    done["ack"] = _tolerate_state(lambda: storage.alarm_action(alarm_id, "ack"))
            if "recordings" not in done:
                done["recordings"] = self._arc_recordings(state)
            recordings: list[Recording] = done["recordings"]
            if recordings and "session" not in done:
                done["session"] = SessionKey.generate()
            for endpoint in state.endpoints() if recordings else []:
                if endpoint.custodian_id in done:
                    continue
                rel = request_release(
                    endpoint,
                    state.operator_id,
                    state.key(),
                    purpose="alarm-verification",
                    justification=event,
                    session=done["session"],
                    recordings=recordings,
                    timeout=20,
                )
                done[endpoint.custodian_id] = rel
                self._receipt(rel)
            if close:
                self._close(state, alarm_id, done)

        return run

    def _arc_recordings(self, state: OperatorState) -> list[Recording]:
        with state.storage(timeout=20) as storage:
            items = [
                i for i in storage.recordings(self.site_id, arc=True) if i["status"] == "committed"
            ][:2]
            out = []
            for item in items:
                detail = storage.recording(
                    self.site_id, item["camera_id"], item["recording_id"], arc=True
                )
                header = header_bytes(detail)
                if header is None:
                    continue
                meta = RecordingMetadata(
                    self.site_id,
                    item["camera_id"],
                    item["recording_id"],
                    RecordingKind(item["kind"]),
                    int(item["start_ms"]),
                    int(item["end_ms"]),
                )
                out.append(Recording(header, meta))
        return out

    def _receipt(self, rel: CustodianRelease) -> None:
        self.receipts.append(Receipt(rel.custodian_id, rel.log_index, rel.entry, rel.checkpoint))

    def _close(self, state: OperatorState, alarm_id: str, done: dict[str, Any]) -> None:
        """clients/operator/ends.close_alarm, one step at a time so that each can be sent
        again: the storage close (already closed counts as done), then each custodian."""
        if "closed" not in done:
            with state.storage(timeout=20) as storage:
                done["closed"] = _tolerate_state(lambda: storage.alarm_action(alarm_id, "close"))
            a = done["alarm"]
            done["close"] = sign_statement(
                AlarmClose(
                    site_id=self.site_id,
                    panel_id=str(a["panel_id"]),
                    event_id=str(a["event_id"]),
                    operator_id=state.operator_id,
                    closed_at_ms=now_ms(),
                ),
                state.key(),
            )
        for endpoint in state.endpoints():
            key = f"close-{endpoint.custodian_id}"
            if key in done:
                continue
            with (
                CustodianApi.of(endpoint, 20) as api,
                SignedClient(endpoint.url, f"operator:{state.operator_id}", state.key()) as c,
            ):
                done[key] = api.close_alarm(c, self.site_id, done["close"])

    # --- the customer -------------------------------------------------------------------------

    def _deletable(self) -> list[Acked]:
        return [a for rid, a in sorted(self.acked.items()) if rid not in self.deleted]

    def _delete_flow(self) -> Callable[[], None]:
        target = self.rng.choice(self._deletable())
        selection = rec_lib.Selection(
            camera_id=target.camera_id, from_ms=target.start_ms, to_ms=target.start_ms + 1
        )

        def run() -> None:
            # A range delete names deleted recordings too: sending it again reaches a
            # custodian that missed it (clients/customer/recordings.py).
            deleted = rec_lib.delete(CustomerState(self.customer.state), selection)
            missed = [a for a in deleted.custodians if not a.acknowledged]
            if missed:
                raise RuntimeError(f"custodians missed the deletion: {missed}")
            self.deleted.add(target.recording_id)

        return run

    # --- after the campaign ------------------------------------------------------------------

    def verify(self) -> dict[str, Any]:
        """Both fscks and the acknowledged data; returns the counts (asserts on failure)."""
        self._quiesce()
        storage_report = self.storage_fsck()
        custodian_reports = {c.cid: self.custodian_fsck(c) for c in self.world.custodians}
        lost = self._lost_recordings()
        missing = self._missing_receipts()
        problems = storage_report["problems"] + [
            {**p, "custodian": cid} for cid, r in custodian_reports.items() for p in r["problems"]
        ]
        counts = {
            "recordings_acknowledged": len(self.acked),
            "recordings_deleted": len(self.deleted),
            "recordings_lost": len(lost),
            "releases_acknowledged": len(self.receipts),
            "releases_lost": len(missing),
            "inconsistencies": len(problems),
        }
        assert not problems, json.dumps(problems, indent=1)[:6000]
        assert not lost, f"acknowledged recordings lost: {lost}"
        assert not missing, f"acknowledged releases not in the log: {missing}"
        return counts

    def _quiesce(self) -> None:
        """Let the camera finish its outbox and the sweeper drain what is due in its queue
        (intents of commits that a crash interrupted are due in an hour)."""
        self._until_done("upload", self._drain)
        engine = self.world.storage.engine()
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    due = sa.text("SELECT count(*) FROM deletion_queue WHERE enqueued_ms <= :t")
                    if not conn.execute(due, {"t": now_ms()}).scalar():
                        break
                time.sleep(0.3)
        finally:
            engine.dispose()

    def storage_fsck(self) -> dict[str, Any]:
        svc = self.world.storage
        done = _camvault(["admin", "fsck", "--json"], svc.env, svc.workdir)
        assert done.returncode in (0, 1), done.stderr
        body: dict[str, Any] = json.loads(done.stdout)
        assert (done.returncode == 0) == (not body["problems"])
        return body

    def custodian_fsck(self, proc: Any) -> dict[str, Any]:
        args = ["admin", "fsck-custodian", "--id", proc.cid]
        args += ["--data-dir", str(proc.workdir / proc.cid), "--json"]
        for i, r in enumerate(x for x in self.receipts if x.custodian_id == proc.cid):
            path = self.workdir / f"checkpoint-{proc.cid}-{i}"
            path.write_bytes(r.checkpoint)
            args += ["--checkpoint", str(path)]
        done = _camvault(args, {"CAMVAULT_ESCROW_DATABASE_URL": proc.db_url}, self.workdir)
        assert done.returncode in (0, 1), done.stderr
        body: dict[str, Any] = json.loads(done.stdout)
        assert (done.returncode == 0) == (not body["problems"])
        return body

    def _lost_recordings(self) -> list[str]:
        """Acknowledged, undeleted recordings not listed, or whose payload does not match."""
        cust = CustomerState(self.customer.state)
        lost = []
        with cust.storage() as api:
            listed = {
                i["recording_id"]: i for i in api.recordings(self.site_id, include_deleted=True)
            }
            for rid, a in sorted(self.acked.items()):
                item = listed.get(rid)
                if rid in self.deleted:
                    if item is None or item["status"] == "committed":
                        lost.append(f"{rid}: deletion acknowledged but not recorded")
                    continue
                if item is None or item["status"] != "committed":
                    lost.append(f"{rid}: not listed as committed ({item})")
                    continue
                detail = api.recording(self.site_id, a.camera_id, rid)
                buf = io.BytesIO()
                download(str(detail["download_url"]), buf)
                if hashlib.sha256(buf.getvalue()).digest() != a.payload_sha256:
                    lost.append(f"{rid}: payload differs from its manifest's hash")
                if header_bytes(detail) is None:
                    lost.append(f"{rid}: header gone")
        return lost

    def _missing_receipts(self) -> list[str]:
        missing = []
        for proc in self.world.custodians:
            engine = escrow_engine(proc.db_url)
            try:
                with engine.connect() as conn:
                    for r in (x for x in self.receipts if x.custodian_id == proc.cid):
                        stored = conn.execute(
                            sa.select(log_entries.c.entry).where(log_entries.c.idx == r.index)
                        ).scalar()
                        if stored is None or bytes(stored) != r.entry:
                            missing.append(f"{proc.cid}#{r.index}")
            finally:
                engine.dispose()
        return missing


def _tolerate_state(call: Callable[[], T]) -> T | None:
    """An alarm action sent again after a crash may find it done already (409)."""
    try:
        return call()
    except ServiceRefused as exc:
        if exc.status == 409:
            return None
        raise


def _kind(exc: BaseException) -> str:
    """How a failed attempt is counted: the refusal's status and code where there is one."""
    if isinstance(exc, ServiceRefused):
        return f"{exc.status} {exc.code}"
    if isinstance(exc, (TransientUploadError, PermanentUploadError)):
        # "<step>: <status> <code>: ..." or "network: <error>: ..."
        return f"{type(exc).__name__} ({':'.join(str(exc).split(':')[:2])})"
    return type(exc).__name__


def _camvault(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CAMVAULT), *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
