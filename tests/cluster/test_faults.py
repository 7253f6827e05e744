"""The cluster under faults (issue 14): cameras uploading and ARC operators working alarms
through the TLS proxy while one part of the cluster fails, then every acknowledged
recording read back and verified. Each scenario prints its counts line

    cluster <scenario>: uploaded U, acknowledged A, read back and verified V,
    lost = 0, duplicated = 0 (on one line)

Part of `make test` (about 3 minutes on 2 cores; marked slow). One cluster
(tests/support/cluster.py) serves the module; each scenario enrolls its own
sites, cameras and operators. CLUSTER_SECONDS lengthens every scenario's load (default 24 s).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.time import now_ms
from tests.clients.customer_world import setup_customer, setup_operator
from tests.cluster.faults import LOAD, Fault, Run, run_with_faults
from tests.cluster.healing import Heal, heal, heal_state
from tests.support.cluster import Cluster, running_cluster
from tests.support.services import kill_group

pytestmark = pytest.mark.slow

KILL_AT_S = 6.0
BACK_AT_S = min(LOAD.seconds - 4.0, KILL_AT_S + 10.0)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with running_cluster() as c:
        yield c


def assert_nothing_lost(run: Run) -> None:
    assert run.lost == [], run.report()
    assert run.duplicated == [], run.report()
    assert run.verified == run.acknowledged > 0, run.report()
    # what a camera did not get acknowledged is still on it, to upload later, never dropped
    r = run.result
    assert r["acknowledged"] + r["backlog_left"] == r["captured"], run.report()
    # a request that failed because of the fault was refused cleanly (502/503/504 with a
    # reason, or the connection closed): never a 500, the status of an unhandled error
    assert run.server_errors() == [], run.report()


def assert_camera_lost_nothing(run: Run) -> None:
    """The product's camera: everything it recorded is stored once and decrypts."""
    cam = run.camera
    assert cam is not None
    assert cam.pending == 0, run.report()
    assert cam.verified == cam.listed == cam.uploaded > 0, run.report()


def assert_uploads_went_on(run: Run) -> None:
    """Recordings were acknowledged while the part was down, and after it came back."""
    down, back = run.acked_after
    assert back > down, f"nothing acknowledged while the part was down\n{run.report()}"
    assert run.acknowledged > back, f"nothing acknowledged after it came back\n{run.report()}"


def test_minio_node_killed_during_uploads(cluster: Cluster, tmp_path: Path) -> None:
    node = 0  # the first node: in compose, the one the services were configured with
    while_down: list[Heal] = []

    def restart() -> None:
        # its drive, seen on disk while it is down: what it missed (checks the check)
        while_down.append(heal_state(cluster, node, reference=1))
        cluster.minio.start_node(node)

    run = run_with_faults(
        cluster,
        tmp_path,
        "minio node killed",
        [
            Fault(KILL_AT_S, "SIGKILL MinIO node 1", lambda: cluster.minio.kill_node(node)),
            Fault(BACK_AT_S, "MinIO node 1 restarted", restart),
        ],
    )
    assert_nothing_lost(run)
    assert_uploads_went_on(run)
    # healing: what was written while node 1 was down has its shards on it again
    missed = len(while_down[0].missing)
    t0 = time.monotonic()
    healed, rounds = heal(cluster, node, reference=1, timeout=120)
    print(
        f"cluster minio node killed: {missed} objects written while node 1 was down; "
        f"healing complete after {time.monotonic() - t0:.1f} s and {rounds} heal request(s): "
        f"{healed.objects} objects, {len(healed.missing)} missing on node 1",
        flush=True,
    )
    assert missed > 0
    assert healed.complete, healed.missing[:10]


def _commits(cluster: Cluster) -> list[int]:
    """Commits each replica has answered so far (its access log: one line per request)."""
    return [r.log_text().count("/commit") for r in cluster.replicas]


def test_storage_replica_killed(cluster: Cluster, tmp_path: Path) -> None:
    at_kill: list[int] = []

    def kill() -> None:
        at_kill.extend(_commits(cluster))
        proc = cluster.replicas[0].proc
        assert proc is not None
        kill_group(proc)
        cluster.replicas[0].proc = None

    before = _commits(cluster)
    run = run_with_faults(
        cluster,
        tmp_path,
        "storage replica killed",
        [
            Fault(KILL_AT_S, "SIGKILL storage replica 1", kill),
            Fault(BACK_AT_S, "storage replica 1 restarted", lambda: cluster.replicas[0].start()),
        ],
        camera=True,
    )
    after = _commits(cluster)
    print(
        f"cluster storage replica killed: commits answered by replica 1 / 2: "
        f"{at_kill[0] - before[0]} / {at_kill[1] - before[1]} before the kill, "
        f"{after[0] - at_kill[0]} / {after[1] - at_kill[1]} after",
        flush=True,
    )
    assert_nothing_lost(run)
    assert_uploads_went_on(run)
    assert_camera_lost_nothing(run)
    # the proxy spread the cameras over both replicas, and the survivor took them over
    assert at_kill[0] > before[0] and at_kill[1] > before[1]
    assert after[1] > at_kill[1]


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_one_custodian_down_then_two(cluster: Cluster, tmp_path: Path) -> None:
    c3 = cluster.custodians[2]
    try:
        run = run_with_faults(
            cluster, tmp_path, "one custodian down", [Fault(0.0, "custodian c3 stopped", c3.stop)]
        )
    finally:
        c3.start()
    assert_nothing_lost(run)
    # alarm access went on with the other two: operators decrypted pre-alarm recordings
    assert run.stats.counters["pre-alarm recordings decrypted by operators"] >= 1, run.report()
    assert not [k for k in run.stats.errors if "releases" in k], run.report()

    # two custodians down: the operator's console refuses, naming them, and leaves nothing
    world = cluster.world
    c = setup_customer(world, tmp_path, pre_alarm=30)
    trigger = now_ms() - 5_000
    rid = c.camera.record(trigger - 4_000)
    alarm = c.panel.raise_alarm(triggered_at_ms=trigger)
    op = setup_operator(world, tmp_path)
    op.run("ack", alarm["alarm_id"])
    before = _files(op.state)
    out_dir = tmp_path / "released"
    down = cluster.custodians[1:]
    for cust in down:
        cust.stop()
    try:
        refused = op.run("release", "--alarm", alarm["alarm_id"], "--out", out_dir, code=1).output
    finally:
        for cust in down:
            cust.start()
    print(f"cluster two custodians down: {refused.strip()}", flush=True)
    assert "camvault: error:" in refused and "Traceback" not in refused, refused
    for cust in down:
        assert f"{cust.cid}:" in refused, refused  # named, with what went wrong
    assert "c1:" not in refused
    # no partial key material anywhere: nothing decrypted or saved by the console, no
    # released share in any service's log
    assert not out_dir.exists() or not any(out_dir.rglob("*")), list(out_dir.rglob("*"))
    assert _files(op.state) == before
    for name, text in cluster.logs().items():
        assert "sealed_share" not in text, name
    # with the custodians back, the same request is answered
    released = op.run("release", "--alarm", alarm["alarm_id"], "--out", out_dir).output
    assert "1 of 1 recording(s) decrypted" in released, released
    assert (out_dir / "cam-front" / f"{rid}.ts").read_bytes() == c.camera.plaintexts[rid]


def test_postgres_restarted_mid_run(cluster: Cluster, tmp_path: Path) -> None:
    def restart() -> None:
        cluster.storage_db.kill()  # a crash: the transactions in flight die with it
        # down long enough that requests arrive meanwhile (4 a second), not so long that the
        # proxy takes both replicas out (3 failed /readyz checks, 2 s apart)
        time.sleep(2.0)
        cluster.storage_db.start()

    run = run_with_faults(
        cluster,
        tmp_path,
        "postgresql restarted",
        [
            Fault(KILL_AT_S, "SIGKILL storage PostgreSQL, 2 s later start it", restart),
            Fault(BACK_AT_S, "(count)", lambda: None),
        ],
        camera=True,
    )
    assert_nothing_lost(run)
    assert_uploads_went_on(run)
    assert_camera_lost_nothing(run)
    # the requests caught by the restart were refused cleanly, and retried by the cameras
    refused = {k: v for k, v in run.stats.errors.items() if k.startswith("storage ")}
    print(f"cluster postgresql restarted: refused while it was down: {refused}", flush=True)
    # (503: the service's database_unavailable; had the outage outlasted the proxy's three
    # failed /readyz checks, HAProxy's own 503 "no server available", as clean a refusal)
    assert any(k.endswith("HTTP 503 database_unavailable") for k in refused), refused
    assert all(": HTTP 503 " in k for k in refused), refused
