"""What release tests on a real cluster share (tests/escrow/test_release.py and the attack
tests of the ends of access, tests/security/test_alarm_close.py and test_deletion.py): a
module's cluster of SQLite custodians and a fresh site (fixtures ``cluster``, ``eps`` and
``site``: import ``*_fixture`` into the test module), asking a custodian, a refusal at every
custodian read back from its log, the log's entries, and the customer's audit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.audit.log import AuditReport, CustodianLog, audit_custodian
from clients.operator.release import (
    CustodianEndpoint,
    CustodianRefused,
    CustodianRelease,
    Recording,
    request_release,
    verify_receipt,
)
from crypto.ed25519 import Ed25519SigningKey
from crypto.escrow import SessionKey
from crypto.statements import SignedStatement
from tests.escrow.conftest import make_cluster
from tests.escrow.harness import Cluster, CustodianProc, Site

ALARM = "alarm-verification"
Operator = tuple[str, Ed25519SigningKey]


def new_site(cluster: Cluster) -> Site:
    site = Site(f"site-{uuid.uuid4().hex[:10]}")
    site.enroll(cluster)
    return site


@pytest.fixture(scope="module", name="cluster")
def cluster_fixture(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """Three SQLite custodians shared by a module's tests (each test uses its own sites)."""
    yield make_cluster("sqlite", request)


@pytest.fixture(scope="module", name="eps")
def eps_fixture(cluster: Cluster) -> list[CustodianEndpoint]:
    return cluster.endpoints()


@pytest.fixture(name="site")
def site_fixture(cluster: Cluster) -> Site:
    return new_site(cluster)


def ask(
    ep: CustodianEndpoint,
    operator: Operator,
    justification: SignedStatement | None,
    recordings: list[Recording],
    purpose: str = ALARM,
    session: SessionKey | None = None,
) -> CustodianRelease:
    return request_release(
        ep,
        *operator,
        purpose=purpose,
        justification=justification,
        session=session or SessionKey.generate(),
        recordings=recordings,
    )


def logged_entry(
    proc: CustodianProc, ep: CustodianEndpoint, receipt: dict[str, Any]
) -> dict[str, Any]:
    """The receipt verifies (signed checkpoint, inclusion) and the log serves these bytes."""
    index, entry, _ = verify_receipt(ep, receipt)
    stored = httpx.get(
        proc.url + "/v1/log/entries", params={"start": index, "end": index + 1}, timeout=10
    ).json()["entries"]
    assert stored == [{"index": index, "entry": entry.decode()}]
    obj: dict[str, Any] = json.loads(entry)
    return obj


def expect_refusal(
    cluster: Cluster,
    eps: list[CustodianEndpoint],
    operator: Operator,
    justification: SignedStatement | None,
    recordings: list[Recording],
    reason: str,
    purpose: str = ALARM,
) -> list[dict[str, Any]]:
    """Every custodian refuses the request for ``reason`` and logs the refusal."""
    entries = []
    for proc, ep in zip(cluster.custodians, eps, strict=True):
        with pytest.raises(CustodianRefused) as info:
            ask(ep, operator, justification, recordings, purpose)
        assert info.value.reason == reason, info.value
        assert info.value.log is not None
        entry = logged_entry(proc, ep, info.value.log)
        assert entry["type"] == "refusal"
        assert entry["reason"] == reason
        assert entry["released"]["count"] == 0
        entries.append(entry)
    return entries


def log_entries(proc: CustodianProc) -> list[dict[str, Any]]:
    """Every entry of the custodian's log."""
    size = int(httpx.get(proc.url + "/v1/log/checkpoint", timeout=10).text.split("\n")[1])
    rows = httpx.get(
        proc.url + "/v1/log/entries", params={"start": 0, "end": size}, timeout=10
    ).json()["entries"]
    return [json.loads(r["entry"]) for r in rows]


def customer_audit(
    site: Site, proc: CustodianProc, ep: CustodianEndpoint, state: Path
) -> AuditReport:
    """The customer's audit of one custodian, with the notices it holds and the statements
    it signed."""
    with site.customer_client(proc.url) as client:
        resp = client.get(f"/v1/sites/{site.site_id}/notices")
        assert resp.status_code == 200, resp.text
        notices = [n["notice"] for n in resp.json()["notices"]]
    hashes = {s.statement_hash().hex() for s in site.signed}
    with CustodianLog(proc.url, ep.origin, ep.verifier) as log:
        return audit_custodian(log, state, site.site_id, notices, hashes)
