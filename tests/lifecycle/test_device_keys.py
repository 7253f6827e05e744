"""The pure side of device revocation: DeviceEnrollment versions (version 1 written without
the member, as before rotation existed), and the refusal of what a revoked key signed at or
after its ``revoked_from_ms`` by verify_recording and verify_chain (reason ``device_revoked``),
with the controls: what it signed before stands, and a rotated-out key's manifests verify."""

from __future__ import annotations

import pytest

from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import StatementError
from crypto.recording import RecordingProblem
from crypto.statements import (
    CameraProfile,
    ChainProblemKind,
    DeviceEnrollment,
    DeviceKeys,
    DeviceKind,
    parse_signed,
    sign_statement,
    verify_chain,
)
from tests.crypto.test_recording import CAM, CAMERA, PHONE, SITE, check, record, refused

NEW = Ed25519SigningKey.generate()


def enrollment(version: int) -> DeviceEnrollment:
    profile = CameraProfile(30, 60, True, False)
    return DeviceEnrollment(
        SITE, CAM, DeviceKind.CAMERA, "m", CAMERA.public_key, profile, 1, version=version
    )


def test_enrollment_version_one_keeps_the_bytes_of_before() -> None:
    e1 = enrollment(1)
    assert "version" not in e1.to_json() and e1.version == 1
    signed = sign_statement(e1, CAMERA)
    assert parse_signed(signed.encode()).unverified_statement == e1
    e2 = enrollment(2)
    assert e2.to_json()["version"] == 2
    assert parse_signed(sign_statement(e2, CAMERA).encode()).unverified_statement == e2
    with pytest.raises(StatementError, match="1 is written by leaving it out"):
        DeviceEnrollment.from_json({**e1.to_json(), "version": 1})
    with pytest.raises(StatementError, match=r"device-enrollment\.version"):
        enrollment(0)


def _chain(keys: list[Ed25519SigningKey]) -> list:  # type: ignore[type-arg]
    """Manifests 0..n-1 of one camera, manifest i signed with keys[i], linked."""
    out, prev = [], None
    for i, key in enumerate(keys):
        rec = record(i, prev, key=key)
        out.append(rec)
        prev = rec.anchor.manifest_hash
    return out


def test_verify_recording_refuses_what_a_revoked_key_signed_from_its_revocation() -> None:
    rec = record(0)
    signed_at = rec.signed.unverified_statement.issued_at_ms  # type: ignore[attr-defined]
    for revoked_from in (signed_at, signed_at - 1):  # at and after: refused
        keys = DeviceKeys(CAMERA.public_key, {CAMERA.public_key: revoked_from})
        refused(RecordingProblem.DEVICE_REVOKED, rec, camera_key=keys, identities=[PHONE])
    # control: signed before the revocation, it stands (and decrypts)
    keys = DeviceKeys(CAMERA.public_key, {CAMERA.public_key: signed_at + 1})
    assert check(rec, camera_key=keys, identities=[PHONE]).manifest.sequence == 0


def test_a_chain_verifies_across_a_rotation_and_not_past_it() -> None:
    recs = _chain([CAMERA, CAMERA, NEW])
    signed = [r.signed for r in recs]
    rotated_at = signed[2].unverified_statement.issued_at_ms
    keys = DeviceKeys(NEW.public_key, {CAMERA.public_key: rotated_at})
    assert verify_chain(signed, keys, site_id=SITE, camera_id=CAM) == []
    # without the rotated-out key the old manifests are not the camera's (the control's point)
    only_new = verify_chain(signed, NEW.public_key, site_id=SITE, camera_id=CAM)
    assert [p.kind for p in only_new].count(ChainProblemKind.BAD_SIGNATURE) == 2
    # a thief with the old key signs sequence 3 after the rotation: refused for that
    thief = record(3, recs[2].anchor.manifest_hash, key=CAMERA)
    problems = verify_chain([*signed, thief.signed], keys, site_id=SITE, camera_id=CAM)
    assert [p.kind for p in problems] == [ChainProblemKind.DEVICE_REVOKED]
    # and the recording check says the same
    refused(RecordingProblem.DEVICE_REVOKED, thief, camera_key=keys)
