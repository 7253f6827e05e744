"""Adversary: a stolen camera (its device signing key extracted). It can upload forged
recordings in its own name (the control: that is accepted, with an unbroken chain), but
it cannot write for another camera of its site or for another site, rewrite its chain,
read, export or delete anything, raise or cancel alarms, or get shares from a custodian;
once the customer revokes it, it cannot upload either."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clients.customer.devices import revoke_device
from common.http import SignedClient
from common.time import now_ms
from crypto.statements import AlarmCancel, AlarmEvent, sign_statement
from tests.clients.customer_world import TestCamera
from tests.escrow.ends_support import logged_entry
from tests.security.adversaries.support import (
    Arena,
    Home,
    cli_operator,
    event,
    new_home,
    refused_everywhere,
    released,
    try_record,
)
from tests.security.matrix import attack, case


@dataclass
class Theft:
    home: Home
    other: Home  # another site
    thief: TestCamera  # cam-front's key, stolen
    side: TestCamera  # another camera of the site


@pytest.fixture(scope="module")
def theft(arena: Arena) -> Theft:
    home = new_home(arena)
    return Theft(home, new_home(arena), home.customer.camera, home.camera("cam-side"))


Aim = Callable[[Theft], dict[str, Any]]

WRITES = [
    case(
        "CAM-01",
        "upload a recording for another camera of its site",
        "wrong_principal",
        lambda th: {"path_camera": th.side.camera_id},
        lambda th: th.side,
    ),
    case(
        "CAM-02",
        "upload a recording for a camera of another site",
        "wrong_site",
        lambda th: {"path_site": th.other.site_id},
        lambda th: th.other.customer.camera,
    ),
    case(
        "CAM-03",
        "commit a manifest that names another camera (on its own path)",
        "manifest_mismatch",
        lambda th: {"manifest_camera": th.side.camera_id},
        lambda th: th.thief,
    ),
]


@pytest.mark.parametrize(("reason", "aim", "control"), WRITES)
def test_cannot_write_for_another_camera_or_site(
    theft: Theft, reason: str, aim: Aim, control: Callable[[Theft], TestCamera]
) -> None:
    resp = try_record(theft.thief, now_ms() - 5_000, **aim(theft))
    assert resp.status_code in (403, 422), resp.text
    assert resp.json()["error"]["code"] == reason
    # Control: the rightful camera writes there (for CAM-03: the thief, for its own camera).
    assert try_record(control(theft), now_ms() - 5_000).status_code == 201


@attack("CAM-04", "sign requests as another camera with its own key", "signature_invalid")
def test_cannot_claim_another_device(theft: Theft) -> None:
    url = theft.home.arena.storage_url
    impostor = TestCamera(url, theft.home.site_id, theft.side.camera_id, key=theft.thief.key)
    resp = try_record(impostor, now_ms() - 5_000, keys=theft.side.site_keys())
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "signature_invalid"
    assert try_record(theft.side, now_ms() - 5_000).status_code == 201


@attack("CAM-05", "overwrite a committed recording with a forged one", "recording_committed")
def test_cannot_overwrite_a_recording(theft: Theft) -> None:
    t = now_ms() - 5_000
    first = try_record(theft.thief, t)
    assert first.status_code == 201  # control: its own new recording is accepted
    rid = first.json()["recording_id"]
    resp = try_record(theft.thief, t, recording_id=rid)
    assert resp.status_code == 409, resp.text
    assert resp.json()["error"]["code"] == "recording_committed"


@attack("CAM-06", "rewrite its chain (reuse a sequence number)", "manifest_chain_broken")
def test_cannot_rewrite_its_chain(theft: Theft) -> None:
    assert try_record(theft.thief, now_ms() - 5_000).status_code == 201
    seq, prev = theft.thief.sequence, theft.thief.prev
    theft.thief.sequence, theft.thief.prev = 0, None  # start the chain again
    resp = try_record(theft.thief, now_ms() - 4_000)
    assert resp.status_code == 409, resp.text
    assert resp.json()["error"]["code"] == "manifest_chain_broken"
    theft.thief.sequence, theft.thief.prev = seq, prev
    assert try_record(theft.thief, now_ms() - 3_000).status_code == 201


def _recording_path(th: Theft) -> str:
    rec = th.home.upload(now_ms() - 5_000, camera=th.side)
    base = f"/v1/sites/{th.home.site_id}/cameras/{th.side.camera_id}"
    return f"{base}/recordings/{rec.metadata.recording_id}"


def _own_recording_path(th: Theft) -> str:
    rec = th.home.upload(now_ms() - 5_000)
    return f"/v1/sites/{th.home.site_id}/cameras/cam-front/recordings/{rec.metadata.recording_id}"


def _cancel(th: Theft) -> tuple[str, str, dict[str, object] | None]:
    _, ev = th.home.alarm()
    e = ev.unverified_statement
    assert isinstance(e, AlarmEvent)
    cancel = sign_statement(
        AlarmCancel(th.home.site_id, e.panel_id, e.event_id, now_ms()), th.home.key
    )
    return "POST", f"/v1/sites/{th.home.site_id}/alarms/cancel", {"cancel": cancel.to_json()}


Reach = Callable[[Theft], tuple[str, str, dict[str, object] | None]]

READS = [
    case(
        "CAM-07",
        "list the site's recordings",
        "wrong_principal",
        lambda th: ("GET", f"/v1/sites/{th.home.site_id}/recordings", None),
    ),
    case(
        "CAM-08",
        "read a recording's header and presigned GET",
        "wrong_principal",
        lambda th: ("GET", _recording_path(th), None),
    ),
    case(
        "CAM-09",
        "read its own recording back (header, presigned GET)",
        "wrong_principal",
        lambda th: ("GET", _own_recording_path(th), None),
    ),
    case(
        "CAM-10",
        "export a recording as an age file",
        "wrong_principal",
        lambda th: ("GET", _recording_path(th) + "/export", None),
    ),
    case(
        "CAM-11",
        "delete a recording",
        "wrong_principal",
        lambda th: ("DELETE", _recording_path(th), None),
    ),
    case(
        "CAM-12",
        "delete a time range of recordings",
        "wrong_principal",
        lambda th: (
            "DELETE",
            f"/v1/sites/{th.home.site_id}/recordings?from_ms=1000&to_ms=2000",
            None,
        ),
    ),
    case(
        "CAM-13",
        "read the customer's inbox",
        "wrong_principal",
        lambda th: ("GET", f"/v1/sites/{th.home.site_id}/inbox", None),
    ),
    case(
        "CAM-14",
        "list the site's alarms",
        "wrong_principal",
        lambda th: ("GET", f"/v1/sites/{th.home.site_id}/alarms", None),
    ),
    case("CAM-15", "cancel an alarm", "wrong_principal", _cancel),
    case(
        "CAM-16",
        "list the site's consents",
        "wrong_principal",
        lambda th: ("GET", f"/v1/sites/{th.home.site_id}/consents", None),
    ),
    case(
        "CAM-17",
        "change the site's retention",
        "wrong_principal",
        lambda th: ("PUT", f"/v1/sites/{th.home.site_id}/retention", {"retention_days": 1}),
    ),
    case(
        "CAM-18",
        "list the site's devices",
        "wrong_principal",
        lambda th: ("GET", f"/v1/sites/{th.home.site_id}/devices", None),
    ),
    case(
        "CAM-19",
        "read another site's recordings",
        "wrong_site",
        lambda th: ("GET", f"/v1/sites/{th.other.site_id}/recordings", None),
    ),
]


@pytest.mark.parametrize(("reason", "reach"), READS)
def test_cannot_read_or_manage(theft: Theft, reason: str, reach: Reach) -> None:
    method, path, body = reach(theft)
    with theft.thief.client as c:
        resp = c.request(method, path, json=body)
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["code"] == reason
    # Control: the site's customer (the other site's for CAM-19) may.
    owner = theft.other if theft.other.site_id in path else theft.home
    with owner.customer_client(owner.arena.storage_url) as c:
        resp = c.request(method, path, json=body)
    assert resp.status_code == 200, resp.text


@attack("CAM-20", "raise an alarm with the camera's key", "wrong_principal")
def test_cannot_raise_an_alarm(theft: Theft) -> None:
    ev = event(theft.home, key=theft.thief.key, panel_id=theft.thief.camera_id)
    with theft.thief.client as c:
        resp = c.post(f"/v1/sites/{theft.home.site_id}/alarms", json={"event": ev.to_json()})
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "wrong_principal"
    theft.home.alarm()  # control: the panel raises one


@attack(
    "CAM-21",
    "an alarm event signed by the camera, presented to the custodians",
    "panel_not_of_site",
)
def test_camera_signed_alarm_opens_nothing(arena: Arena, theft: Theft) -> None:
    _, op = cli_operator(arena)
    t = now_ms() - 2_000
    rec = theft.home.upload(t - 1_000)
    forged = event(theft.home, t, key=theft.thief.key, panel_id=theft.thief.camera_id)
    refused_everywhere(arena, op, forged, [rec], "panel_not_of_site")
    released(arena, theft.home, op, event(theft.home, t), rec)


@attack("CAM-22", "ask a custodian for shares with the camera's key", "bad_request_signature")
def test_camera_key_at_the_custodians(arena: Arena, theft: Theft) -> None:
    keyid = f"device:{theft.home.site_id}/{theft.thief.camera_id}"
    for proc, ep in zip(arena.cluster.custodians, arena.eps, strict=True):
        with SignedClient(ep.url, keyid, theft.thief.key) as client:
            resp = client.post("/v1/releases", json={"purpose": "alarm-verification", "items": []})
        assert resp.status_code in (401, 403), resp.text
        assert resp.json()["error"]["code"] == "bad_request_signature"
        entry = logged_entry(proc, ep, resp.json()["log"])  # every release request is logged
        assert entry["type"] == "refusal" and entry["reason"] == "bad_request_signature"
    _, op = cli_operator(arena)  # control: a registered operator under an alarm
    t = now_ms() - 2_000
    released(arena, theft.home, op, event(theft.home, t), theft.home.upload(t - 1_000))


@attack("CAM-23", "keep uploading after the customer revoked the camera", "device_revoked")
def test_revoked_camera(arena: Arena) -> None:
    home = new_home(arena)
    thief = home.customer.camera
    keys = thief.site_keys()  # what the stolen camera has cached
    assert try_record(thief, now_ms() - 5_000).status_code == 201  # control: before
    with home.storage() as s:
        s._call("DELETE", f"/v1/sites/{home.site_id}/devices/{thief.camera_id}")
    resp = try_record(thief, now_ms() - 4_000, keys=keys)
    assert resp.status_code in (401, 403), resp.text
    assert resp.json()["error"]["code"] == "device_revoked"


@attack(
    "CAM-24",
    "have the customer accept recordings it signed after the theft, found out later",
    "device_revoked",
)
def test_recordings_signed_after_the_revocation(arena: Arena, tmp_path: Path) -> None:
    """The theft is found out after the thief uploaded with the camera's key (the storage
    service took it: no revocation yet). The customer revokes the key from the time of the
    theft, in the past: the customer's client refuses every recording whose manifest the
    key signed from then on (`device_revoked`), and writes nothing of it; the control is
    the recording signed before, which still downloads and decrypts."""
    home = new_home(arena)
    cam = home.customer.camera
    before = cam.record(now_ms() - 20_000)
    stolen_from = now_ms()
    after = cam.record(now_ms() - 5_000)  # signed after `stolen_from`
    revoke_device(home.state, cam.camera_id, "stolen", revoked_from_ms=stolen_from)
    out = tmp_path / "out"
    res = home.customer.run(
        "download", "--out", out, "--camera", cam.camera_id, "--recording", after, code=1
    )
    assert "device_revoked" in res.output, res.output
    assert not list(out.rglob(f"{after}*"))
    home.customer.run("download", "--out", out, "--camera", cam.camera_id, "--recording", before)
    assert list(out.rglob(f"{before}*"))
    assert not list(out.rglob(f"{after}*"))
