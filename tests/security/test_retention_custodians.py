"""Attack: recordings past the customer's retention. The storage service's sweeper deletes
them (their headers first: crypto-shredding), but whoever kept a header — an operator, or a
storage operator restoring a database backup — and holds a maintenance consent covering that
time asked the custodians for its shares, and got them. The customer's retention must reach
the custodians as a customer-signed, logged RetentionPolicy that each custodian enforces on
its own, on the recording's end time as its escrow stanzas bind it (DESIGN.md "Ends of
access"); security does not depend on the storage service having swept.

Real services (storage and three custodian processes, t = 2), real age files; refusals are
checked for their reason code and read back from each custodian's log, and the customer's
audit accepts the policies it signed. Then the CLI: `customer retention` reaches every
custodian, and a custodian that was down when the customer set the retention or deleted a
recording gets both from the customer's outbox (state directory) with the next command once
it is back.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.api.escrow import to_every_custodian
from clients.customer.outbox import OUTBOX_FILE
from clients.operator.release import (
    CustodianEndpoint,
    Recording,
    gather_releases,
    recover_file_key,
)
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import ShareError
from crypto.escrow import SessionKey
from crypto.statements import RetentionPolicy, SignedStatement, sign_statement
from tests.clients.customer_world import World, setup_customer, world_fixture  # noqa: F401
from tests.escrow.ends_support import (  # noqa: F401 (the eps, site fixtures)
    Operator,
    ask,
    customer_audit,
    eps_fixture,
    log_entries,
    logged_entry,
    new_site,
    site_fixture,
)
from tests.escrow.harness import Cluster, CustodianProc, Site, register_operator

DAY = 86_400_000
MAINTENANCE = "maintenance"


@pytest.fixture(scope="module", name="cluster")
def world_cluster(world: World) -> Cluster:
    """The world's three custodians (t = 2) as the release tests' cluster: one set of
    processes for the module."""
    return Cluster("sqlite", world.custodians, world.arc_key)


@pytest.fixture(scope="module")
def technician(cluster: Cluster) -> Operator:
    return "tech-ret", register_operator(cluster, "tech-ret")


def policy(site: Site, days: int | None, issued_at_ms: int | None = None) -> SignedStatement:
    body = RetentionPolicy(site.site_id, days, issued_at_ms or now_ms())
    return site.sign(body)  # the customer's own client remembers what it signed


def post(
    eps: list[CustodianEndpoint], site_id: str, signed: SignedStatement
) -> list[httpx.Response]:
    body = {"retention_policy": signed.to_json()}
    return [httpx.post(f"{ep.url}/v1/sites/{site_id}/retention", json=body) for ep in eps]


def set_everywhere(eps: list[CustodianEndpoint], site: Site, signed: SignedStatement) -> None:
    acks = to_every_custodian(eps, lambda api, _c: api.set_retention(site.site_id, signed))
    assert [(a.acknowledged, a.status) for a in acks] == [(True, "logged")] * len(eps)


def test_recordings_past_the_retention_are_refused_by_every_custodian(
    cluster: Cluster,
    eps: list[CustodianEndpoint],
    technician: Operator,
    site: Site,
    tmp_path: Path,
) -> None:
    now = now_ms()
    old, _, _ = site.record("r-old", now - 3 * DAY - 2_000, now - 3 * DAY)  # header kept
    recent, _, _ = site.record("r-recent", now - 3_600_000, now - 3_598_000)
    consent = site.consent("consent-ret", technician[0], rec_from=now - 4 * DAY, rec_to=now)
    for ep in eps:  # control: the consent covers both, and both are released
        rel = ask(ep, technician, consent, [old, recent], purpose=MAINTENANCE)
        assert set(rel.sealed) == {"r-old", "r-recent"}

    two_days = policy(site, 2)
    resp = post(eps[:1], site.site_id, two_days)[0]
    assert resp.status_code == 200, resp.text
    entry = logged_entry(cluster.custodians[0], eps[0], resp.json()["log"])
    assert entry["type"] == "retention-policy" and entry["site_id"] == site.site_id
    assert entry["retention_days"] == 2
    assert entry["statement_sha256"] == two_days.statement_hash().hex()
    set_everywhere(eps[1:], site, two_days)

    # Each custodian refuses the old recording, alone or in a batch, and logs it.
    for proc, ep in zip(cluster.custodians, eps, strict=True):
        rel = ask(ep, technician, consent, [old], purpose=MAINTENANCE)
        assert rel.sealed == {} and rel.refused["r-old"][0] == "retention_expired"
        e = logged_entry(proc, ep, rel.receipt)
        assert e["type"] == "refusal" and e["refused"]["reasons"] == {"retention_expired": 1}
        rel = ask(ep, technician, consent, [recent, old], purpose=MAINTENANCE)
        assert set(rel.sealed) == {"r-recent"}
        e = logged_entry(proc, ep, rel.receipt)
        assert e["type"] == "release" and e["released"]["count"] == 1
        assert e["refused"]["reasons"] == {"retention_expired": 1}
    session = SessionKey.generate()
    releases = gather_releases(
        eps,
        2,
        *technician,
        purpose=MAINTENANCE,
        justification=consent,
        session=session,
        recordings=[old, recent],
    )
    with pytest.raises(ShareError):
        recover_file_key(releases, old, session)
    recover_file_key(releases, recent, session)  # control: the recent one still opens

    # Relabelling the old recording as recent passes the retention check but not the
    # stanza: its times are bound into the stanza's AEAD.
    relabelled = Recording(
        old.header,
        dataclasses.replace(old.metadata, start_ms=recent.metadata.start_ms, end_ms=now),
    )
    for ep in eps:
        rel = ask(ep, technician, consent, [relabelled], purpose=MAINTENANCE)
        assert rel.sealed == {} and rel.refused["r-old"][0] == "stanza_metadata_mismatch"

    # A longer retention later never brings back what an earlier one expired.
    keep = policy(site, None)
    set_everywhere(eps, site, keep)
    for ep in eps:
        rel = ask(ep, technician, consent, [old, recent], purpose=MAINTENANCE)
        assert set(rel.sealed) == {"r-recent"}
        assert rel.refused["r-old"][0] == "retention_expired"

    # The customer's audit: the policies are its own.
    for i, (proc, ep) in enumerate(zip(cluster.custodians, eps, strict=True)):
        report = customer_audit(site, proc, ep, tmp_path / f"audit-{i}.json")
        assert report.ok, report.findings
        kinds = [e["type"] for _, e in report.site_entries]
        assert kinds.count("retention-policy") == 2


def test_forged_stale_and_foreign_policies_change_nothing(
    cluster: Cluster, eps: list[CustodianEndpoint], technician: Operator, site: Site
) -> None:
    other = new_site(cluster)
    now = now_ms()
    old, _, _ = site.record("r-old", now - 3 * DAY - 2_000, now - 3 * DAY)
    consent = site.consent("consent-f", technician[0], rec_from=now - 4 * DAY, rec_to=now)
    held = policy(site, None)
    set_everywhere(eps, site, held)
    body = RetentionPolicy(site.site_id, 1, now_ms())
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
            "this site's policy posted to another site",
            other.site_id,
            sign_statement(body, site.customer_key),
            403,
            "bad_signature",
        ),
        (
            "another site's policy under this site",
            site.site_id,
            sign_statement(RetentionPolicy(other.site_id, 1, now_ms()), site.customer_key),
            403,
            "wrong_site",
        ),
        (
            "older than the policy held",
            site.site_id,
            sign_statement(RetentionPolicy(site.site_id, 1, now - 60_000), site.customer_key),
            409,
            "statement_conflict",
        ),
    ]
    before = [len(log_entries(proc)) for proc in cluster.custodians]
    for what, site_id, signed, status, reason in attempts:
        for r in post(eps, site_id, signed):
            assert (r.status_code, r.json()["error"]["code"]) == (status, reason), what
    assert [len(log_entries(proc)) for proc in cluster.custodians] == before
    for ep in eps:  # nothing changed: the old recording is still released
        rel = ask(ep, technician, consent, [old], purpose=MAINTENANCE)
        assert set(rel.sealed) == {"r-old"}
    for r in post(eps, site.site_id, held):  # the held policy again: unchanged, not logged
        assert r.status_code == 200 and r.json()["status"] == "unchanged"


def test_the_cli_sends_the_retention_to_every_custodian(world: World, tmp_path: Path) -> None:
    customer = setup_customer(world, tmp_path)
    out = customer.run("retention", "--days", "30").output
    assert "retention: 30 day(s)" in out and out.count("acknowledged (logged)") == 3
    for proc in world.custodians:
        entries = [e for e in log_entries(proc) if e.get("site_id") == customer.site_id]
        assert [e["retention_days"] for e in entries if e["type"] == "retention-policy"] == [30]
    bad = customer.run("retention", "--days", "0", code=1).output
    assert "camvault: error:" in bad and "retention_days" in bad and "Traceback" not in bad
    customer.run("audit")  # exit 0: the custodians' entries are the customer's own


# --- the outbox: a custodian down when the customer sends ----------------------------------


def entries_of(proc: CustodianProc, site_id: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=proc.url, timeout=10) as http:
        size = int(http.get("/v1/log/checkpoint").text.split("\n")[1])
        rows = http.get("/v1/log/entries", params={"start": 0, "end": size}).json()["entries"]
    entries = [json.loads(r["entry"]) for r in rows]
    return [e for e in entries if e.get("site_id") == site_id]


@contextmanager
def stopped(proc: CustodianProc) -> Iterator[None]:
    """The custodian is down inside the block (and started again however it ends)."""
    proc.stop()
    try:
        yield
    finally:
        if proc.proc is None:
            proc.start()


def test_statements_for_a_custodian_that_was_down_are_sent_again(
    world: World, tmp_path: Path
) -> None:
    c = setup_customer(world, tmp_path)
    rid = c.camera.record(now_ms() - 60_000)
    outbox = c.state / OUTBOX_FILE
    c2 = world.custodians[1]
    with stopped(c2):
        out = c.run("retention", "--days", "30", code=1).output
        assert "custodian c2: NOT acknowledged (unreachable" in out and "kept" in out
        assert out.count("acknowledged (logged)") == 2
        out = c.run("delete", "--camera", "cam-front", "--recording", rid, code=1).output
        assert "1 recording(s) deleted" in out and "custodian c2: NOT acknowledged" in out
        kept = json.loads(outbox.read_text())
        assert [(p["custodian_id"], p["kind"]) for p in kept] == [
            ("c2", "retention"),
            ("c2", "deletion"),
        ]
        # Still down: `sync` keeps them and says so.
        out = c.run("sync", code=1).output
        assert "still pending" in out and len(json.loads(outbox.read_text())) == 2
    # Back up: the next customer command sends them; c2 logs the very statements signed.
    out = c.run("list").output
    assert out.count("outbox:") == 2 and "still pending" not in out
    assert not outbox.exists()
    ends = ("retention-policy", "recording-deletion")

    def statements(proc: CustodianProc) -> list[tuple[str, str]]:
        entries = entries_of(proc, c.site_id)
        return [(e["type"], e["statement_sha256"]) for e in entries if e["type"] in ends]

    assert [kind for kind, _ in statements(c2)] == list(ends)
    assert statements(c2) == statements(world.custodians[0])  # the same signed statements
    assert "outbox empty" in c.run("sync").output
    c.run("audit")  # exit 0: every custodian's entries are the customer's own
