"""Adversary: the stolen panel key of site A used against site B (both sites call their
panel "panel-1"): alarms posted at B's storage route, alarm events for B signed with A's
key and presented to the custodians, reads and cancels at B, and back-dated or replayed
alarms. Every attempt is refused for its reason (custodians log theirs and B's audit shows
them); the control is B's own panel doing the same."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from clients.customer.devices import revoke_device
from common.http import SignedClient
from common.time import now_ms
from crypto.statements import AlarmCancel, sign_statement
from tests.security.adversaries.support import (
    Arena,
    Home,
    Operator,
    audit_reports,
    cli_operator,
    event,
    items_refused_everywhere,
    new_home,
    refused_everywhere,
    released,
)
from tests.security.matrix import attack, case


@dataclass
class Sites:
    a: Home  # whose panel was stolen
    b: Home
    op: Operator

    def thief(self, url: str, site_id: str | None = None) -> SignedClient:
        """A's panel key, under its own keyid (or claiming ``site_id``'s panel-1)."""
        panel = self.a.customer.panel
        return SignedClient(url, f"device:{site_id or self.a.site_id}/panel-1", panel.key)


@pytest.fixture(scope="module")
def sites(arena: Arena) -> Sites:
    return Sites(new_home(arena), new_home(arena), cli_operator(arena)[1])


def _post_alarm(client: SignedClient, site_id: str, ev: object) -> tuple[int, str]:
    r = client.post(f"/v1/sites/{site_id}/alarms", json={"event": ev.to_json()})  # type: ignore[attr-defined]
    return r.status_code, r.json().get("error", {}).get("code", "")


@attack("PAN-01", "raise an alarm at site B with site A's panel (its own keyid)", "wrong_site")
def test_alarm_at_another_site(sites: Sites) -> None:
    url = sites.a.arena.storage_url
    ev = event(sites.b, key=sites.a.customer.panel.key)
    with sites.thief(url) as c:
        assert _post_alarm(c, sites.b.site_id, ev) == (403, "wrong_site")
    sites.b.alarm()  # control: B's panel


@attack("PAN-02", "raise an alarm at site B claiming B's panel-1", "signature_invalid")
def test_alarm_as_the_other_panel(sites: Sites) -> None:
    url = sites.a.arena.storage_url
    ev = event(sites.b, key=sites.a.customer.panel.key)
    with sites.thief(url, sites.b.site_id) as c:
        assert _post_alarm(c, sites.b.site_id, ev) == (401, "signature_invalid")
    sites.b.alarm()


@attack("PAN-03", "post B's alarm through A's site route", "wrong_site")
def test_foreign_event_on_own_route(sites: Sites) -> None:
    url = sites.a.arena.storage_url
    ev = event(sites.b, key=sites.a.customer.panel.key)
    with sites.thief(url) as c:
        assert _post_alarm(c, sites.a.site_id, ev) == (403, "wrong_site")
    sites.a.alarm()  # control: A's panel at A


@attack(
    "PAN-04",
    "an alarm event for site B signed with A's panel key, at the custodians",
    "bad_signature",
)
def test_custodians_refuse_foreign_panel_signature(arena: Arena, sites: Sites) -> None:
    t = now_ms() - 2_000
    rec = sites.b.upload(t - 1_000)
    forged = event(sites.b, t, key=sites.a.customer.panel.key)
    refused_everywhere(arena, sites.op, forged, [rec], "bad_signature")
    audit_reports(sites.b, "bad_signature")
    released(arena, sites.b, sites.op, event(sites.b, t), rec)


@attack("PAN-05", "site A's real alarm presented for site B's recordings", "wrong_site")
def test_custodians_refuse_a_foreign_alarm_for_recordings(arena: Arena, sites: Sites) -> None:
    t = now_ms() - 2_000
    rec = sites.b.upload(t - 1_000)
    items_refused_everywhere(arena, sites.op, event(sites.a, t), [rec], "wrong_site")
    released(arena, sites.b, sites.op, event(sites.b, t), rec)


@attack("PAN-06", "a back-dated alarm at the storage service", "alarm_not_fresh")
def test_back_dated_alarm_at_storage(sites: Sites) -> None:
    url = sites.a.arena.storage_url
    ev = event(sites.a, now_ms() - 3_600_000)
    with sites.thief(url) as c:
        assert _post_alarm(c, sites.a.site_id, ev) == (422, "alarm_not_fresh")
        assert _post_alarm(c, sites.a.site_id, event(sites.a))[0] == 201


@attack("PAN-07", "a back-dated alarm at the custodians", "event_stale")
def test_back_dated_alarm_at_custodians(arena: Arena, sites: Sites) -> None:
    t = now_ms() - 3_600_000
    rec = sites.a.upload(t)
    refused_everywhere(arena, sites.op, event(sites.a, t), [rec], "event_stale")
    audit_reports(sites.a, "event_stale")
    t = now_ms() - 2_000
    released(arena, sites.a, sites.op, event(sites.a, t), sites.a.upload(t))


@attack(
    "PAN-08",
    "an alarm with a counter that does not grow, at the storage service",
    "counter_not_increasing",
)
def test_old_counter_at_storage(sites: Sites) -> None:
    url = sites.a.arena.storage_url
    first = event(sites.a)
    with sites.thief(url) as c:
        assert _post_alarm(c, sites.a.site_id, first)[0] == 201
        old = event(sites.a, counter=first.unverified_statement.counter)  # type: ignore[attr-defined]
        assert _post_alarm(c, sites.a.site_id, old) == (409, "counter_not_increasing")
        assert _post_alarm(c, sites.a.site_id, event(sites.a))[0] == 201


READS = [
    case("PAN-09", "list site B's recordings", "wrong_site", "GET", "/recordings"),
    case("PAN-12", "list site B's alarms", "wrong_site", "GET", "/alarms"),
    case(
        "PAN-13", "poll site B's alarm state", "wrong_site", "GET", "/devices/panel-1/alarm-state"
    ),
]


@pytest.mark.parametrize(("reason", "method", "suffix"), READS)
def test_reads_at_another_site(sites: Sites, reason: str, method: str, suffix: str) -> None:
    url = sites.a.arena.storage_url
    with sites.thief(url) as c:
        r = c.request(method, f"/v1/sites/{sites.b.site_id}{suffix}")
    assert r.status_code == 403 and r.json()["error"]["code"] == reason, r.text
    owner = (
        SignedClient(url, f"device:{sites.b.site_id}/panel-1", sites.b.customer.panel.key)
        if "alarm-state" in suffix
        else sites.b.customer_client(url)
    )
    with owner as c:
        assert c.request(method, f"/v1/sites/{sites.b.site_id}{suffix}").status_code == 200


@attack("PAN-10", "cancel site B's alarm with A's panel key", "wrong_site")
def test_cancel_at_another_site(sites: Sites) -> None:
    url = sites.a.arena.storage_url
    _, ev = sites.b.alarm()
    e = ev.unverified_statement
    cancel = AlarmCancel(sites.b.site_id, e.panel_id, e.event_id, now_ms())  # type: ignore[attr-defined]
    body = {"cancel": sign_statement(cancel, sites.a.customer.panel.key).to_json()}
    with sites.thief(url) as c:
        r = c.post(f"/v1/sites/{sites.b.site_id}/alarms/cancel", json=body)
    assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_site", r.text
    body = {"cancel": sites.b.sign(cancel).to_json()}
    with sites.b.customer_client(url) as c:
        assert c.post(f"/v1/sites/{sites.b.site_id}/alarms/cancel", json=body).status_code == 200


@attack(
    "PAN-11",
    "close or cancel site B's alarm at the custodians with A's panel key",
    "bad_request_signature",
)
def test_panel_key_at_the_custodians(arena: Arena, sites: Sites) -> None:
    _, ev = sites.b.alarm()
    e = ev.unverified_statement
    for c in arena.world.custodians:
        with sites.thief(c.url) as client:
            r = client.post(f"/v1/sites/{sites.b.site_id}/alarm-closes", json={"alarm_close": {}})
        assert (
            r.status_code in (401, 403) and r.json()["error"]["code"] == "bad_request_signature"
        ), r.text
    cancel = AlarmCancel(sites.b.site_id, e.panel_id, e.event_id, now_ms())  # type: ignore[attr-defined]
    body = {"alarm_cancel": sign_statement(cancel, sites.a.customer.panel.key).to_json()}
    for r in arena.cluster.post_all(f"/v1/sites/{sites.b.site_id}/alarm-cancels", body):
        assert r.status_code == 403 and r.json()["error"]["code"] == "bad_signature", r.text
    body = {"alarm_cancel": sites.b.sign(cancel).to_json()}  # control: B's customer
    for r in arena.cluster.post_all(f"/v1/sites/{sites.b.site_id}/alarm-cancels", body):
        assert r.status_code == 200, r.text


@attack(
    "PAN-14",
    "raise an alarm with the panel's key after the customer revoked the panel",
    "device_revoked",
)
def test_revoked_panel(arena: Arena) -> None:
    """The theft is reported: the customer revokes the panel (`camvault customer devices
    revoke`, a DeviceRevocation each custodian logs). An alarm the thief signs with the panel
    key afterwards is refused by every custodian as `device_revoked` and logged; the
    customer's audit shows the refusal. The control is the same panel's alarm before."""
    home = new_home(arena)
    _, op = cli_operator(arena)
    t = now_ms() - 2_000
    rec = home.upload(t - 1_000)
    released(arena, home, op, event(home, t), rec)  # control: before the revocation
    done = revoke_device(home.state, home.customer.panel.panel_id, "panel stolen")
    assert [a.acknowledged for a in done.custodians] == [True] * len(arena.eps)
    refused_everywhere(arena, op, event(home, now_ms()), [rec], "device_revoked")
    audit_reports(home, "device_revoked")
