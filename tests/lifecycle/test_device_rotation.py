"""Key rotation (`camvault customer devices rotate <device> --key <new>`): enrollment version
n+1 with the new key and the old key revoked from now. The old key's uploads and alarms are
refused, the new key's accepted, and the customer's chain verification runs across the
rotation (manifests of the old key before it, of the new key after)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clients.api.errors import ServiceRefused
from clients.api.escrow import CustodianApi
from clients.customer.state import CustomerState
from clients.operator.release import ThresholdNotMet, recoverable
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.statements import CameraProfile, DeviceEnrollment, DeviceKind, sign_statement
from tests.clients.customer_world import (  # noqa: F401 (the `world` fixture)
    World,
    setup_customer,
    setup_operator,
    world_fixture,
)
from tests.lifecycle.support import (
    alarm,
    ask_custodians,
    customer_recording,
    error_code,
    start_upload,
)


def test_camera_rotation(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    cam = c.camera
    before = [cam.record(now_ms() - 30_000), cam.record(now_ms() - 25_000)]
    old_key, new_key = cam.key, Ed25519SigningKey.generate()
    keys = cam.site_keys()

    out = c.run("devices", "rotate", "cam-front", "--key", new_key.public_key.to_text()).output
    assert "enrollment v2" in out and out.count("acknowledged") == 3, out

    # the old key is refused (it no longer authenticates the camera) ...
    init, _ = start_upload(cam, old_key, now_ms() - 20_000, keys)
    assert error_code(init) == (401, "signature_invalid"), init.text
    # ... the new one accepted: the camera continues its chain with it
    cam.key = new_key
    after = cam.record(now_ms() - 10_000)

    # the customer verifies the chain across the rotation, and reads both sides of it
    c.run("verify", "--camera", "cam-front")
    dl = tmp_path / "dl"
    for rid in (*before, after):
        c.run("download", "--out", dl, "--camera", "cam-front", "--recording", rid)
        assert (dl / "cam-front" / f"{rid}.ts").read_bytes() == cam.plaintexts[rid]

    # an enrollment naming the rotated-out key again (signed by the customer's own key) is
    # refused by the storage service and by every custodian
    st = CustomerState(c.state)
    profile = CameraProfile.from_json(st.config.devices["cam-front"]["camera_profile"])
    again = sign_statement(
        DeviceEnrollment(
            c.site_id,
            "cam-front",
            DeviceKind.CAMERA,
            "test-cam",
            old_key.public_key,
            profile,
            now_ms(),
            version=3,
        ),
        st.site_key(),
    )
    with st.storage() as storage, pytest.raises(ServiceRefused) as refused:
        storage.enroll_device(c.site_id, again)
    assert refused.value.code == "device_revoked"
    for custodian in st.config.custodians:
        with CustodianApi.of(custodian) as api, pytest.raises(ServiceRefused) as refused:
            api.enroll_device(c.site_id, again)
        assert refused.value.code == "device_revoked"


def test_panel_rotation(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    op = setup_operator(world, tmp_path)
    trigger = now_ms() - 2_000
    rid = c.camera.record(trigger - 3_000)
    rec = customer_recording(c.state, "cam-front", rid)
    old_key, new_key = c.panel.key, Ed25519SigningKey.generate()

    out = c.run("devices", "rotate", "panel-1", "--key", new_key.public_key.to_text()).output
    assert "enrollment v2" in out and out.count("acknowledged") == 3, out

    # the old key's alarm, triggered after the rotation: refused by every custodian
    with pytest.raises(ThresholdNotMet) as exc:
        ask_custodians(op.state, alarm(c.site_id, "panel-1", old_key, 1, now_ms()), rec)
    assert {getattr(e, "reason", None) for e in exc.value.errors.values()} == {"device_revoked"}
    # back-dated to before the rotation: the old key is no longer the panel's enrolled key
    with pytest.raises(ThresholdNotMet) as exc:
        ask_custodians(op.state, alarm(c.site_id, "panel-1", old_key, 1, trigger), rec)
    assert {getattr(e, "reason", None) for e in exc.value.errors.values()} == {"bad_signature"}
    # control: the same alarm signed with the new key releases the recording
    event = alarm(c.site_id, "panel-1", new_key, 2, now_ms() - 1_000)
    assert recoverable(ask_custodians(op.state, event, rec), 2) == {rid}
    # the panel goes on at the storage service with its new key too
    c.panel.key = new_key
    c.panel.counter = 2
    c.panel.raise_alarm()
