"""Group commit of releases (escrow_service/services/groupcommit.py) on real custodians, SQLite
and PostgreSQL: many concurrent releases share writer transactions, and each is still answered
with a receipt whose inclusion proof verifies against its signed checkpoint; refusals decided
in a group (a cancelled alarm, a replayed request) are logged and refused alone; afterwards the
log is consistent with every checkpoint handed out (consistency proofs and fsck)."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from common.http import SignedClient
from common.time import now_ms
from crypto.age.format import parse_header
from crypto.encoding import b64decode_padded, b64encode
from crypto.escrow import ESCROW_STANZA_TYPE, SessionKey
from crypto.tlog import entry_leaf_hash, verify_consistency, verify_inclusion
from crypto.tlog.note import Checkpoint, open_checkpoint
from escrow_service.db import make_engine
from escrow_service.services import fsck
from tests.escrow.harness import Cluster, Site, register_operator

RELEASES = 48  # concurrent single-recording releases, one request each
OPERATORS = 6


def _verified(ep: Any, log: dict[str, Any]) -> tuple[int, bytes, Checkpoint, bytes]:
    """Check a receipt as an operator does: signed checkpoint, entry included in it."""
    note = str(log["checkpoint"]).encode()
    cp = open_checkpoint(note, [ep.verifier], ep.origin)
    entry = str(log["entry"]).encode()
    index = int(log["index"])
    proof = [b64decode_padded(h) for h in log["inclusion_proof"]]
    verify_inclusion(entry_leaf_hash(entry), index, cp.size, proof, cp.root_hash)
    assert log["tree_size"] == cp.size  # the size the proof is for
    return index, entry, cp, note


def _body(site: Site, alarm: Any, rid: str, t: int) -> dict[str, Any]:
    rec = site.record(rid, t, t + 2_000)[0]
    me = site.escrow_keys[0].key_id()
    stanza = next(
        s
        for s in parse_header(rec.header).stanzas
        if s.type == ESCROW_STANZA_TYPE and s.args[0] == me
    )
    return {
        "purpose": "alarm-verification",
        "justification": alarm.to_json(),
        "session_key": b64encode(SessionKey.generate().public_key()),
        "items": [
            {
                "metadata": rec.metadata.to_json(),
                "stanza": {"args": list(stanza.args), "body": b64encode(stanza.body)},
            }
        ],
    }


def test_concurrent_releases_share_checkpoints_with_valid_receipts_and_a_consistent_log(
    cluster: Cluster,
) -> None:
    site = Site(f"site-{uuid.uuid4().hex[:8]}")
    site.enroll(cluster)
    proc, ep = cluster.custodians[0], cluster.endpoints()[0]
    ops = [(f"op-gc-{i}", register_operator(cluster, f"op-gc-{i}")) for i in range(OPERATORS)]
    t = now_ms() - 1_000
    ok_alarm = site.alarm("gc-ok", 2, t)
    cancelled = site.alarm("gc-cancelled", 1, t)
    # The cancelled alarm is registered first (its first release), then cancelled: the
    # releases under it are refused by the decision under the lock, in their group.
    with SignedClient(proc.url, f"operator:{ops[0][0]}", ops[0][1]) as c:
        first = c.post("/v1/releases", json=_body(site, cancelled, "gc-first", t))
        assert first.status_code == 200, first.text
    site.cancel(cluster, "gc-cancelled")

    clients = [SignedClient(proc.url, f"operator:{op}", key) for op, key in ops]
    requests = []
    for i in range(RELEASES):
        alarm = cancelled if i % 8 == 3 else ok_alarm
        client = clients[i % OPERATORS]
        requests.append(
            (client, client.build("POST", "/v1/releases", json=_body(site, alarm, f"gc-{i}", t)))
        )
    # Attack: one signed request sent twice in the burst (both may land in one group).
    replay_client, replayed = requests[5]
    jobs = [*requests, (replay_client, replayed)]
    try:
        with ThreadPoolExecutor(len(jobs)) as pool:
            answers = list(pool.map(lambda job: job[0].send(job[1]), jobs))
    finally:
        for c in clients:
            c.close()

    verified: list[tuple[int, bytes, Checkpoint, bytes]] = []
    codes: list[str | None] = []
    for resp in answers:
        body = resp.json()
        codes.append(body["error"]["code"] if "error" in body else None)
        assert (resp.status_code == 200) == (codes[-1] is None), resp.text
        verified.append(_verified(ep, body["log"]))
    # The honest releases under the open alarm are released, each item with a share.
    for i in range(RELEASES):
        if i % 8 == 3:
            assert codes[i] == "alarm_cancelled", answers[i].text
            assert answers[i].json()["items"][0]["reason"] == "alarm_cancelled"
        elif i != 5:
            assert codes[i] is None, answers[i].text
            assert answers[i].json()["items"][0]["status"] == "released"
    # Exactly one of the two copies of the replayed request is released.
    pair = sorted([codes[5], codes[-1]], key=str)
    assert pair == [None, "replayed_request"] or pair == ["replayed_request", None], pair
    # Every answer has an entry of its own, and the entries say what was answered.
    indexes = [v[0] for v in verified]
    assert len(set(indexes)) == len(jobs)
    for (_, entry, _, _), code in zip(verified, codes, strict=True):
        logged = json.loads(entry)
        assert logged["type"] == ("release" if code is None else "refusal")
        assert logged["reason"] == code
    # Requests were written in shared transactions: some receipts share a checkpoint and
    # prove an entry inside a tree larger than the entry's own prefix.
    assert len({cp.size for _, _, cp, _ in verified}) < len(jobs)
    assert any(cp.size > index + 1 for index, _, cp, _ in verified)

    # The log afterwards: every checkpoint handed out is a prefix of the latest one.
    latest = open_checkpoint(
        httpx.get(proc.url + "/v1/log/checkpoint").text.encode(), [ep.verifier], ep.origin
    )
    for size in sorted({cp.size for _, _, cp, _ in verified}):
        old = next(cp for _, _, cp, _ in verified if cp.size == size)
        resp = httpx.get(proc.url + "/v1/log/consistency", params={"old": size, "new": latest.size})
        assert resp.status_code == 200, resp.text
        proof = [b64decode_padded(h) for h in resp.json()["proof"]]
        verify_consistency(size, latest.size, old.root_hash, latest.root_hash, proof)
    # fsck of the database: gapless log, every notice at a release entry, every receipt's
    # checkpoint the root of the stored leaves.
    engine = make_engine(proc.db_url)
    try:
        report = fsck.check(
            engine,
            origin=ep.origin,
            verifiers=[ep.verifier],
            checkpoints=[(f"receipt {i}", note) for i, (*_, note) in enumerate(verified)],
        )
    finally:
        engine.dispose()
    assert report.problems == [], report.problems
    assert report.checked["checkpoints"] == len(jobs)
