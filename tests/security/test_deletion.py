"""Attack: an operator kept a recording's header during an alarm; the customer deletes the
recording (the storage service crypto-shreds it); the operator then asks the custodians for
its shares. A customer-signed deletion must reach the custodians directly and be enforced
there, for good (DESIGN.md "Ends of access").

Real cluster (three custodian processes, t = 2), real age files. Refusals are checked for
their reason code and found in each custodian's log.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest

from clients.api.escrow import CustodianApi, to_every_custodian
from clients.operator.release import (
    CustodianEndpoint,
    Recording,
    decrypt_recording,
    gather_releases,
    recover_file_key,
)
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import ShareError
from crypto.escrow import SessionKey
from crypto.statements import (
    MAX_DELETION_RECORDINGS,
    AlarmCancel,
    ConsentScope,
    RecordingDeletion,
    SignedStatement,
    sign_statement,
)
from tests.escrow.ends_support import (  # noqa: F401 (the cluster, eps, site fixtures)
    ALARM,
    Operator,
    ask,
    cluster_fixture,
    customer_audit,
    eps_fixture,
    log_entries,
    logged_entry,
    new_site,
    site_fixture,
)
from tests.escrow.harness import Cluster, Site, register_operator


@pytest.fixture(scope="module")
def operator(cluster: Cluster) -> Operator:
    return "op-del", register_operator(cluster, "op-del")


def deletion(
    site: Site, *rids: str, camera: str = "cam-front", key: Ed25519SigningKey | None = None
) -> SignedStatement:
    body = RecordingDeletion(site.site_id, camera, tuple(rids), now_ms())
    if key is None:
        return site.sign(body)  # the customer's own client remembers what it signed
    return sign_statement(body, key)


def delete_everywhere(
    eps: list[CustodianEndpoint], site: Site, signed: SignedStatement, status: str = "logged"
) -> None:
    acks = to_every_custodian(eps, lambda api, _c: api.delete_recordings(site.site_id, signed))
    assert [(a.acknowledged, a.status) for a in acks] == [(True, status)] * len(eps)


def test_a_deleted_recording_is_refused_by_every_custodian_for_good(
    cluster: Cluster, eps: list[CustodianEndpoint], operator: Operator, site: Site, tmp_path: Path
) -> None:
    t = now_ms() - 5_000
    alarm = site.alarm("ev-1", counter=1, triggered_at_ms=t)
    gone, _, _ = site.record("r-gone", t - 1_000, t + 1_000)  # header kept by the operator
    kept, kept_payload, kept_plain = site.record("r-kept", t - 2_000, t)
    for ep in eps:  # control: both release
        assert set(ask(ep, operator, alarm, [gone, kept]).sealed) == {"r-gone", "r-kept"}

    signed = deletion(site, "r-gone")
    with CustodianApi.of(eps[0]) as api:
        resp = api.http.post(
            f"/v1/sites/{site.site_id}/deletions", json={"deletion": signed.to_json()}
        )
    assert resp.status_code == 200, resp.text
    entry = logged_entry(cluster.custodians[0], eps[0], resp.json()["log"])
    assert entry["type"] == "recording-deletion"
    assert entry["site_id"] == site.site_id and entry["camera_id"] == "cam-front"
    assert entry["recordings"] == 1 and entry["statement_sha256"] == signed.statement_hash().hex()
    assert "r-gone" not in resp.json()["log"]["entry"]  # recording ids are never logged
    delete_everywhere(eps[1:], site, signed)

    # The saved header, in the same batch as a recording that was not deleted.
    session = SessionKey.generate()
    releases = gather_releases(
        eps,
        2,
        *operator,
        purpose=ALARM,
        justification=alarm,
        session=session,
        recordings=[gone, kept],
    )
    for rel in releases:
        assert set(rel.sealed) == {"r-kept"}
        assert rel.refused["r-gone"][0] == "recording_deleted"
    with pytest.raises(ShareError):
        recover_file_key(releases, gone, session)
    out = io.BytesIO()
    decrypt_recording(releases, kept, session, io.BytesIO(kept_payload), out)
    assert out.getvalue() == kept_plain
    # Each custodian refuses it and logs the refusal, alone or in a batch.
    for proc, ep in zip(cluster.custodians, eps, strict=True):
        rel = ask(ep, operator, alarm, [gone])
        assert rel.sealed == {} and rel.refused["r-gone"][0] == "recording_deleted"
        e = logged_entry(proc, ep, rel.receipt)
        assert e["type"] == "refusal" and e["refused"]["reasons"] == {"recording_deleted": 1}
        rel = ask(ep, operator, alarm, [kept, gone])
        e = logged_entry(proc, ep, rel.receipt)
        assert e["type"] == "release" and e["released"]["count"] == 1
        assert e["refused"]["reasons"] == {"recording_deleted": 1}

    # For good: a maintenance consent covering it does not bring it back either.
    tech = ("tech-del", register_operator(cluster, "tech-del"))
    consent = site.consent(
        "consent-1",
        "tech-del",
        scope=(ConsentScope.RECORDINGS,),
        rec_from=t - 60_000,
        rec_to=t + 60_000,
    )
    for ep in eps:
        rel = ask(ep, tech, consent, [gone, kept], purpose="maintenance")
        assert set(rel.sealed) == {"r-kept"}
        assert rel.refused["r-gone"][0] == "recording_deleted"

    # The customer's audit: the deletion is its own, the releases have notices.
    for i, (proc, ep) in enumerate(zip(cluster.custodians, eps, strict=True)):
        report = customer_audit(site, proc, ep, tmp_path / f"audit-{i}.json")
        assert report.ok, report.findings
        assert "recording-deletion" in [e["type"] for _, e in report.site_entries]


def test_forged_and_foreign_deletions_change_nothing(
    cluster: Cluster, eps: list[CustodianEndpoint], operator: Operator, site: Site
) -> None:
    other = new_site(cluster)
    t = now_ms() - 5_000
    alarm = site.alarm("ev-1", counter=1, triggered_at_ms=t)
    rec, _, _ = site.record("r-1", t - 1_000, t + 1_000)
    body = RecordingDeletion(site.site_id, "cam-front", ("r-1",), now_ms())
    other_body = RecordingDeletion(other.site_id, "cam-front", ("r-1",), now_ms())
    attempts: list[tuple[str, str, SignedStatement, int, str]] = [
        (
            "signed by a stranger",
            site.site_id,
            sign_statement(body, Ed25519SigningKey.generate()),
            403,
            "bad_signature",
        ),
        (
            "signed by another site's customer",
            site.site_id,
            sign_statement(body, other.customer_key),
            403,
            "bad_signature",
        ),
        (
            "signed by the panel",
            site.site_id,
            sign_statement(body, site.panel_key),
            403,
            "bad_signature",
        ),
        (
            "another site's deletion posted here",
            site.site_id,
            sign_statement(other_body, other.customer_key),
            403,
            "bad_signature",
        ),
        (
            "this site's deletion naming another site",
            other.site_id,
            sign_statement(body, site.customer_key),
            403,
            "bad_signature",
        ),
        (
            "another site's own deletion, under this site",
            site.site_id,
            sign_statement(other_body, site.customer_key),
            403,
            "wrong_site",
        ),
        (
            "unknown site",
            "site-nowhere",
            sign_statement(body, site.customer_key),
            403,
            "unknown_site",
        ),
        (
            "an alarm cancel instead",
            site.site_id,
            sign_statement(
                AlarmCancel(site.site_id, site.panel_id, "ev-1", now_ms()), site.customer_key
            ),
            400,
            "malformed_request",
        ),
    ]
    for what, route_site, signed, status, reason in attempts:
        payload = signed.to_json()
        for proc in cluster.custodians:
            resp = httpx.post(
                f"{proc.url}/v1/sites/{route_site}/deletions",
                json={"deletion": payload},
                timeout=10,
            )
            assert resp.status_code == status, (what, resp.text)
            assert resp.json()["error"]["code"] == reason, (what, resp.text)
    # Malformed bodies: too many recordings, a bad id, not a statement at all.
    good = sign_statement(body, site.customer_key).to_json()
    too_many = json.loads(json.dumps(good))
    too_many["body"]["recording_ids"] = [f"r-{i}" for i in range(MAX_DELETION_RECORDINGS + 1)]
    bad_id = json.loads(json.dumps(good))
    bad_id["body"]["recording_ids"] = ["../r-1"]
    malformed: list[object] = [too_many, bad_id, "r-1", [], None]
    for bad in malformed:
        for proc in cluster.custodians:
            resp = httpx.post(
                f"{proc.url}/v1/sites/{site.site_id}/deletions",
                json={"deletion": bad},
                timeout=10,
            )
            assert resp.status_code == 400 and resp.json()["error"]["code"] == "malformed_request"
    # Nothing was deleted, nothing was logged.
    for ep in eps:
        assert set(ask(ep, operator, alarm, [rec]).sealed) == {"r-1"}
    for proc in cluster.custodians:
        assert not [
            e
            for e in log_entries(proc)
            if e["type"] == "recording-deletion" and e["site_id"] == site.site_id
        ]


def test_a_replayed_deletion_is_idempotent(
    cluster: Cluster, eps: list[CustodianEndpoint], operator: Operator, site: Site
) -> None:
    t = now_ms() - 5_000
    alarm = site.alarm("ev-1", counter=1, triggered_at_ms=t)
    recs: list[Recording] = [site.record(f"r-{i}", t - 1_000, t + 1_000)[0] for i in range(3)]
    first = deletion(site, "r-0", "r-1")
    delete_everywhere(eps, site, first)
    delete_everywhere(eps, site, first, status="unchanged")
    # A later deletion naming one recording already deleted and one more: logged, both held.
    second = deletion(site, "r-1", "r-2")
    delete_everywhere(eps, site, second)
    for proc in cluster.custodians:
        mine = [
            e
            for e in log_entries(proc)
            if e["type"] == "recording-deletion" and e["site_id"] == site.site_id
        ]
        assert [(e["recordings"], e["newly_deleted"]) for e in mine] == [(2, 2), (2, 1)]
    for ep in eps:
        rel = ask(ep, operator, alarm, recs)
        assert rel.sealed == {}
        assert {r: v[0] for r, v in rel.refused.items()} == {
            "r-0": "recording_deleted",
            "r-1": "recording_deleted",
            "r-2": "recording_deleted",
        }
    # Same ids under another camera are other recordings: not deleted.
    other_cam, _, _ = site.record("r-0", t - 1_000, t + 1_000, camera="cam-nolive")
    assert set(ask(eps[0], operator, alarm, [other_cam]).sealed) == {"r-0"}
