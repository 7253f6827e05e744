"""The transparency log end to end: durability across restarts, proofs, notices, and the
customer's audit catching rewritten or truncated history and unexpected entries."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update

from clients.audit.log import CustodianLog, audit_custodian
from clients.operator.release import CustodianEndpoint, request_release
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.escrow import SessionKey
from crypto.httpsig import HttpRequest, check_content_digest, parse_signature, verify_request
from crypto.tlog import entry_leaf_hash, verify_consistency, verify_inclusion
from crypto.tlog.note import open_checkpoint
from escrow_service.db import make_engine
from escrow_service.db.models import log_entries
from tests.escrow.harness import Cluster, CustodianProc, Site, register_operator
from tests.support.services import free_port


class Inbox:
    """A stand-in for the storage service's notification inbox (fails the first POST)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.requests: list[tuple[HttpRequest, bytes]] = []
        self.calls = 0
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                inbox.requests.append(
                    (
                        HttpRequest(
                            method="POST",
                            authority=self.headers["host"],
                            path=self.path.split("?")[0],
                            query="",
                            headers={k.lower(): v for k, v in self.headers.items()},
                        ),
                        body,
                    )
                )
                inbox.calls += 1
                if inbox.calls == 1:
                    self.send_response(503)  # the deliverer must retry
                else:
                    inbox.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/notices"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox()
    yield box
    box.close()


def setup(cluster: Cluster) -> tuple[Site, tuple[str, Ed25519SigningKey], list[CustodianEndpoint]]:
    site = Site(f"site-{uuid.uuid4().hex[:8]}")
    site.enroll(cluster)
    op = ("op-log", register_operator(cluster, "op-log"))
    return site, op, cluster.endpoints()


def release(site: Site, op: Any, ep: CustodianEndpoint, event: str, counter: int) -> Any:
    t = now_ms() - 1_000
    rec = site.record(f"r-{event}", t, t + 2_000)[0]
    return request_release(
        ep,
        *op,
        purpose="alarm-verification",
        justification=site.alarm(event, counter, t),
        session=SessionKey.generate(),
        recordings=[rec],
    )


def customer_notices(site: Site, proc: CustodianProc) -> list[str]:
    with site.customer_client(proc.url) as client:
        resp = client.get(f"/v1/sites/{site.site_id}/notices")
        assert resp.status_code == 200, resp.text
        return [n["notice"] for n in resp.json()["notices"]]


def audit(site: Site, proc: CustodianProc, ep: CustodianEndpoint, state: Path, **kw: Any) -> Any:
    hashes = {s.statement_hash().hex() for s in site.signed}
    with CustodianLog(proc.url, ep.origin, ep.verifier) as log:
        notices = kw.pop("notices", None)
        return audit_custodian(
            log,
            state,
            site.site_id,
            customer_notices(site, proc) if notices is None else notices,
            kw.pop("statement_hashes", hashes),
        )


def test_restart_loses_nothing_and_old_proofs_verify_against_new_checkpoints(
    fresh_cluster: Callable[..., Cluster], tmp_path: Path
) -> None:
    cluster = fresh_cluster()
    site, op, eps = setup(cluster)
    proc, ep = cluster.custodians[0], eps[0]
    first = release(site, op, ep, "ev-1", 1)
    cp1 = open_checkpoint(first.checkpoint, [ep.verifier], ep.origin)
    assert audit(site, proc, ep, tmp_path / "state.json").ok
    proc.restart()
    second = release(site, op, ep, "ev-2", 2)
    cp2 = open_checkpoint(second.checkpoint, [ep.verifier], ep.origin)
    assert second.log_index > first.log_index
    # Nothing lost: the first entry is still there, byte for byte.
    stored = httpx.get(
        proc.url + "/v1/log/entries",
        params={"start": first.log_index, "end": first.log_index + 1},
    ).json()["entries"][0]["entry"]
    assert stored.encode() == first.entry
    # Old checkpoint -> new checkpoint: consistent; old entry included in the new tree.
    proof = httpx.get(
        proc.url + "/v1/log/consistency", params={"old": cp1.size, "new": cp2.size}
    ).json()["proof"]
    verify_consistency(
        cp1.size, cp2.size, cp1.root_hash, cp2.root_hash, [base64.b64decode(p) for p in proof]
    )
    incl = httpx.get(
        proc.url + "/v1/log/inclusion",
        params={"leaf_hash": entry_leaf_hash(first.entry).hex(), "tree_size": cp2.size},
    ).json()
    assert incl["index"] == first.log_index
    verify_inclusion(
        entry_leaf_hash(first.entry),
        first.log_index,
        cp2.size,
        [base64.b64decode(p) for p in incl["proof"]],
        cp2.root_hash,
    )
    report = audit(site, proc, ep, tmp_path / "state.json")
    assert report.ok, report.findings
    assert [e["type"] for _, e in report.site_entries] == ["release"]


def _tamper(proc: CustodianProc, fn: Callable[[Any], None]) -> None:
    proc.stop()
    engine = make_engine(proc.db_url)
    with engine.begin() as conn:
        fn(conn)
    engine.dispose()
    proc.start()


def test_rewritten_log_is_detected(fresh_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = fresh_cluster()
    site, op, eps = setup(cluster)
    proc, ep = cluster.custodians[0], eps[0]
    rel = release(site, op, ep, "ev-1", 1)
    state = tmp_path / "state.json"
    assert audit(site, proc, ep, state).ok
    # The custodian's operator rewrites the release entry (and its leaf hash) to hide it.
    forged = json.loads(rel.entry)
    forged["operator_id"] = "nobody"
    data = json.dumps(forged, separators=(",", ":"), sort_keys=True).encode()
    _tamper(
        proc,
        lambda c: c.execute(
            update(log_entries)
            .where(log_entries.c.idx == rel.log_index)
            .values(entry=data, leaf_hash=entry_leaf_hash(data))
        ),
    )
    report = audit(site, proc, ep, state)
    assert [f.kind for f in report.findings] == ["log_inconsistent"]


def test_truncated_log_is_detected(fresh_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = fresh_cluster()
    site, op, eps = setup(cluster)
    proc, ep = cluster.custodians[0], eps[0]
    rel = release(site, op, ep, "ev-1", 1)
    state = tmp_path / "state.json"
    assert audit(site, proc, ep, state).ok
    _tamper(
        proc, lambda c: c.execute(delete(log_entries).where(log_entries.c.idx >= rel.log_index))
    )
    report = audit(site, proc, ep, state)
    assert [f.kind for f in report.findings] == ["log_truncated"]
    # Truncate then grow past the old size again: the history no longer matches.
    for i in range(3):
        release(site, op, ep, f"ev-{i + 2}", i + 2)
    report = audit(site, proc, ep, state)
    # The re-used log index also has two different notices (the old release's and the new
    # one's): a notice mismatch, itself evidence of the rewrite.
    assert [f.kind for f in report.findings] == ["log_inconsistent", "notice_mismatch"]
    assert report.findings[1].index == rel.log_index


def test_notices_are_delivered_verified_and_unexpected_entries_reported(
    fresh_cluster: Callable[..., Cluster], inbox: Inbox, tmp_path: Path
) -> None:
    cluster = fresh_cluster({"CAMVAULT_ESCROW_NOTIFY_URL": inbox.url})
    site, op, eps = setup(cluster)
    proc, ep = cluster.custodians[0], eps[0]
    rel = release(site, op, ep, "ev-1", 1)
    deadline = time.monotonic() + 20
    while not inbox.received and time.monotonic() < deadline:
        time.sleep(0.1)
    assert inbox.calls >= 2, "the first delivery failed and must have been retried"
    pushed = [n for n in inbox.received if n["custodian_id"] == "c1"]
    assert len(pushed) == 1
    # Every delivery is signed with the custodian's log key (listed in the site's SiteKeys),
    # as custodian:<site>/<custodian>, and covers the body: the storage service checks it.
    for request, body in inbox.requests:
        custodian = json.loads(body)["custodian_id"]
        log_key = next(e.log_key for e in eps if e.custodian_id == custodian)
        parsed = parse_signature(
            request.headers.get("signature-input"), request.headers.get("signature")
        )
        assert parsed.params.keyid == f"custodian:{site.site_id}/{custodian}"
        check_content_digest(request.headers.get("content-digest"), body)
        verify_request(request, parsed, log_key, required=("@method", "@path", "content-digest"))
    notice = json.loads(pushed[0]["notice"])
    assert notice["log_index"] == rel.log_index
    assert notice["operator_id"] == "op-log"
    assert notice["cameras"] == ["cam-front"]
    assert [r["recording_id"] for r in notice["recordings"]] == ["r-ev-1"]
    assert customer_notices(site, proc) == [pushed[0]["notice"]]
    # The customer's audit: the notice is in the log and the release is expected.
    report = audit(site, proc, ep, tmp_path / "ok.json", notices=[pushed[0]["notice"]])
    assert report.ok, report.findings
    # A notice that lists other recordings than the logged release: caught.
    bad = dict(notice)
    bad["recordings"] = [
        dict(notice["recordings"][0], end_ms=notice["recordings"][0]["end_ms"] + 1)
    ]
    report = audit(site, proc, ep, tmp_path / "bad.json", notices=[json.dumps(bad)])
    assert "notice_mismatch" in {f.kind for f in report.findings}
    # A release the customer was never told about, and a device it never enrolled.
    report = audit(site, proc, ep, tmp_path / "silent.json", notices=[])
    assert [f.kind for f in report.findings] == ["unexpected_release"]
    unknown = site.signed[-1].statement_hash().hex()
    known = {s.statement_hash().hex() for s in site.signed} - {unknown}
    report = audit(site, proc, ep, tmp_path / "keys.json", statement_hashes=known)
    assert [f.kind for f in report.findings] == ["unexpected_change"]
