"""What the attack tests of the ends of access share (tests/security/test_alarm_close.py,
tests/security/test_deletion.py): a site with an operator on a real cluster, asking every
custodian, reading a refusal or an entry back from the log, and the customer's audit."""

from __future__ import annotations

import json
import uuid
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
from tests.escrow.harness import Cluster, CustodianProc, Site

ALARM = "alarm-verification"
Operator = tuple[str, Ed25519SigningKey]


def new_site(cluster: Cluster) -> Site:
    site = Site(f"site-{uuid.uuid4().hex[:10]}")
    site.enroll(cluster)
    return site


def ask(
    ep: CustodianEndpoint,
    operator: Operator,
    justification: SignedStatement,
    recordings: list[Recording],
    purpose: str = ALARM,
) -> CustodianRelease:
    return request_release(
        ep,
        *operator,
        purpose=purpose,
        justification=justification,
        session=SessionKey.generate(),
        recordings=recordings,
    )


def logged(proc: CustodianProc, ep: CustodianEndpoint, receipt: dict[str, Any]) -> dict[str, Any]:
    """The receipt verifies (signed checkpoint, inclusion) and the log serves these bytes."""
    index, entry, _ = verify_receipt(ep, receipt)
    stored = httpx.get(
        proc.url + "/v1/log/entries", params={"start": index, "end": index + 1}, timeout=10
    ).json()["entries"]
    assert stored == [{"index": index, "entry": entry.decode()}]
    obj: dict[str, Any] = json.loads(entry)
    return obj


def refused_everywhere(
    cluster: Cluster,
    eps: list[CustodianEndpoint],
    operator: Operator,
    justification: SignedStatement,
    recordings: list[Recording],
    reason: str,
    purpose: str = ALARM,
) -> None:
    """Every custodian refuses the request for ``reason`` and its log holds the refusal."""
    for proc, ep in zip(cluster.custodians, eps, strict=True):
        with pytest.raises(CustodianRefused) as info:
            ask(ep, operator, justification, recordings, purpose)
        assert info.value.reason == reason, info.value
        assert info.value.log is not None
        entry = logged(proc, ep, info.value.log)
        assert entry["type"] == "refusal" and entry["reason"] == reason
        assert entry["released"]["count"] == 0


def entries(proc: CustodianProc) -> list[dict[str, Any]]:
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
