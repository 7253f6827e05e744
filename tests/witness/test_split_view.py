"""Witnessed custodian logs, end to end on real processes: three custodians (t = 2), three
witnesses (quorum 2), an operator and a customer.

The honest path: every release receipt carries a checkpoint cosigned by a quorum, the
operator checks it, the customer's audit checks the cosigned checkpoint.

The attack: custodian c1 forks its log per audience. The customer is shown log B (with an
innocuous entry at index S), the operator log A (with a release at index S instead): the
custodian's database is swapped between the two. Honest witnesses, which cosigned B, refuse
A (409 fork); c1's receipt then carries no quorum and the operator refuses it
(``Unwitnessed``); the customer's audit of B is clean, and the refused receipt's checkpoint,
cross-checked against it, is a ``split_view``.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from clients.api.escrow import CustodianEndpoint
from clients.audit.log import (
    AuditReport,
    CustodianLog,
    audit_custodian,
    cross_check_checkpoint,
)
from clients.operator.release import (
    CustodianRefused,
    Recording,
    Unwitnessed,
    WitnessPolicy,
    gather_releases,
    request_release,
    verify_receipt,
)
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.escrow import SessionKey
from crypto.tlog.cosignature import CosignatureSigner, open_cosigned_checkpoint
from crypto.tlog.note import open_checkpoint
from tests.escrow.conftest import make_cluster
from tests.escrow.harness import Cluster, CustodianProc, Site, register_operator
from tests.witness.support import WitnessProc

ALARM = "alarm-verification"


@dataclass
class World:
    cluster: Cluster
    witnesses: list[WitnessProc]
    policy: WitnessPolicy
    eps: list[CustodianEndpoint]
    operator: tuple[str, Ed25519SigningKey]
    site: Site


@pytest.fixture(scope="module")
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    cluster = make_cluster("sqlite", request)
    logs = [ep.verifier.to_text() for ep in cluster.endpoints()]
    workdir = tmp_path_factory.mktemp("witnesses")
    witnesses = [WitnessProc(f"witness.test/w{i}", workdir, logs) for i in (1, 2, 3)]
    try:
        for w in witnesses:
            w.start()
        setting = ",".join(w.config() for w in witnesses)
        for c in cluster.custodians:
            c.env_extra["CAMVAULT_ESCROW_WITNESSES"] = setting
            c.env_extra["CAMVAULT_ESCROW_WITNESS_QUORUM"] = "2"
            c.restart()
        policy = WitnessPolicy(tuple(w.verifier() for w in witnesses), 2)
        site = Site("site-witnessed")
        site.enroll(cluster)
        operator = ("op-wit", register_operator(cluster, "op-wit"))
        yield World(cluster, witnesses, policy, cluster.endpoints(), operator, site)
    finally:
        for w in witnesses:
            w.stop()


def recording(world: World, rid: str) -> tuple[Recording, int]:
    t = now_ms() - 5_000
    return world.site.record(rid, t - 1_000, t + 1_000)[0], t


def customer_audit(world: World, index: int, state: Path) -> AuditReport:
    """The customer's audit of custodian ``index``, requiring the witnesses' quorum."""
    proc, ep = world.cluster.custodians[index], world.eps[index]
    with world.site.customer_client(proc.url) as client:
        resp = client.get(f"/v1/sites/{world.site.site_id}/notices")
        assert resp.status_code == 200, resp.text
        notices = [n["notice"] for n in resp.json()["notices"]]
    hashes = {s.statement_hash().hex() for s in world.site.signed}
    with CustodianLog(proc.url, ep.origin, ep.verifier, witnesses=world.policy) as log:
        return audit_custodian(log, state, world.site.site_id, notices, hashes)


def test_receipts_carry_a_checkpoint_cosigned_by_a_quorum(world: World, tmp_path: Path) -> None:
    rec, t = recording(world, "r-honest")
    alarm = world.site.alarm("ev-honest", counter=1, triggered_at_ms=t)
    releases = gather_releases(
        world.eps,
        2,
        *world.operator,
        purpose=ALARM,
        justification=alarm,
        session=SessionKey.generate(),
        recordings=[rec],
        witnesses=world.policy,
    )
    assert len(releases) == 2
    for rel in releases:
        ep = next(e for e in world.eps if e.custodian_id == rel.custodian_id)
        opened = open_cosigned_checkpoint(
            rel.checkpoint, [ep.verifier], ep.origin, world.policy.witnesses, 2
        )
        assert len(opened.cosigners) >= 2 and opened.checkpoint.size > rel.log_index
        # The same receipt with witness keys the operator does not trust: refused.
        others = WitnessPolicy(
            tuple(CosignatureSigner.generate(f"x.test/{i}").verifier for i in (1, 2)), 2
        )
        with pytest.raises(Unwitnessed, match="cosigned by 0 of the 2"):
            verify_receipt(ep, rel.receipt, others)
        # ...and with the log's own checkpoint in place of the cosigned one: refused.
        bare = httpx.get(
            next(c.url for c in world.cluster.custodians if c.cid == ep.custodian_id)
            + "/v1/log/checkpoint",
            timeout=10,
        ).text
        with pytest.raises(Unwitnessed):
            verify_receipt(ep, {**rel.receipt, "checkpoint": bare}, world.policy)
    # The cosigned checkpoint is served, and the customer's audit (quorum required) is clean.
    note = httpx.get(
        world.cluster.custodians[0].url + "/v1/log/cosigned-checkpoint", timeout=10
    ).content
    cp = open_cosigned_checkpoint(
        note, [world.eps[0].verifier], world.eps[0].origin, world.policy.witnesses, 2
    ).checkpoint
    assert cp.size >= 1
    for i in range(3):
        report = customer_audit(world, i, tmp_path / f"c{i}.json")
        assert report.findings == [], report.findings


def test_a_custodian_without_a_witness_quorum_gets_its_receipts_refused(
    world: World, tmp_path: Path
) -> None:
    proc = world.cluster.custodians[2]
    # Two of its three witnesses are unreachable: its only witness cosigns, quorum 2 fails.
    saved = proc.env_extra["CAMVAULT_ESCROW_WITNESSES"]
    entries = saved.split(",")
    down = [re.sub(r"^http://127\.0\.0\.1:\d+", "http://127.0.0.1:9", e) for e in entries[1:]]
    proc.env_extra["CAMVAULT_ESCROW_WITNESSES"] = ",".join([entries[0], *down])
    proc.restart()
    try:
        rec, t = recording(world, "r-quorumless")
        alarm = world.site.alarm("ev-quorumless", counter=2, triggered_at_ms=t)
        # The round did not reach the quorum: the receipt carries the log's checkpoint alone.
        with pytest.raises(Unwitnessed, match="cosigned by 0 of the 2"):
            request_release(
                world.eps[2],
                *world.operator,
                purpose=ALARM,
                justification=alarm,
                session=SessionKey.generate(),
                recordings=[rec],
                witnesses=world.policy,
            )
        report = customer_audit(world, 2, tmp_path / "c3.json")
        assert [f.kind for f in report.findings] == ["bad_checkpoint"]
        assert "not_found" in report.findings[0].detail or "404" in report.findings[0].detail
    finally:
        proc.env_extra["CAMVAULT_ESCROW_WITNESSES"] = saved
        proc.restart()


def _db_files(proc: CustodianProc) -> list[Path]:
    db = proc.workdir / proc.cid / "escrow.db"
    return [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]


def _snapshot(proc: CustodianProc, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for f in _db_files(proc):
        shutil.copy2(f, dest / f.name)


def _swap_in(proc: CustodianProc, src: Path) -> None:
    """Replace the custodian's database with the copy in ``src`` (service stopped)."""
    for f in _db_files(proc):
        f.unlink()
    for f in src.iterdir():
        shutil.copy2(f, proc.workdir / proc.cid / f.name)


def test_a_log_forked_per_audience_is_refused_by_witnesses_operator_and_customer(
    world: World, tmp_path: Path
) -> None:
    proc, ep = world.cluster.custodians[0], world.eps[0]
    state = tmp_path / "customer-c1.json"
    assert customer_audit(world, 0, state).findings == []  # control: clean before

    # The custodian keeps a copy of its database at size S: the start of the operator's log.
    proc.stop()
    _snapshot(proc, tmp_path / "fork-a")
    proc.start()
    # The customer's log B grows with an innocuous entry at index S (a refused request);
    # the witnesses cosign it, and the customer audits it: clean.
    rec, t = recording(world, "r-hidden")
    with pytest.raises(CustodianRefused) as refused:
        request_release(
            ep,
            *world.operator,
            purpose=ALARM,
            justification=None,
            session=SessionKey.generate(),
            recordings=[rec],
        )
    assert refused.value.reason == "no_justification"
    b_report = customer_audit(world, 0, state)
    assert b_report.findings == [] and b_report.checkpoint is not None
    size_b = b_report.checkpoint.size

    # The operator is shown log A: the database is swapped, and a release is logged at
    # index S instead. Every honest witness refuses its checkpoint (same size, another root).
    proc.stop()
    _snapshot(proc, tmp_path / "log-b")
    _swap_in(proc, tmp_path / "fork-a")
    proc.start()
    alarm = world.site.alarm("ev-hidden", counter=3, triggered_at_ms=t)
    with pytest.raises(Unwitnessed, match="cosigned by 0 of the 2") as unwitnessed:
        request_release(
            ep,
            *world.operator,
            purpose=ALARM,
            justification=alarm,
            session=SessionKey.generate(),
            recordings=[rec],
            witnesses=world.policy,
        )
    receipt_a = unwitnessed.value.checkpoint
    cp_a = open_checkpoint(receipt_a, [ep.verifier], ep.origin)  # the custodian did sign it
    assert cp_a.size == size_b
    for w in world.witnesses:
        db = sqlite3.connect(w.data_dir / "witness.db")
        rows = db.execute(
            "SELECT reason, checkpoint FROM witness_evidence WHERE origin = ?", (ep.origin,)
        ).fetchall()
        db.close()
        assert ("fork", receipt_a) in [(r, bytes(c)) for r, c in rows], w.name
    # The customer, shown log A, finds no cosigned checkpoint there.
    a_report = customer_audit(world, 0, tmp_path / "fresh.json")
    assert [f.kind for f in a_report.findings] == ["bad_checkpoint"]

    # The customer is shown log B again: its audit is clean, and the checkpoint of the
    # operator's refused receipt, cross-checked against it, is a split view.
    proc.stop()
    _swap_in(proc, tmp_path / "log-b")
    proc.start()
    report = customer_audit(world, 0, state)
    assert report.findings == [] and report.checkpoint is not None
    with CustodianLog(proc.url, ep.origin, ep.verifier, witnesses=world.policy) as log:
        findings = cross_check_checkpoint(log, receipt_a, report.checkpoint)
        assert [f.kind for f in findings] == ["split_view"]
        # Control: a checkpoint of B itself does not raise it.
        honest = httpx.get(proc.url + "/v1/log/cosigned-checkpoint", timeout=10).content
        assert cross_check_checkpoint(log, honest, report.checkpoint) == []
