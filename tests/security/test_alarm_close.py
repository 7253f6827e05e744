"""Attack: an ARC operator keeps a header and the panel's signed AlarmEvent after the alarm
was closed, and asks the custodians for shares. Closing must end access AT THE CUSTODIANS,
not only at the storage service (DESIGN.md "Ends of access").

Real cluster (three custodian processes, t = 2), real age files. Every refusal is checked
for its reason code and found in the refusing custodian's log (signed checkpoint, inclusion
proof, stored bytes).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.api.errors import ServiceRefused
from clients.api.escrow import CustodianApi, to_every_custodian
from clients.operator.release import (
    CustodianEndpoint,
    decrypt_recording,
    gather_releases,
)
from common.http import SignedClient
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.escrow import SessionKey
from crypto.statements import AlarmClose, OperatorRole, SignedStatement, sign_statement
from tests.escrow.ends_support import (  # noqa: F401 (the cluster, eps, site fixtures)
    ALARM,
    Operator,
    ask,
    cluster_fixture,
    customer_audit,
    eps_fixture,
    expect_refusal,
    log_entries,
    new_site,
    site_fixture,
)
from tests.escrow.harness import Cluster, Site, register_operator


@pytest.fixture(scope="module")
def operator(cluster: Cluster) -> Operator:
    return "op-close", register_operator(cluster, "op-close")


def close_of(
    site: Site,
    event_id: str,
    operator_id: str,
    key: Ed25519SigningKey,
    *,
    site_id: str | None = None,
    panel_id: str | None = None,
) -> SignedStatement:
    body = AlarmClose(
        site_id=site_id or site.site_id,
        panel_id=panel_id or site.panel_id,
        event_id=event_id,
        operator_id=operator_id,
        closed_at_ms=now_ms(),
    )
    return sign_statement(body, key)


def post_close(
    ep: CustodianEndpoint,
    close: SignedStatement,
    site_id: str,
    keyid: str,
    key: Ed25519SigningKey,
) -> httpx.Response:
    with SignedClient(ep.url, keyid, key) as client:
        return client.post(
            f"/v1/sites/{site_id}/alarm-closes", json={"alarm_close": close.to_json()}
        )


def close_everywhere(
    cluster: Cluster, eps: list[CustodianEndpoint], close: SignedStatement, operator: Operator
) -> list[dict[str, Any]]:
    """The operator closes at every custodian (the client path); each logs an alarm-close."""
    op_id, key = operator

    def send(api: CustodianApi, c: CustodianEndpoint) -> str:
        with SignedClient(c.url, f"operator:{op_id}", key) as client:
            return api.close_alarm(client, close.unverified_statement.site_id, close)  # type: ignore[attr-defined]

    acks = to_every_custodian(eps, send)
    assert [(a.acknowledged, a.status) for a in acks] == [(True, "logged")] * len(eps)
    out = []
    for proc in cluster.custodians:
        closes = [e for e in log_entries(proc) if e["type"] == "alarm-close"]
        mine = [e for e in closes if e["statement_sha256"] == close.statement_hash().hex()]
        assert len(mine) == 1
        out.append(mine[0])
    return out


def released_everywhere(
    eps: list[CustodianEndpoint], operator: Operator, alarm: SignedStatement, site: Site
) -> None:
    t = alarm.unverified_statement.triggered_at_ms  # type: ignore[attr-defined]
    rec, payload, plain = site.record(f"r-{now_ms()}", t - 1_000, t + 1_000)
    session = SessionKey.generate()
    releases = gather_releases(
        eps, 2, *operator, purpose=ALARM, justification=alarm, session=session, recordings=[rec]
    )
    out = io.BytesIO()
    decrypt_recording(releases, rec, session, io.BytesIO(payload), out)
    assert out.getvalue() == plain
    for ep in eps:
        assert set(ask(ep, operator, alarm, [rec]).sealed) == {rec.metadata.recording_id}


def test_a_closed_alarm_gets_no_share_from_any_custodian(
    cluster: Cluster, eps: list[CustodianEndpoint], operator: Operator, site: Site, tmp_path: Path
) -> None:
    t = now_ms() - 5_000
    alarm = site.alarm("ev-closed", counter=1, triggered_at_ms=t)
    # The header the operator saved while the alarm was open.
    saved, _, _ = site.record("r-saved", t - 1_000, t + 1_000)
    released_everywhere(eps, operator, alarm, site)  # control: the alarm releases
    for ep in eps:
        assert set(ask(ep, operator, alarm, [saved]).sealed) == {"r-saved"}

    logged_closes = close_everywhere(cluster, eps, close_of(site, "ev-closed", *operator), operator)
    for e in logged_closes:
        assert e["site_id"] == site.site_id and e["event_id"] == "ev-closed"
        assert e["panel_id"] == site.panel_id and e["operator_id"] == operator[0]

    # The same signed AlarmEvent and the saved header: refused by every custodian, logged.
    expect_refusal(cluster, eps, operator, alarm, [saved], "alarm_closed")
    # Another registered operator fares no better.
    other = ("op-close-2", register_operator(cluster, "op-close-2"))
    expect_refusal(cluster, eps, other, alarm, [saved], "alarm_closed")
    # The customer's audit sees the close and the refusals, and finds nothing wrong.
    for i, (proc, ep) in enumerate(zip(cluster.custodians, eps, strict=True)):
        report = customer_audit(site, proc, ep, tmp_path / f"audit-{i}.json")
        assert report.ok, report.findings
        kinds = [entry["type"] for _, entry in report.site_entries]
        assert "alarm-close" in kinds


def test_a_close_before_the_first_presentation_sticks(
    cluster: Cluster, eps: list[CustodianEndpoint], operator: Operator, site: Site
) -> None:
    alarm = site.alarm("ev-early", counter=1)
    rec, _, _ = site.record("r-1", now_ms() - 11_000, now_ms() - 9_000)
    close_everywhere(cluster, eps, close_of(site, "ev-early", *operator), operator)
    expect_refusal(cluster, eps, operator, alarm, [rec], "alarm_closed")
    # A later alarm of the same panel is not affected.
    released_everywhere(eps, operator, site.alarm("ev-later", counter=2), site)


def test_closes_that_must_not_stop_releases(
    cluster: Cluster, eps: list[CustodianEndpoint], operator: Operator, site: Site
) -> None:
    alarm = site.alarm("ev-attacked", counter=1)
    op_id, op_key = operator
    tech_key = register_operator(cluster, "tech-close", OperatorRole.TECHNICIAN)
    stranger = Ed25519SigningKey.generate()
    other_site = new_site(cluster)
    attempts: list[tuple[str, SignedStatement, str, str, Ed25519SigningKey, int, str]] = [
        # (what, close, route site, keyid, request key, status, reason)
        (
            "technician",
            close_of(site, "ev-attacked", "tech-close", tech_key),
            site.site_id,
            "operator:tech-close",
            tech_key,
            403,
            "role_not_allowed",
        ),
        (
            "unregistered operator",
            close_of(site, "ev-attacked", "op-nobody", stranger),
            site.site_id,
            "operator:op-nobody",
            stranger,
            401,
            "operator_not_registered",
        ),
        (
            "close signed by another key than the operator's",
            close_of(site, "ev-attacked", op_id, stranger),
            site.site_id,
            f"operator:{op_id}",
            op_key,
            403,
            "bad_signature",
        ),
        (
            "close signed by the site's customer key",
            close_of(site, "ev-attacked", op_id, site.customer_key),
            site.site_id,
            f"operator:{op_id}",
            op_key,
            403,
            "bad_signature",
        ),
        (
            "customer request",
            close_of(site, "ev-attacked", op_id, op_key),
            site.site_id,
            f"customer:{site.site_id}",
            site.customer_key,
            403,
            "wrong_principal",
        ),
        (
            "close of another operator, posted by this one",
            close_of(site, "ev-attacked", "op-close-3", op_key),
            site.site_id,
            f"operator:{op_id}",
            op_key,
            403,
            "wrong_principal",
        ),
        (
            "another site's close posted for this site",
            close_of(other_site, "ev-attacked", op_id, op_key),
            site.site_id,
            f"operator:{op_id}",
            op_key,
            403,
            "wrong_site",
        ),
        (
            "this site's close posted under another site",
            close_of(site, "ev-attacked", op_id, op_key),
            other_site.site_id,
            f"operator:{op_id}",
            op_key,
            403,
            "wrong_site",
        ),
        (
            "another site's panel",
            close_of(site, "ev-attacked", op_id, op_key, panel_id="panel-elsewhere"),
            site.site_id,
            f"operator:{op_id}",
            op_key,
            403,
            "panel_not_of_site",
        ),
    ]
    for what, close, route_site, keyid, key, status, reason in attempts:
        for ep in eps:
            resp = post_close(ep, close, route_site, keyid, key)
            assert resp.status_code == status, (what, resp.text)
            assert resp.json()["error"]["code"] == reason, (what, resp.text)
    # Unsigned: refused before anything is read.
    for ep in eps:
        resp = httpx.post(
            f"{ep.url}/v1/sites/{site.site_id}/alarm-closes",
            json={"alarm_close": close_of(site, "ev-attacked", op_id, op_key).to_json()},
            timeout=10,
        )
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "bad_request_signature"
    # Nothing was closed: the alarm still releases, and no custodian logged a close.
    released_everywhere(eps, operator, alarm, site)
    for proc in cluster.custodians:
        assert not [
            e
            for e in log_entries(proc)
            if e["type"] == "alarm-close" and e.get("site_id") == site.site_id
        ]


def test_a_replayed_close_changes_nothing(
    cluster: Cluster, eps: list[CustodianEndpoint], operator: Operator, site: Site
) -> None:
    alarm = site.alarm("ev-replay", counter=1)
    close = close_of(site, "ev-replay", *operator)
    close_everywhere(cluster, eps, close, operator)
    op_id, key = operator
    for ep in eps:
        # The same close in a new request: held already, nothing logged.
        again = post_close(ep, close, site.site_id, f"operator:{op_id}", key)
        assert again.status_code == 200 and again.json() == {"status": "unchanged"}
        # The same request again: its nonce is spent.
        with SignedClient(ep.url, f"operator:{op_id}", key) as client:
            req = client.build(
                "POST",
                f"/v1/sites/{site.site_id}/alarm-closes",
                json={"alarm_close": close.to_json()},
            )
            assert client.send(req).status_code == 200
            replay = client.send(req)
        assert replay.status_code == 401
        assert replay.json()["error"]["code"] == "replayed_request"
        # A second, different close of the same alarm (later time) is held as the first.
        later = close_of(site, "ev-replay", *operator)
        resp = post_close(ep, later, site.site_id, f"operator:{op_id}", key)
        assert resp.status_code == 200 and resp.json() == {"status": "unchanged"}
    for proc in cluster.custodians:
        mine = [
            e
            for e in log_entries(proc)
            if e["type"] == "alarm-close" and e["site_id"] == site.site_id
        ]
        assert len(mine) == 1
    rec, _, _ = site.record("r-1", now_ms() - 11_000, now_ms() - 9_000)
    expect_refusal(cluster, eps, operator, alarm, [rec], "alarm_closed")


def test_the_client_reports_a_custodian_that_did_not_acknowledge(
    cluster: Cluster, eps: list[CustodianEndpoint], operator: Operator, site: Site
) -> None:
    close = close_of(site, "ev-partial", *operator)
    down = CustodianEndpoint("c9", "http://127.0.0.1:9", eps[0].escrow_key, eps[0].log_key)
    op_id, key = operator

    def send(api: CustodianApi, c: CustodianEndpoint) -> str:
        with SignedClient(c.url, f"operator:{op_id}", key) as client:
            return api.close_alarm(client, site.site_id, close)

    acks = to_every_custodian([*eps, down], send, timeout=2)
    assert [a.acknowledged for a in acks] == [True, True, True, False]
    assert acks[-1].status.startswith("unreachable")
    with (
        pytest.raises(ServiceRefused) as info,
        SignedClient(eps[0].url, "operator:op-close", key) as client,
        CustodianApi.of(eps[0]) as api,
    ):
        api.close_alarm(client, "site-unknown-x", close)
    assert info.value.code == "wrong_site"
