"""`camvault panel trigger|cancel` against the real storage service: signed AlarmEvents with
a persisted, strictly increasing counter; replays and foreign keys refused with a reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from camvault.cli import app
from clients import panel
from common.http import SignedClient
from crypto.ed25519 import Ed25519SigningKey
from crypto.statements import AlarmType
from tests.storage.support import Service, create_site
from tests.storage.support_arc import enroll_panel, start

runner = CliRunner()


@pytest.fixture(scope="module")
def svc(request: pytest.FixtureRequest) -> Iterator[Service]:
    yield from start(request, "embedded")


def test_trigger_then_customer_cancel(svc: Service, tmp_path: Path) -> None:
    site = create_site(svc.url)
    p = enroll_panel(site)
    key = tmp_path / "panel.key"
    key.write_text(p.key.to_text())
    state = tmp_path / "panel-state.json"
    args = ["panel", "trigger", "--url", svc.url, "--site", site.site_id, "--panel", p.panel_id,
            "--key", str(key), "--state", str(state), "--type", "intrusion"]  # fmt: skip
    r1 = runner.invoke(app, args)
    assert r1.exit_code == 0, r1.output
    first = json.loads(r1.output)
    c1 = json.loads(state.read_text())["counter"]
    assert first["state"] == "open" and first["counter"] == c1
    r2 = runner.invoke(app, args)
    assert r2.exit_code == 0, r2.output
    second = json.loads(r2.output)
    assert second["counter"] > c1 and second["alarm_id"] != first["alarm_id"]
    listed = site.client.get(f"/v1/sites/{site.site_id}/alarms").json()["items"]
    assert {a["alarm_id"] for a in listed} == {first["alarm_id"], second["alarm_id"]}
    assert all(a["event"]["signer"] == p.key.public_key.to_text() for a in listed)
    # the customer cancels the first one with a signed AlarmCancel
    ckey = tmp_path / "customer.key"
    ckey.write_text(site.key.to_text())
    r3 = runner.invoke(
        app,
        ["panel", "cancel", "--url", svc.url, "--site", site.site_id, "--panel", p.panel_id,
         "--event-id", first["event_id"], "--customer-key", str(ckey)],
    )  # fmt: skip
    assert r3.exit_code == 0, r3.output
    assert json.loads(r3.output)["state"] == "cancelled"
    # the panel's key cannot cancel (only the customer's)
    r4 = runner.invoke(
        app,
        ["panel", "cancel", "--url", svc.url, "--site", site.site_id, "--panel", p.panel_id,
         "--event-id", second["event_id"], "--customer-key", str(key)],
    )  # fmt: skip
    assert r4.exit_code == 1 and "refused: 401" in r4.output
    site.close()


def test_replayed_counter_and_foreign_key_refused(svc: Service, tmp_path: Path) -> None:
    site = create_site(svc.url)
    p = enroll_panel(site)
    state = tmp_path / "s.json"
    alarm = panel.trigger(svc.url, site.site_id, p.panel_id, p.key, state)
    client = SignedClient(svc.url, f"device:{site.site_id}/{p.panel_id}", p.key)
    old = panel.alarm_event(site.site_id, p.panel_id, p.key, AlarmType.FIRE, alarm["counter"])
    with pytest.raises(panel.PanelError) as exc:
        panel.post_alarm(client, site.site_id, old)
    assert exc.value.code == "counter_not_increasing"
    forged = panel.alarm_event(
        site.site_id, p.panel_id, Ed25519SigningKey.generate(), AlarmType.FIRE, 2**40
    )
    with pytest.raises(panel.PanelError) as exc:
        panel.post_alarm(client, site.site_id, forged)
    assert exc.value.code == "statement_signature_invalid"
    # the same event posted twice is one alarm (a retry after a network error is safe)
    ev = panel.alarm_event(site.site_id, p.panel_id, p.key, AlarmType.PANIC, 2**41)
    assert panel.post_alarm(client, site.site_id, ev) == panel.post_alarm(client, site.site_id, ev)
    client.close()
    site.close()


def test_counter_survives_restart_and_never_goes_back(tmp_path: Path) -> None:
    state = tmp_path / "c.json"
    a = panel.next_counter(state)
    state.write_text(json.dumps({"counter": a + 10**9}))  # e.g. a clock that was ahead
    b = panel.next_counter(state)
    assert b == a + 10**9 + 1
    assert panel.next_counter(state) == b + 1
