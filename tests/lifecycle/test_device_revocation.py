"""Device lifecycle on the real services (storage + three custodians, t = 2): a camera or
panel key revoked by a customer-signed DeviceRevocation (`camvault customer devices revoke`)
is refused by the storage service (uploads), by every custodian (alarms, logged; the
customer's audit lists the revocation) and by the customer's client (recordings its manifest
signed at or after ``revoked_from_ms``); each attack has its control. Rotation
(`customer devices rotate`) is in test_device_rotation.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from clients.api.errors import ServiceRefused
from clients.api.escrow import CustodianApi
from clients.customer.state import CustomerState
from clients.operator.release import CustodianRefused, ThresholdNotMet, recoverable
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.statements import DeviceKind, DeviceRevocation, SignedStatement, sign_statement
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


def test_storage_refuses_uploads_of_a_revoked_camera(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    cam = c.camera
    cam.record(now_ms() - 10_000)  # control: the enrolled camera uploads
    keys = cam.site_keys()
    init, pending_commit = start_upload(cam, cam.key, now_ms() - 5_000)
    assert init.status_code in (200, 201), init.text  # started before the revocation

    out = c.run("devices", "revoke", "cam-front", "--reason", "camera stolen").output
    assert out.count("acknowledged") == 3, out

    # the thief holds the camera's key: the commit it had started, and a new upload
    assert error_code(pending_commit()) == (403, "device_revoked")
    init, _ = start_upload(cam, cam.key, now_ms() - 1_000, keys)
    assert error_code(init) == (403, "device_revoked")
    # the revoked key cannot be enrolled again either (a replayed or re-signed enrollment)
    res = c.run("enroll-camera", "cam-front", "--device-key", cam.key.public_key.to_text(),
                code=1)  # fmt: skip
    assert "device_revoked" in res.output


def test_forged_revocations_are_refused(world: World, tmp_path: Path) -> None:
    """Only the site's pinned customer key revokes, and only the device it names."""
    c = setup_customer(world, tmp_path)
    st = CustomerState(c.state)
    cam = c.camera.key.public_key

    def revocation(key: Ed25519SigningKey, site_id: str, device_id: str) -> SignedStatement:
        body = DeviceRevocation(
            site_id, device_id, DeviceKind.CAMERA, cam, now_ms(), "forged", now_ms()
        )
        return sign_statement(body, key)

    forged = [
        (revocation(Ed25519SigningKey.generate(), c.site_id, "cam-front"),
         "statement_signature_invalid", "bad_signature"),
        (revocation(st.site_key(), "site-other", "cam-front"), "wrong_site", "wrong_site"),
    ]  # fmt: skip
    for signed, storage_code, custodian_code in forged:
        with st.storage() as storage, pytest.raises(ServiceRefused) as refused:
            storage.revoke_device(c.site_id, "cam-front", signed)
        assert refused.value.code == storage_code
        for custodian in st.config.custodians:
            with CustodianApi.of(custodian) as api, pytest.raises(ServiceRefused) as refused:
                api.revoke_device(c.site_id, signed)
            assert refused.value.code == custodian_code
    with st.storage() as storage, pytest.raises(ServiceRefused) as refused:
        storage.revoke_device(
            c.site_id, "panel-1", revocation(st.site_key(), c.site_id, "cam-front")
        )
    assert refused.value.code == "device_invalid"
    c.camera.record(now_ms() - 1_000)  # control: none of them revoked the camera


def test_custodians_refuse_alarms_of_a_revoked_panel(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    op = setup_operator(world, tmp_path)
    trigger = now_ms() - 2_000
    rid = c.camera.record(trigger - 3_000)  # inside both alarms' pre-alarm window
    rec = customer_recording(c.state, "cam-front", rid)

    # control: the panel's alarm from before the revocation releases the recording
    before = alarm(c.site_id, "panel-1", c.panel.key, 1, trigger)
    assert recoverable(ask_custodians(op.state, before, rec), 2) == {rid}

    out = c.run("devices", "revoke", "panel-1", "--reason", "panel stolen").output
    assert out.count("acknowledged") == 3, out

    # the thief's alarm, signed with the stolen panel key after the revocation
    after = alarm(c.site_id, "panel-1", c.panel.key, 2, now_ms())
    with pytest.raises(ThresholdNotMet) as exc:
        ask_custodians(op.state, after, rec)
    reasons = {(type(e).__name__, getattr(e, "reason", None)) for e in exc.value.errors.values()}
    assert reasons == {("CustodianRefused", "device_revoked")}, exc.value.errors
    assert all(isinstance(e, CustodianRefused) for e in exc.value.errors.values())

    # every custodian logged the revocation; the audit lists it and finds nothing unexpected
    audit = c.run("audit").output
    assert audit.count("log verified") == 3, audit
    assert audit.count("device-revocation") == 3, audit


def test_customer_refuses_recordings_signed_after_the_revocation(
    world: World, tmp_path: Path
) -> None:
    """The theft is found out later: the customer revokes the key from a time in the past.
    What the thief uploaded with the key since then (the storage service took it: the
    revocation was not there yet) is refused by the customer's client; what the camera
    recorded before is still accepted."""
    c = setup_customer(world, tmp_path)
    old = c.camera.record(now_ms() - 20_000)
    stolen_from = now_ms()
    stolen = c.camera.record(now_ms() - 5_000)  # signed after `stolen_from`
    c.run("devices", "revoke", "cam-front", "--from", str(stolen_from), "--reason", "stolen")

    out = tmp_path / "out"
    res = c.run("download", "--out", out, "--camera", "cam-front", "--recording", stolen, code=1)
    assert "device_revoked" in res.output, res.output
    assert not (out / "cam-front").exists() or not list((out / "cam-front").glob(f"{stolen}*"))
    # control: the recording signed before the revocation downloads and decrypts
    c.run("download", "--out", out, "--camera", "cam-front", "--recording", old)
    assert (out / "cam-front" / f"{old}.ts").read_bytes() == c.camera.plaintexts[old]
    # and the chain check names the revoked manifest
    res = c.run("verify", "--camera", "cam-front", code=1)
    assert "device-revoked" in res.output and stolen in res.output, res.output
