"""Frozen view: a custodian that keeps serving the customer an old cosigned checkpoint (so that
nothing it appends afterwards is ever seen) is reported as ``stale_checkpoint`` once the
quorum's newest cosignatures are older than the customer's bound (``max_age_s``).

Real processes: three custodians, two witnesses (quorum 2), custodians that cosign again any
checkpoint older than 1 s when asked (CAMVAULT_ESCROW_WITNESS_REFRESH_S). The frozen custodian
is c1 behind a front that answers ``/v1/log/cosigned-checkpoint`` with the note it kept, and
passes every other read to c1 (so the log under the frozen note still verifies).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from clients.audit.log import AuditReport, CustodianLog, audit_log
from clients.audit.notices import Expected
from clients.operator.release import WitnessPolicy
from crypto.tlog.cosignature import CosignatureSigner, append_cosignatures, open_cosigned_checkpoint
from crypto.tlog.note import Checkpoint, NoteSigner, sign_checkpoint
from tests.escrow.conftest import make_cluster
from tests.escrow.harness import Cluster, Site
from tests.witness.support import WitnessProc

MAX_AGE_S = 3


@dataclass
class World:
    cluster: Cluster
    policy: WitnessPolicy


@pytest.fixture(scope="module")
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    cluster = make_cluster("sqlite", request)
    logs = [ep.verifier.to_text() for ep in cluster.endpoints()]
    workdir = tmp_path_factory.mktemp("witnesses")
    witnesses = [WitnessProc(f"witness.test/f{i}", workdir, logs) for i in (1, 2)]
    try:
        for w in witnesses:
            w.start()
        for c in cluster.custodians:
            c.env_extra["CAMVAULT_ESCROW_WITNESSES"] = ",".join(w.config() for w in witnesses)
            c.env_extra["CAMVAULT_ESCROW_WITNESS_REFRESH_S"] = "1"
            c.restart()
        policy = WitnessPolicy(tuple(w.verifier() for w in witnesses), 2, MAX_AGE_S)
        Site("site-frozen").enroll(cluster)
        yield World(cluster, policy)
    finally:
        for w in witnesses:
            w.stop()


class FrozenFront:
    """A custodian that serves ``note`` as its cosigned checkpoint forever."""

    def __init__(self, upstream: str, note: bytes) -> None:
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/v1/log/cosigned-checkpoint"):
                    status, body, ctype = 200, front.note, "text/plain; charset=utf-8"
                else:
                    resp = httpx.get(upstream + self.path, timeout=10)
                    status, body = resp.status_code, resp.content
                    ctype = resp.headers.get("content-type", "application/json")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.note = note
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def audit(world: World, url: str, state: Path) -> AuditReport:
    ep = world.cluster.endpoints()[0]
    with CustodianLog(url, ep.origin, ep.verifier, witnesses=world.policy) as log:
        return audit_log(log, state, "site-not-here", Expected())


def test_a_frozen_view_is_reported_stale(world: World, tmp_path: Path) -> None:
    c1 = world.cluster.custodians[0]
    # control: the honest custodian's view is fresh (cosigned again when older than 1 s)
    report = audit(world, c1.url, tmp_path / "honest.json")
    assert report.findings == [], report.findings
    note = httpx.get(c1.url + "/v1/log/cosigned-checkpoint", timeout=20).content
    front = FrozenFront(c1.url, note)
    try:
        frozen = tmp_path / "frozen.json"
        assert audit(world, front.url, frozen).findings == []  # fresh for now
        time.sleep(MAX_AGE_S + 1.5)
        Site("site-frozen-later").enroll(world.cluster)  # c1's log grows; the front hides it
        report = audit(world, front.url, frozen)
        assert [f.kind for f in report.findings] == ["stale_checkpoint"], report.findings
        assert report.checkpoint is not None and report.checkpoint.size < c1_size(c1.url)
        assert f"more than the {MAX_AGE_S} s allowed" in report.findings[0].detail
        # the same custodian, not frozen: its newest checkpoint is cosigned afresh, clean
        report = audit(world, c1.url, tmp_path / "honest.json")
        assert report.findings == [], report.findings
    finally:
        front.close()


def c1_size(url: str) -> int:
    return int(httpx.get(url + "/v1/log/checkpoint", timeout=10).text.split("\n")[1])


def test_freshness_needs_the_quorum_and_ignores_future_dates() -> None:
    """The bound applies to the quorum-th newest cosignature: one fresh witness out of a
    quorum of two is not fresh; a cosignature dated ahead of the clock does not count."""
    log = NoteSigner.generate("camvault.io/custodian/fresh")
    w1, w2 = (CosignatureSigner.generate(f"witness.test/q{i}") for i in (1, 2))
    policy = WitnessPolicy((w1.verifier, w2.verifier), 2, 60)
    now = int(time.time())
    note = sign_checkpoint(Checkpoint(log.name, 1, b"\x01" * 32), log)
    text = note.decode().split("\n\n")[0] + "\n"

    def cosigned(t1: int, t2: int) -> dict[str, int]:
        lines = [w1.cosign(text, t1), w2.cosign(text, t2)]
        opened = open_cosigned_checkpoint(
            append_cosignatures(note, lines),
            [log.verifier],
            log.name,
            policy.witnesses,
            1,
            now_s=now,
        )
        return opened.cosigners

    assert now - policy.fresh_as_of(cosigned(now - 10, now - 20)) == 20  # both fresh
    assert now - policy.fresh_as_of(cosigned(now, now - 3600)) == 3600  # one stale: stale
    assert policy.fresh_as_of(cosigned(now + 10**6, now - 5)) == 0  # future one not counted
    with pytest.raises(ValueError, match="max_age_s"):
        WitnessPolicy((w1.verifier,), 1, 0)
    assert WitnessPolicy.from_json({**policy.to_json()}).max_age_s == 60
    assert "max_age_s" not in WitnessPolicy((w1.verifier,), 1).to_json()
