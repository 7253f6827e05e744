"""Signed statements (crypto/statements/, crypto/ed25519.py): round trips, strict parsing,
signatures, the site-key pinning rule, the manifest chain, and the known-answer vectors."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.age.x25519 import X25519Recipient
from crypto.canonical import canonical_json
from crypto.ed25519 import Ed25519PublicKey, Ed25519SigningKey, decode_key_text
from crypto.encoding import b64url_encode
from crypto.errors import KeyFormatError, SignatureError, StatementError
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import (
    MAX_CONSENT_VALIDITY_MS,
    MAX_DELETION_RECORDINGS,
    STATEMENT_TYPES,
    AlarmCancel,
    AlarmEvent,
    CameraProfile,
    ChainAnchor,
    ChainProblemKind,
    Consent,
    ConsentScope,
    Custodian,
    DeviceEnrollment,
    DeviceKind,
    Manifest,
    Purpose,
    RecordingDeletion,
    Revocation,
    SignedStatement,
    SiteKeys,
    manifest_hash,
    parse_age_recipient,
    parse_signed,
    sign_statement,
    verify,
    verify_chain,
    verify_site_keys,
)
from crypto.statements.envelope import _signed_message

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _load_gen() -> Any:
    spec = importlib.util.spec_from_file_location("gen_statements", VECTORS / "gen_statements.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_gen()
SAMPLES = {name: (signer, st_) for name, signer, st_ in gen.samples()}


def key(name: str) -> Ed25519SigningKey:
    return Ed25519SigningKey(gen.seed(name))


def sample(name: str) -> Any:
    return SAMPLES[name][1]


def signed_sample(name: str) -> SignedStatement:
    signer, statement = SAMPLES[name]
    return sign_statement(statement, key(signer))


def envelope(signed: SignedStatement) -> dict[str, Any]:
    return signed.to_json()


def encode(env: dict[str, Any]) -> bytes:
    return canonical_json(env)


def refuse(data: bytes, exc: type[Exception], fragment: str) -> None:
    with pytest.raises(exc) as info:
        parse_signed(data)
    assert fragment in str(info.value)


# --- Ed25519 keys and base64url -------------------------------------------------------------


def test_public_key_text_round_trip_and_strictness() -> None:
    pk = key("customer").public_key
    text = pk.to_text()
    assert text.startswith("ed25519:") and len(text) == 51
    assert Ed25519PublicKey.from_text(text) == pk
    with pytest.raises(KeyFormatError, match="starting with 'ed25519:'"):
        Ed25519PublicKey.from_text(text.replace("ed25519:", "ed448:"))
    with pytest.raises(KeyFormatError, match="not unpadded base64url"):
        Ed25519PublicKey.from_text(text + "=")
    with pytest.raises(KeyFormatError, match="must encode 32 bytes"):
        Ed25519PublicKey.from_text("ed25519:" + b64url_encode(pk.raw + b"\x00"))


def test_public_key_refuses_small_order_point() -> None:
    # The identity point (y = 1) has order 1: any "signature" would be meaningless.
    identity = (1).to_bytes(32, "little")
    with pytest.raises(KeyFormatError, match="prime-order subgroup"):
        Ed25519PublicKey(identity)
    with pytest.raises(KeyFormatError, match="prime-order subgroup"):
        Ed25519PublicKey.from_text("ed25519:" + b64url_encode(identity))


def test_b64url_refuses_non_canonical_trailing_bits() -> None:
    good = b64url_encode(b"\xff")  # "_w"
    assert decode_key_text(good, "x") == b"\xff"
    with pytest.raises(KeyFormatError, match="non-canonical"):
        decode_key_text("_x", "x")  # same byte, non-zero trailing bits
    with pytest.raises(KeyFormatError, match="not unpadded base64url"):
        decode_key_text("_w==", "x")
    with pytest.raises(KeyFormatError, match="not unpadded base64url"):
        decode_key_text("/w", "x")  # standard alphabet


def test_signing_key_repr_redacted_and_text_round_trip() -> None:
    sk = key("customer")
    assert sk.seed.hex() not in repr(sk)
    assert "redacted" in repr(sk)
    assert Ed25519SigningKey.from_text(sk.to_text()) == sk
    with pytest.raises(KeyFormatError, match="seed must be 32 bytes"):
        Ed25519SigningKey(b"\x00" * 31)


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_round_trip_each_type(name: str) -> None:
    signer, statement = SAMPLES[name]
    signed = sign_statement(statement, key(signer))
    data = signed.encode()
    parsed = parse_signed(data)
    assert parsed == signed
    assert parsed.encode() == data
    assert parsed.statement_hash() == hashlib.sha256(data).digest()
    assert verify(parsed, key(signer).public_key, type(statement)) == statement
    assert type(statement).from_json(statement.to_json()) == statement


def test_every_type_has_a_sample() -> None:
    assert {type(s).TYPE for _, s in SAMPLES.values()} == set(STATEMENT_TYPES)


def test_manifest_metadata() -> None:
    m: Manifest = sample("manifest/seq-1")
    assert m.metadata() == RecordingMetadata(
        site_id="site-1",
        camera_id="cam-front",
        recording_id="rec-0001",
        kind=RecordingKind.SEGMENT,
        start_ms=m.start_ms,
        end_ms=m.end_ms,
    )


# Each sample statement and each nested object kind, with the prefix of its refusals.
RECORDS: dict[str, tuple[str, Any]] = {
    name: (s.TYPE.removeprefix("camvault/v1/"), s) for name, (_, s) in SAMPLES.items()
}
RECORDS["custodian"] = ("custodian", sample("site-keys/enrollment").custodians[0])
RECORDS["camera_profile"] = ("camera_profile", sample("device-enrollment/camera").camera_profile)


@pytest.mark.parametrize("prefix,record", list(RECORDS.values()), ids=list(RECORDS))
def test_fields_declared_once_cover_every_member(prefix: str, record: Any) -> None:
    # FIELDS (the canonical member order) must list exactly the dataclass members: the generic
    # to_json/from_json/constructor checks go by it, so a member missing there would go unchecked.
    assert tuple(f.name for f in dataclasses.fields(record)) == type(record).FIELDS
    # (a DeviceEnrollment of version 1 is written without its version member)
    left_out = ["version"] if isinstance(record, DeviceEnrollment) and record.version == 1 else []
    # (nor a custodian without a hybrid escrow key its hybrid_escrow_key member)
    if isinstance(record, Custodian) and record.hybrid_escrow_key is None:
        left_out.append("hybrid_escrow_key")
    assert list(record.to_json()) == [f for f in type(record).FIELDS if f not in left_out]
    for name in type(record).FIELDS:
        # Every member is checked in the constructor, under its own name.
        with pytest.raises(StatementError) as info:
            dataclasses.replace(record, **{name: object()})
        assert str(info.value).startswith(f"{prefix}.{name}: "), str(info.value)
        # And refused from JSON when of the wrong JSON type, under its own name.
        body = record.to_json()
        body[name] = {"x": 1} if not isinstance(body.get(name), dict) else []
        with pytest.raises(StatementError, match=rf"\b{name}\b"):
            type(record).from_json(body)


def test_nested_objects_are_checked() -> None:
    s: SiteKeys = sample("site-keys/enrollment")
    not_a_custodian: Any = s.custodians[1].to_json()
    with pytest.raises(StatementError, match=r"^site-keys\.custodians\[\]: must be a Custodian$"):
        dataclasses.replace(s, custodians=(s.custodians[0], not_a_custodian, s.custodians[2]))
    body = s.to_json()
    body["custodians"][1] = "custodian-2"
    with pytest.raises(StatementError, match=r"^custodian: must be a JSON object$"):
        SiteKeys.from_json(body)
    body["custodians"][1] = {**s.custodians[1].to_json(), "extra": 1}
    with pytest.raises(StatementError, match=r"^custodian: unknown field 'extra'$"):
        SiteKeys.from_json(body)
    cam: DeviceEnrollment = sample("device-enrollment/camera")
    body = cam.to_json()
    del body["camera_profile"]["stills_only"]
    with pytest.raises(StatementError, match=r"^camera_profile: missing field 'stills_only'$"):
        DeviceEnrollment.from_json(body)


# --- strict parsing refusals --------------------------------------------------------------


def test_refuses_unknown_body_field() -> None:
    env = envelope(signed_sample("alarm-event"))
    env["body"]["note"] = "x"
    refuse(encode(env), StatementError, "alarm-event: unknown field 'note'")


def test_refuses_unknown_envelope_field() -> None:
    env = envelope(signed_sample("alarm-event"))
    env["version"] = 1
    refuse(encode(env), StatementError, "signed statement: unknown field 'version'")


def test_refuses_missing_field() -> None:
    env = envelope(signed_sample("consent"))
    del env["body"]["purpose"]
    refuse(encode(env), StatementError, "consent: missing field 'purpose'")
    env = envelope(signed_sample("consent"))
    del env["sig"]
    refuse(encode(env), StatementError, "signed statement: missing field 'sig'")


def test_refuses_wrong_type() -> None:
    env = envelope(signed_sample("alarm-event"))
    env["body"]["counter"] = "1"
    refuse(encode(env), StatementError, "alarm-event.counter: must be an integer")
    env = envelope(signed_sample("consent"))
    env["body"]["cameras"] = "cam-front"
    refuse(encode(env), StatementError, "consent.cameras: must be a JSON array")
    env = envelope(signed_sample("device-enrollment/camera"))
    env["body"]["camera_profile"]["live_allowed"] = 1
    refuse(encode(env), StatementError, "camera_profile.live_allowed: must be true or false")


def test_refuses_bool_for_int() -> None:
    env = envelope(signed_sample("manifest/seq-1"))
    env["body"]["sequence"] = True
    refuse(encode(env), StatementError, "manifest.sequence: must be an integer")
    env = envelope(signed_sample("site-keys/enrollment"))
    env["body"]["threshold"] = True
    refuse(encode(env), StatementError, "site-keys.threshold: must be an integer")


def test_refuses_float() -> None:
    data = signed_sample("alarm-event").encode().replace(b'"counter":1', b'"counter":1.0')
    refuse(data, StatementError, "floating-point")
    # and at the typed level (a caller building from Python values)
    with pytest.raises(StatementError, match=r"alarm-event\.counter: must be an integer"):
        dataclasses.replace(sample("alarm-event"), counter=1.0)


def test_refuses_wrong_domain() -> None:
    """A signature made under the alarm-event domain does not verify as a consent."""
    consent = sample("consent")
    sk = key("customer")
    wrong = sk.sign(_signed_message(AlarmEvent.TYPE, sk.public_key, consent.to_json()))
    env = dataclasses.replace(signed_sample("consent"), signature=wrong).to_json()
    parsed = parse_signed(encode(env))
    with pytest.raises(SignatureError, match="does not verify"):
        verify(parsed, sk.public_key, Consent)
    # A signature over the bare canonical body (no domain, no envelope) does not verify either.
    bare = sk.sign(canonical_json(consent.to_json()))
    parsed = parse_signed(encode({**env, "sig": b64url_encode(bare)}))
    with pytest.raises(SignatureError, match="does not verify"):
        verify(parsed, sk.public_key, Consent)


def test_refuses_alarm_event_presented_as_consent() -> None:
    alarm = signed_sample("alarm-event")
    with pytest.raises(StatementError, match=r"is camvault/v1/alarm-event, expected .*consent"):
        verify(alarm, key("panel").public_key, Consent)
    # Relabelling the envelope's type makes the body fail the consent schema.
    env = envelope(alarm)
    env["type"] = Consent.TYPE
    refuse(encode(env), StatementError, "consent: unknown field")


def test_refuses_unknown_type_and_version() -> None:
    env = envelope(signed_sample("revocation"))
    env["type"] = "camvault/v2/revocation"
    refuse(encode(env), StatementError, "unknown type 'camvault/v2/revocation'")


def test_refuses_truncated_signature() -> None:
    signed = signed_sample("revocation")
    env = envelope(signed)
    env["sig"] = b64url_encode(signed.signature[:63])
    refuse(encode(env), StatementError, "sig must encode 64 bytes, got 63")
    env["sig"] = env["sig"][:-1]
    refuse(encode(env), StatementError, "sig")


def test_refuses_wrong_key_length() -> None:
    signed = signed_sample("revocation")
    env = envelope(signed)
    env["signer"] = "ed25519:" + b64url_encode(signed.signer.raw[:31])
    refuse(encode(env), StatementError, "signed statement: signer: must encode 32 bytes, got 31")
    env = envelope(signed_sample("consent"))
    env["body"]["grantee_key"] = "ed25519:" + b64url_encode(b"\x01" * 33)
    refuse(encode(env), StatementError, "consent.grantee_key: must encode 32 bytes, got 33")


def test_refuses_non_canonical_bytes() -> None:
    data = signed_sample("revocation").encode()
    refuse(data + b"\n", StatementError, "not canonical")
    refuse(data.replace(b",", b", ", 1), StatementError, "not canonical")
    reordered = json.dumps(json.loads(data), sort_keys=False, separators=(",", ":"))
    obj = json.loads(reordered)
    swapped = {"type": obj["type"], **{k: v for k, v in obj.items() if k != "type"}}
    refuse(json.dumps(swapped, separators=(",", ":")).encode(), StatementError, "not canonical")
    refuse(data.replace(b"site-1", b"site\\u002d1"), StatementError, "not canonical")


def test_refuses_deep_nesting_and_oversize() -> None:
    refuse(b"[" * 100_000 + b"]" * 100_000, StatementError, "larger than")
    refuse(b"[" * 30_000 + b"]" * 30_000, StatementError, "nesting too deep")


def test_refuses_signature_by_another_key() -> None:
    statement = sample("consent")
    by_operator = sign_statement(statement, key("operator"))
    parsed = parse_signed(by_operator.encode())
    with pytest.raises(SignatureError, match=r"statement signed by ed25519:.*expected"):
        verify(parsed, key("customer").public_key, Consent)
    # Claiming the customer as signer while signing with another key: signature fails.
    forged = dataclasses.replace(by_operator, signer=key("customer").public_key)
    with pytest.raises(SignatureError, match="does not verify"):
        verify(parse_signed(forged.encode()), key("customer").public_key, Consent)


def test_refuses_modified_body_bit_flip() -> None:
    signed = signed_sample("alarm-event")
    data = signed.encode()
    flipped = data.replace(b'"evt-0001"', b'"evt-0000"')  # '1' ^ 0x01 == '0'
    assert flipped != data
    with pytest.raises(SignatureError, match="does not verify"):
        verify(parse_signed(flipped), key("panel").public_key, AlarmEvent)


def test_signer_is_covered_by_signature() -> None:
    signed = signed_sample("alarm-event")
    assert signed.signer.to_text().encode() in signed.signed_message()
    assert signed.signed_message().startswith(b"camvault/v1/alarm-event\n{")


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_single_byte_change_is_refused(data: st.DataObject) -> None:
    signed = signed_sample("consent")
    encoded = bytearray(signed.encode())
    i = data.draw(st.integers(0, len(encoded) - 1), label="index")
    delta = data.draw(st.integers(1, 255), label="xor")
    encoded[i] ^= delta
    with pytest.raises(StatementError):  # SignatureError is a StatementError
        verify(parse_signed(bytes(encoded)), key("customer").public_key, Consent)


# --- value constraints ----------------------------------------------------------------------


def test_consent_validity_bound() -> None:
    c: Consent = sample("consent")
    ok = dataclasses.replace(c, not_after_ms=c.not_before_ms + MAX_CONSENT_VALIDITY_MS)
    assert ok.not_after_ms - ok.not_before_ms == 7 * 24 * 3600 * 1000
    with pytest.raises(StatementError, match="validity period longer than the maximum"):
        dataclasses.replace(c, not_after_ms=c.not_before_ms + MAX_CONSENT_VALIDITY_MS + 1)
    env = envelope(signed_sample("consent"))
    env["body"]["not_after_ms"] = c.not_before_ms + MAX_CONSENT_VALIDITY_MS + 1
    refuse(encode(env), StatementError, "validity period longer than the maximum")
    with pytest.raises(StatementError, match="must be after not_before_ms"):
        dataclasses.replace(c, not_after_ms=c.not_before_ms)


def test_consent_other_constraints() -> None:
    c: Consent = sample("consent")
    with pytest.raises(StatementError, match=r"consent\.purpose: .*'maintenance'"):
        dataclasses.replace(c, purpose=Purpose.ALARM_VERIFICATION)
    with pytest.raises(StatementError, match=r"consent\.cameras: must have 1-"):
        dataclasses.replace(c, cameras=())
    with pytest.raises(StatementError, match=r"consent\.cameras: duplicate"):
        dataclasses.replace(c, cameras=("cam-front", "cam-front"))
    with pytest.raises(StatementError, match=r"consent\.scope: must have 1-"):
        dataclasses.replace(c, scope=())
    with pytest.raises(StatementError, match=r"consent\.scope: duplicate"):
        dataclasses.replace(c, scope=(ConsentScope.LIVE, ConsentScope.LIVE))
    with pytest.raises(StatementError, match="recordings_to_ms: must not be before"):
        dataclasses.replace(c, recordings_to_ms=c.recordings_from_ms - 1)
    env = envelope(signed_sample("consent"))
    env["body"]["scope"] = ["recordings", "everything"]
    refuse(encode(env), StatementError, "consent.scope[]: must be one of")
    env["body"]["scope"] = ["recordings"]
    env["body"]["purpose"] = "marketing"
    refuse(encode(env), StatementError, "consent.purpose: must be one of")


def test_recording_deletion_constraints() -> None:
    d: RecordingDeletion = sample("recording-deletion")
    with pytest.raises(StatementError, match=r"recording-deletion\.recording_ids: must have 1-"):
        dataclasses.replace(d, recording_ids=())
    with pytest.raises(StatementError, match=r"recording-deletion\.recording_ids: duplicate"):
        dataclasses.replace(d, recording_ids=("rec-1", "rec-1"))
    too_many = tuple(f"rec-{i}" for i in range(MAX_DELETION_RECORDINGS + 1))
    with pytest.raises(StatementError, match=r"recording-deletion\.recording_ids: must have 1-"):
        dataclasses.replace(d, recording_ids=too_many)
    env = envelope(signed_sample("recording-deletion"))
    env["body"]["recording_ids"] = ["rec-0000", "../etc"]
    refuse(encode(env), StatementError, "recording-deletion.recording_ids[]")


def test_alarm_close_is_not_an_alarm_cancel() -> None:
    # Same alarm, other signer role: the domain keeps an operator's close from being taken
    # for the customer's cancel (and the other way round).
    env = envelope(signed_sample("alarm-close"))
    env["type"] = "camvault/v1/alarm-cancel"
    with pytest.raises(StatementError):
        parse_signed(encode(env))


def test_site_keys_constraints() -> None:
    s: SiteKeys = sample("site-keys/enrollment")
    with pytest.raises(StatementError, match=r"threshold: must be between 2 and 3"):
        dataclasses.replace(s, threshold=4)
    with pytest.raises(StatementError, match=r"threshold: must be between 2 and 3"):
        dataclasses.replace(s, threshold=1)
    with pytest.raises(StatementError, match=r"recipients: must have 1-"):
        dataclasses.replace(s, recipients=())
    with pytest.raises(StatementError, match=r"recipients: duplicate"):
        dataclasses.replace(s, recipients=(s.recipients[0], s.recipients[0]))
    with pytest.raises(StatementError, match=r"custodian_id: duplicate"):
        dup = dataclasses.replace(s.custodians[1], custodian_id=s.custodians[0].custodian_id)
        dataclasses.replace(s, custodians=(s.custodians[0], dup, s.custodians[2]))
    # A custodian's escrow key must never also be a plain recipient (it would get the file key).
    escrow_as_recipient = X25519Recipient(s.custodians[0].escrow_key.data)
    with pytest.raises(StatementError, match="escrow_key is also listed in recipients"):
        dataclasses.replace(s, recipients=(*s.recipients, escrow_as_recipient))
    env = envelope(signed_sample("site-keys/enrollment"))
    env["body"]["custodians"][0]["url"] = "ftp://x"
    refuse(encode(env), StatementError, "custodian.url: must be null or an http(s) URL")


def test_age_recipient_checks() -> None:
    good = str(gen.age_recipient("recipient-phone"))
    assert str(parse_age_recipient(good)) == good
    bad_checksum = good[:-1] + ("q" if good[-1] != "q" else "p")
    with pytest.raises(StatementError, match="checksum"):
        parse_age_recipient(bad_checksum)
    with pytest.raises(StatementError, match="want 'age1'"):
        parse_age_recipient(good.upper())
    with pytest.raises(StatementError, match="must be an age X25519 recipient string"):
        parse_age_recipient(7)
    env = envelope(signed_sample("site-keys/enrollment"))
    env["body"]["recipients"] = [good[:-1]]
    refuse(encode(env), StatementError, "site-keys.recipients[]: bech32")


def test_age_recipients_accepted_by_pyrage() -> None:
    import pyrage

    for r in sample("site-keys/enrollment").recipients:
        pyrage.x25519.Recipient.from_str(str(r))


def test_device_enrollment_profile_rules() -> None:
    cam: DeviceEnrollment = sample("device-enrollment/camera")
    with pytest.raises(StatementError, match="camera_profile: required for a camera"):
        dataclasses.replace(cam, camera_profile=None)
    panel: DeviceEnrollment = sample("device-enrollment/panel")
    with pytest.raises(StatementError, match="camera_profile: must be null for a panel"):
        dataclasses.replace(panel, camera_profile=cam.camera_profile)
    with pytest.raises(StatementError, match="stills_only excludes live_allowed"):
        CameraProfile(pre_alarm_s=1, post_alarm_s=1, live_allowed=True, stills_only=True)
    with pytest.raises(StatementError, match="pre_alarm_s: must be between 0 and 3600"):
        CameraProfile(pre_alarm_s=-1, post_alarm_s=1, live_allowed=False, stills_only=False)
    with pytest.raises(StatementError, match=r"device-enrollment\.model: control characters"):
        dataclasses.replace(cam, model="cam\n1")
    env = envelope(signed_sample("device-enrollment/panel"))
    env["body"]["kind"] = "doorbell"
    refuse(encode(env), StatementError, "device-enrollment.kind: must be one of")
    assert DeviceKind.CAMERA.value == "camera"


def test_manifest_prev_hash_rule() -> None:
    m0: Manifest = sample("manifest/seq-0")
    with pytest.raises(StatementError, match="must be null for sequence 0"):
        dataclasses.replace(m0, prev_manifest_sha256=b"\x00" * 32)
    m1: Manifest = sample("manifest/seq-1")
    with pytest.raises(StatementError, match="required for sequence > 0"):
        dataclasses.replace(m1, prev_manifest_sha256=None)
    env = envelope(signed_sample("manifest/seq-1"))
    env["body"]["payload_sha256"] = env["body"]["payload_sha256"].upper()
    refuse(encode(env), StatementError, "manifest.payload_sha256: must be 64 lowercase hex")
    with pytest.raises(StatementError, match="end_ms: must not be before start_ms"):
        dataclasses.replace(m1, end_ms=m1.start_ms - 1)


def test_manifest_hash_only_for_manifests() -> None:
    with pytest.raises(StatementError, match="expected camvault/v1/manifest"):
        manifest_hash(signed_sample("alarm-event"))


# --- site key pinning -----------------------------------------------------------------------


def test_site_keys_first_enrollment_must_be_self_signed() -> None:
    enrollment = signed_sample("site-keys/enrollment")
    assert verify_site_keys(enrollment, None) == sample("site-keys/enrollment")
    by_other = sign_statement(sample("site-keys/enrollment"), key("operator"))
    with pytest.raises(SignatureError, match="statement signed by"):
        verify_site_keys(by_other, None)
    with pytest.raises(StatementError, match="expected camvault/v1/site-keys"):
        verify_site_keys(signed_sample("consent"), None)


def test_site_keys_change_signed_by_pinned_key() -> None:
    pinned = sample("site-keys/enrollment")
    rotation = sample("site-keys/rotation")  # version 2, new customer key
    accepted = verify_site_keys(sign_statement(rotation, key("customer")), pinned)
    assert accepted.customer_key == key("customer-rotated").public_key
    # Signed by the new key only (self-signed takeover): refused.
    with pytest.raises(SignatureError, match="statement signed by"):
        verify_site_keys(sign_statement(rotation, key("customer-rotated")), pinned)
    # Rollback or replay of the pinned version: refused.
    with pytest.raises(StatementError, match="version 1 is not newer than pinned version 1"):
        verify_site_keys(signed_sample("site-keys/enrollment"), pinned)
    other_site = dataclasses.replace(rotation, site_id="site-2")
    with pytest.raises(StatementError, match=f"for site 'site-2', pinned '{pinned.site_id}'"):
        verify_site_keys(sign_statement(other_site, key("customer")), pinned)


# --- manifest chain -------------------------------------------------------------------------


def vc(
    manifests: list[SignedStatement],
    *,
    anchor: ChainAnchor | None = None,
    expected_last_sequence: int | None = None,
) -> list[Any]:
    return verify_chain(
        manifests,
        key("camera").public_key,
        site_id="site-1",
        camera_id="cam-front",
        anchor=anchor,
        expected_last_sequence=expected_last_sequence,
    )


def chain(n: int = 5) -> list[SignedStatement]:
    return list(gen.manifest_chain(n))


def kinds(problems: list[Any]) -> list[tuple[ChainProblemKind, int | None]]:
    return [(p.kind, p.sequence) for p in problems]


def test_chain_intact() -> None:
    assert vc(chain()) == []
    assert vc([]) == []
    assert vc(chain(), expected_last_sequence=4) == []


def test_chain_deletion_detected() -> None:
    c = chain()
    del c[2]
    assert kinds(vc(c)) == [(ChainProblemKind.MISSING, 2)]
    c = chain()
    del c[0]
    assert kinds(vc(c)) == [(ChainProblemKind.MISSING, 0)]


def test_chain_deletion_at_end_needs_expected_last() -> None:
    c = chain()[:3]
    assert vc(c) == []  # undetectable from the chain alone
    problems = vc(c, expected_last_sequence=4)
    assert kinds(problems) == [(ChainProblemKind.TRUNCATED, 3)]
    assert "3..4 missing" in problems[0].detail


def test_chain_reordering_detected() -> None:
    c = chain()
    c[1], c[3] = c[3], c[1]
    problems = vc(c)
    assert (ChainProblemKind.OUT_OF_ORDER, 2) in kinds(problems)
    assert (ChainProblemKind.OUT_OF_ORDER, 1) in kinds(problems)
    assert {p.kind for p in problems} == {ChainProblemKind.OUT_OF_ORDER}


def test_chain_substitution_detected() -> None:
    """The manifest of sequence 2 replaced by another one (signed by the camera key, e.g. a
    stolen key or a forked camera state): the link from sequence 3 breaks."""
    c = chain()
    m2: Manifest = c[2].unverified_statement  # type: ignore[assignment]
    other = dataclasses.replace(m2, payload_sha256=hashlib.sha256(b"other").digest())
    c[2] = sign_statement(other, key("camera"))
    problems = vc(c)
    assert kinds(problems) == [(ChainProblemKind.PREV_HASH_MISMATCH, 3)]
    assert problems[0].index == 3


def test_chain_insertion_of_foreign_manifest_detected() -> None:
    """A manifest signed by another camera inserted into the list."""
    c = chain()
    foreign = gen.manifest_chain(3, key="operator")[2]
    c.insert(3, foreign)
    problems = vc(c)
    assert [(p.kind, p.index) for p in problems] == [(ChainProblemKind.BAD_SIGNATURE, 3)]


def test_chain_insertion_of_forged_link_detected() -> None:
    """A validly signed manifest inserted with a fresh sequence number but a made-up link."""
    c = chain()
    m4: Manifest = c[4].unverified_statement  # type: ignore[assignment]
    forged = dataclasses.replace(
        m4, sequence=5, recording_id="rec-x", prev_manifest_sha256=manifest_hash(c[2])
    )
    c.append(sign_statement(forged, key("camera")))
    assert kinds(vc(c)) == [(ChainProblemKind.PREV_HASH_MISMATCH, 5)]


def test_chain_duplicate_sequence_detected() -> None:
    c = chain()
    c.insert(3, c[2])  # replayed
    problems = vc(c)
    assert kinds(problems) == [(ChainProblemKind.DUPLICATE_SEQUENCE, 2)]
    assert "same manifest listed again" in problems[0].detail
    # Two different manifests claiming the same sequence number (a fork).
    c = chain()
    m2: Manifest = c[2].unverified_statement  # type: ignore[assignment]
    fork = sign_statement(dataclasses.replace(m2, recording_id="rec-fork"), key("camera"))
    c.insert(3, fork)
    problems = vc(c)
    assert kinds(problems) == [(ChainProblemKind.DUPLICATE_SEQUENCE, 2)]
    assert "2 different manifests" in problems[0].detail


def test_chain_wrong_camera_and_wrong_type() -> None:
    c = chain()
    m1: Manifest = c[1].unverified_statement  # type: ignore[assignment]
    c[1] = sign_statement(dataclasses.replace(m1, camera_id="cam-back"), key("camera"))
    c.append(signed_sample("alarm-event"))
    problems = vc(c)
    assert [p.kind for p in problems] == [
        ChainProblemKind.WRONG_CAMERA,
        ChainProblemKind.NOT_A_MANIFEST,
        ChainProblemKind.MISSING,
    ]


def test_chain_with_anchor() -> None:
    c = chain(6)
    anchor = ChainAnchor(sequence=2, manifest_hash=manifest_hash(c[2]))
    assert vc(c[3:], anchor=anchor) == []
    bad_anchor = ChainAnchor(sequence=2, manifest_hash=b"\x00" * 32)
    assert kinds(vc(c[3:], anchor=bad_anchor)) == [(ChainProblemKind.PREV_HASH_MISMATCH, 3)]
    assert kinds(vc(c[4:], anchor=anchor)) == [(ChainProblemKind.MISSING, 3)]
    assert kinds(vc(c[2:], anchor=anchor)) == [(ChainProblemKind.OUT_OF_ORDER, 2)]


# --- other statement types ----------------------------------------------------------------


def test_alarm_cancel_and_revocation_verify() -> None:
    cancel = verify(signed_sample("alarm-cancel"), key("customer").public_key, AlarmCancel)
    assert cancel.event_id == "evt-0001"
    rev = verify(signed_sample("revocation"), key("customer").public_key, Revocation)
    assert rev.consent_id == "consent-7"
    with pytest.raises(SignatureError):
        verify(signed_sample("alarm-cancel"), key("panel").public_key, AlarmCancel)


def test_verify_with_none_uses_embedded_signer() -> None:
    signed = signed_sample("alarm-event")
    assert verify(signed, None, AlarmEvent) == sample("alarm-event")
    forged = dataclasses.replace(signed, signer=key("customer").public_key)
    with pytest.raises(SignatureError, match="does not verify"):
        verify(forged, None, AlarmEvent)


def test_custodian_escrow_key_text() -> None:
    env = envelope(signed_sample("site-keys/enrollment"))
    env["body"]["custodians"][0]["escrow_key"] = str(gen.age_recipient("escrow-a"))
    refuse(encode(env), StatementError, "custodian.escrow_key")
    assert isinstance(sample("site-keys/enrollment").custodians[0], Custodian)


# --- known-answer vectors -----------------------------------------------------------------

VECTOR_DATA = json.loads((VECTORS / "statements.json").read_text(encoding="utf-8"))


def test_vector_file_is_reproduced_by_generator() -> None:
    assert (VECTORS / "statements.json").read_text(encoding="utf-8") == gen.render()


@pytest.mark.parametrize("v", VECTOR_DATA["valid"], ids=lambda v: v["name"])
def test_valid_vector(v: dict[str, Any]) -> None:
    keys = VECTOR_DATA["keys"]
    sk = Ed25519SigningKey(bytes.fromhex(keys[v["signer"]]["seed"]))
    assert sk.public_key.to_text() == keys[v["signer"]]["public"]
    cls = STATEMENT_TYPES[v["type"]]
    signed = sign_statement(cls.from_json(v["body"]), sk)
    assert signed.signed_message() == v["signed_message"].encode("utf-8")
    assert signed.signature.hex() == v["sig"]
    assert signed.encode() == v["encoded"].encode("utf-8")
    assert signed.statement_hash().hex() == v["statement_hash"]
    parsed = parse_signed(v["encoded"].encode("utf-8"))
    assert verify(parsed, sk.public_key, cls).to_json() == v["body"]


@pytest.mark.parametrize("v", VECTOR_DATA["invalid"], ids=lambda v: v["name"])
def test_invalid_vector(v: dict[str, Any]) -> None:
    exc = {"StatementError": StatementError, "SignatureError": SignatureError}[v["error"]]
    panel = Ed25519SigningKey(bytes.fromhex(VECTOR_DATA["keys"]["panel"]["seed"])).public_key
    with pytest.raises(exc) as info:
        verify(parse_signed(v["encoded"].encode("utf-8")), panel, AlarmEvent)
    assert v["fragment"] in str(info.value)
    if exc is StatementError:
        assert not isinstance(info.value, SignatureError)
