"""Generate tests/vectors/statements.json: known-answer vectors for camvault signed statements.

Run from the repository root:  .venv/bin/python tests/vectors/gen_statements.py

Deterministic: every key is derived from a fixed 32-byte seed, seed = SHA-256("camvault test
vector seed: " || name); Ed25519 signing (RFC 8032) is deterministic and every encoding is
RFC 8785 canonical JSON, so the output is the same on every run. Age X25519 recipients and
custodian escrow keys are X25519(seed, 9) (RFC 7748) in their text forms.

The file holds:
- "keys": name -> seed (hex) and public text form;
- "valid": one vector per statement type (and a two-manifest chain), each with the signer's key
  name, the body, the exact signed message, the signature, the encoded signed statement and its
  SHA-256 (statement hash);
- "invalid": encodings that must be refused, each with the error class and a message fragment.

tests/crypto/test_statements.py rebuilds every vector from its inputs and checks byte equality.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import nacl.bindings

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from crypto.age.x25519 import X25519Recipient
from crypto.canonical import canonical_json
from crypto.ed25519 import Ed25519SigningKey
from crypto.encoding import b64url_encode
from crypto.escrow import CustodianPublicKey, HybridCustodianKey, HybridCustodianPublicKey
from crypto.metadata import RecordingKind
from crypto.siteid import site_id_for
from crypto.statements import (
    AlarmCancel,
    AlarmClose,
    AlarmEvent,
    AlarmType,
    CameraProfile,
    ChainHead,
    Consent,
    ConsentScope,
    Custodian,
    DeviceEnrollment,
    DeviceKind,
    DeviceRevocation,
    Manifest,
    OperatorRegistration,
    OperatorRole,
    Purpose,
    RecordingDeletion,
    RetentionPolicy,
    Revocation,
    SignedStatement,
    SiteKeys,
    Statement,
    manifest_hash,
    sign_statement,
)

OUT = Path(__file__).with_name("statements.json")
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z in ms

ED25519_KEYS = ("customer", "customer-rotated", "camera", "panel", "arc", "operator", "log-a",
                "log-b", "log-c", "camera-rotated")  # fmt: skip
X25519_KEYS = ("recipient-phone", "recipient-laptop", "escrow-a", "escrow-b", "escrow-c")
#: Hybrid (ML-KEM-768 + X25519) custodian escrow keys: the seed is the mlkem768x25519 seed.
HYBRID_KEYS = ("escrow-pq-a", "escrow-pq-b")


def seed(name: str) -> bytes:
    return hashlib.sha256(b"camvault test vector seed: " + name.encode()).digest()


def signing_key(name: str) -> Ed25519SigningKey:
    return Ed25519SigningKey(seed(name))


def x25519_public(name: str) -> bytes:
    return nacl.bindings.crypto_scalarmult_base(seed(name))


def age_recipient(name: str) -> X25519Recipient:
    return X25519Recipient(x25519_public(name))


def escrow_key(name: str) -> CustodianPublicKey:
    return CustodianPublicKey(x25519_public(name))


def hybrid_escrow_key(name: str) -> HybridCustodianPublicKey:
    return HybridCustodianKey(seed(name)).public_key()


def pub(name: str) -> Any:
    return signing_key(name).public_key


#: The site id of the vectors: the label "site-1" bound to the first customer key (crypto.siteid).
SITE_ID = site_id_for(pub("customer"), "site-1")


def site_keys(version: int = 1, customer: str = "customer") -> SiteKeys:
    return SiteKeys(
        site_id=SITE_ID,
        version=version,
        customer_key=pub(customer),
        recipients=(age_recipient("recipient-phone"), age_recipient("recipient-laptop")),
        custodians=tuple(
            Custodian(
                custodian_id=f"custodian-{x}",
                escrow_key=escrow_key(f"escrow-{x}"),
                log_key=pub(f"log-{x}"),
                url=f"https://custodian-{x}.example" if x != "c" else None,
            )
            for x in "abc"
        ),
        threshold=2,
        issued_at_ms=T0 + version,
    )


def manifest(sequence: int, prev: bytes | None, **changes: Any) -> Manifest:
    fields: dict[str, Any] = {
        "site_id": "site-1",
        "camera_id": "cam-front",
        "recording_id": f"rec-{sequence:04d}",
        "kind": RecordingKind.SEGMENT,
        "start_ms": T0 + 10_000 * sequence,
        "end_ms": T0 + 10_000 * sequence + 9_999,
        "payload_sha256": hashlib.sha256(b"payload %d" % sequence).digest(),
        "payload_size": 65_536 + sequence,
        "header_sha256": hashlib.sha256(b"header %d" % sequence).digest(),
        "sequence": sequence,
        "prev_manifest_sha256": prev,
        "issued_at_ms": T0 + 10_000 * sequence + 10_500,
    }
    fields.update(changes)
    return Manifest(**fields)


def manifest_chain(n: int, key: str = "camera") -> list[SignedStatement]:
    chain: list[SignedStatement] = []
    prev: bytes | None = None
    for i in range(n):
        signed = sign_statement(manifest(i, prev), signing_key(key))
        chain.append(signed)
        prev = manifest_hash(signed)
    return chain


def samples() -> list[tuple[str, str, Statement]]:
    """(vector name, signer key name, statement) for every statement type."""
    chain = manifest_chain(2)
    return [
        ("site-keys/enrollment", "customer", site_keys()),
        ("site-keys/rotation", "customer", site_keys(version=2, customer="customer-rotated")),
        ("site-keys/hybrid-escrow", "customer", hybrid_site_keys()),
        (
            "device-enrollment/camera",
            "customer",
            DeviceEnrollment(
                site_id="site-1",
                device_id="cam-front",
                kind=DeviceKind.CAMERA,
                model="Kamera Außen 4K",
                device_key=pub("camera"),
                camera_profile=CameraProfile(
                    pre_alarm_s=30, post_alarm_s=120, live_allowed=True, stills_only=False
                ),
                issued_at_ms=T0 + 100,
            ),
        ),
        (
            "device-enrollment/panel",
            "customer",
            DeviceEnrollment(
                site_id="site-1",
                device_id="panel-1",
                kind=DeviceKind.PANEL,
                model="Panel P-100",
                device_key=pub("panel"),
                camera_profile=None,
                issued_at_ms=T0 + 101,
            ),
        ),
        (
            "device-enrollment/camera-rotated",
            "customer",
            DeviceEnrollment(
                site_id="site-1",
                device_id="cam-front",
                kind=DeviceKind.CAMERA,
                model="Kamera Außen 4K",
                device_key=pub("camera-rotated"),
                camera_profile=CameraProfile(
                    pre_alarm_s=30, post_alarm_s=120, live_allowed=True, stills_only=False
                ),
                issued_at_ms=T0 + 7_000_000,
                version=2,
            ),
        ),
        (
            "device-revocation",
            "customer",
            DeviceRevocation(
                site_id="site-1",
                device_id="cam-front",
                kind=DeviceKind.CAMERA,
                device_key=pub("camera"),
                revoked_from_ms=T0 + 7_000_000,
                reason="camera stolen",
                issued_at_ms=T0 + 7_000_001,
            ),
        ),
        ("manifest/seq-0", "camera", chain[0].unverified_statement),
        ("manifest/seq-1", "camera", chain[1].unverified_statement),
        (
            "chain-head/idle",
            "camera",
            ChainHead(
                site_id="site-1",
                camera_id="cam-front",
                sequence=None,
                manifest_sha256=None,
                issued_at_ms=T0 + 1_000,
                interval_s=60,
            ),
        ),
        (
            "chain-head/seq-1",
            "camera",
            ChainHead(
                site_id="site-1",
                camera_id="cam-front",
                sequence=1,
                manifest_sha256=manifest_hash(chain[1]),
                issued_at_ms=T0 + 30_000,
                interval_s=60,
            ),
        ),
        (
            "alarm-event",
            "panel",
            AlarmEvent(
                site_id="site-1",
                panel_id="panel-1",
                event_id="evt-0001",
                alarm_type=AlarmType.INTRUSION,
                triggered_at_ms=T0 + 20_000,
                counter=1,
            ),
        ),
        (
            "alarm-cancel",
            "customer",
            AlarmCancel(
                site_id="site-1", panel_id="panel-1", event_id="evt-0001", issued_at_ms=T0 + 90_000
            ),
        ),
        (
            "consent",
            "customer",
            Consent(
                consent_id="consent-7",
                site_id="site-1",
                grantee_id="tech-42",
                grantee_key=pub("operator"),
                cameras=("cam-front", "cam-back"),
                scope=(ConsentScope.RECORDINGS, ConsentScope.STILLS),
                recordings_from_ms=T0,
                recordings_to_ms=T0 + 3_600_000,
                not_before_ms=T0 + 3_600_000,
                not_after_ms=T0 + 3_600_000 + 86_400_000,
                purpose=Purpose.MAINTENANCE,
                issued_at_ms=T0 + 3_000_000,
            ),
        ),
        (
            "revocation",
            "customer",
            Revocation(site_id="site-1", consent_id="consent-7", issued_at_ms=T0 + 4_000_000),
        ),
        (
            "operator-registration",
            "arc",
            OperatorRegistration(
                operator_id="tech-42",
                operator_key=pub("operator"),
                role=OperatorRole.TECHNICIAN,
                issued_at_ms=T0 + 200,
            ),
        ),
        (
            "alarm-close",
            "operator",
            AlarmClose(
                site_id="site-1",
                panel_id="panel-1",
                event_id="evt-0001",
                operator_id="op-7",
                closed_at_ms=T0 + 600_000,
            ),
        ),
        (
            "recording-deletion",
            "customer",
            RecordingDeletion(
                site_id="site-1",
                camera_id="cam-front",
                recording_ids=("rec-0000", "rec-0001"),
                issued_at_ms=T0 + 5_000_000,
            ),
        ),
        (
            "retention-policy",
            "customer",
            RetentionPolicy(site_id=SITE_ID, retention_days=30, issued_at_ms=T0 + 6_000_000),
        ),
    ]


def _envelope(body: Any, signer: str, sig: str, type_: str) -> bytes:
    return canonical_json({"body": body, "sig": sig, "signer": signer, "type": type_})


def invalid_vectors(valid: SignedStatement) -> list[dict[str, Any]]:
    """Encodings derived from ``valid`` (an alarm-event) that parse_signed or verify refuse."""
    env = valid.to_json()
    body = env["body"]
    sig, signer, type_ = env["sig"], env["signer"], env["type"]
    good = valid.encode()
    flipped = bytearray(valid.signature)
    flipped[10] ^= 0x01
    out: list[dict[str, Any]] = [
        {
            "name": "unknown body field",
            "encoded": _envelope({**body, "extra": 1}, signer, sig, type_),
            "error": "StatementError",
            "fragment": "unknown field 'extra'",
        },
        {
            "name": "missing body field",
            "encoded": _envelope(
                {k: v for k, v in body.items() if k != "counter"}, signer, sig, type_
            ),
            "error": "StatementError",
            "fragment": "missing field 'counter'",
        },
        {
            "name": "boolean for integer",
            "encoded": _envelope({**body, "counter": True}, signer, sig, type_),
            "error": "StatementError",
            "fragment": "alarm-event.counter: must be an integer",
        },
        {
            "name": "float",
            "encoded": good.replace(b'"counter":1', b'"counter":1.0'),
            "error": "StatementError",
            "fragment": "floating-point",
        },
        {
            "name": "non-canonical whitespace",
            "encoded": good.replace(b'"counter":1', b'"counter": 1'),
            "error": "StatementError",
            "fragment": "not canonical",
        },
        {
            "name": "unknown type",
            "encoded": _envelope(body, signer, sig, "camvault/v2/alarm-event"),
            "error": "StatementError",
            "fragment": "unknown type",
        },
        {
            "name": "truncated signature",
            "encoded": _envelope(body, signer, b64url_encode(valid.signature[:63]), type_),
            "error": "StatementError",
            "fragment": "sig must encode 64 bytes",
        },
        {
            "name": "signer key of 31 bytes",
            "encoded": _envelope(
                body, "ed25519:" + b64url_encode(valid.signer.raw[:31]), sig, type_
            ),
            "error": "StatementError",
            "fragment": "must encode 32 bytes",
        },
        {
            "name": "signature bit flip (verify)",
            "encoded": _envelope(body, signer, b64url_encode(bytes(flipped)), type_),
            "error": "SignatureError",
            "fragment": "does not verify",
        },
        {
            "name": "body changed after signing (verify)",
            "encoded": _envelope({**body, "counter": 2}, signer, sig, type_),
            "error": "SignatureError",
            "fragment": "does not verify",
        },
    ]
    for v in out:
        v["encoded"] = v["encoded"].decode("utf-8")
    return out + chain_head_invalid() + enrollment_invalid() + hybrid_site_keys_invalid()


def enrollment_invalid() -> list[dict[str, Any]]:
    """A DeviceEnrollment of version 1 is written without ``version`` (one encoding, and the
    bytes of enrollments from before rotation); 0 is out of range."""
    signed = sign_statement(
        DeviceEnrollment("site-1", "panel-1", DeviceKind.PANEL, "P", pub("panel"), None, T0),
        signing_key("customer"),
    ).to_json()
    body, sig, signer, type_ = signed["body"], signed["sig"], signed["signer"], signed["type"]
    cases = [
        (
            "device-enrollment: version 1 written out",
            {**body, "version": 1},
            "device-enrollment.version: 1 is written by leaving it out",
        ),
        (
            "device-enrollment: version 0",
            {**body, "version": 0},
            "device-enrollment.version: must be between 1 and 9007199254740991",
        ),
    ]
    return [
        {
            "name": name,
            "encoded": _envelope(b, signer, sig, type_).decode("utf-8"),
            "error": "StatementError",
            "fragment": fragment,
        }
        for name, b, fragment in cases
    ]


def hybrid_site_keys() -> SiteKeys:
    """Version 3 of the site: custodians a and b publish hybrid escrow keys, c does not (its
    member is left out, not null)."""
    keys = site_keys(version=3)
    custodians = tuple(
        dataclasses.replace(c, hybrid_escrow_key=hybrid_escrow_key(f"escrow-pq-{x}"))
        if x != "c"
        else c
        for x, c in zip("abc", keys.custodians, strict=True)
    )
    return dataclasses.replace(keys, custodians=custodians)


def hybrid_site_keys_invalid() -> list[dict[str, Any]]:
    """SiteKeys bodies with a custodian's hybrid escrow key wrong (the body is what is wrong)."""
    signed = sign_statement(hybrid_site_keys(), signing_key("customer")).to_json()
    body, sig, signer, type_ = signed["body"], signed["sig"], signed["signer"], signed["type"]

    def with_custodian(i: int, **member: Any) -> dict[str, Any]:
        custodians = [dict(c) for c in body["custodians"]]
        custodians[i].update(member)
        return {**body, "custodians": custodians}

    half = hybrid_escrow_key("escrow-pq-a").x25519_half
    x_half = X25519Recipient(half)
    # the same X25519 key in another spelling: high bit set (RFC 7748 masks it)
    x_half_high = X25519Recipient(half[:31] + bytes([half[31] | 0x80]))
    pq_b = hybrid_escrow_key("escrow-pq-b").to_text()
    cases = [
        (
            "site-keys: hybrid_escrow_key null",
            with_custodian(2, hybrid_escrow_key=None),
            "hybrid_escrow_key: leave it out instead of null",
        ),
        (
            "site-keys: hybrid_escrow_key's X25519 half is a recipient",
            {**body, "recipients": [str(x_half), body["recipients"][1]]},
            "a custodian hybrid_escrow_key's X25519 half is a recipient",
        ),
        (
            "site-keys: hybrid_escrow_key's X25519 half is a recipient, high bit set",
            {**body, "recipients": [body["recipients"][0], str(x_half_high)]},
            "a custodian hybrid_escrow_key's X25519 half is a recipient",
        ),
        (
            "site-keys: one hybrid_escrow_key for two custodians",
            with_custodian(0, hybrid_escrow_key=pq_b),
            "custodians hybrid_escrow_key: duplicate element",
        ),
        (
            "site-keys: an X25519 escrow key as hybrid_escrow_key",
            with_custodian(2, hybrid_escrow_key=body["custodians"][2]["escrow_key"]),
            "hybrid custodian public key",
        ),
    ]
    return [
        {
            "name": name,
            "encoded": _envelope(b, signer, sig, type_).decode("utf-8"),
            "error": "StatementError",
            "fragment": fragment,
        }
        for name, b, fragment in cases
    ]


def chain_head_invalid() -> list[dict[str, Any]]:
    """ChainHead bodies the parser refuses (signed by the camera: the body is what is wrong)."""
    head = sign_statement(
        ChainHead("site-1", "cam-front", 1, hashlib.sha256(b"m").digest(), T0, 60),
        signing_key("camera"),
    ).to_json()
    body, sig, signer, type_ = head["body"], head["sig"], head["signer"], head["type"]
    cases = [
        (
            "chain-head: hash without sequence",
            {**body, "sequence": None},
            "chain-head.manifest_sha256: null exactly when sequence is null",
        ),
        (
            "chain-head: sequence without hash",
            {**body, "manifest_sha256": None},
            "chain-head.manifest_sha256: null exactly when sequence is null",
        ),
        (
            "chain-head: interval 0",
            {**body, "interval_s": 0},
            "chain-head.interval_s: must be between 1 and 86400",
        ),
        (
            "chain-head: negative sequence",
            {**body, "sequence": -1},
            "chain-head.sequence: must be between 0 and 9007199254740991",
        ),
    ]
    return [
        {
            "name": name,
            "encoded": _envelope(b, signer, sig, type_).decode("utf-8"),
            "error": "StatementError",
            "fragment": fragment,
        }
        for name, b, fragment in cases
    ]


def build() -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for name in ED25519_KEYS:
        keys[name] = {"seed": seed(name).hex(), "public": pub(name).to_text()}
    for name in X25519_KEYS:
        text = (
            str(age_recipient(name)) if name.startswith("recipient") else escrow_key(name).to_text()
        )
        keys[name] = {"seed": seed(name).hex(), "public": text}
    for name in HYBRID_KEYS:
        keys[name] = {"seed": seed(name).hex(), "public": hybrid_escrow_key(name).to_text()}
    valid = []
    alarm: SignedStatement | None = None
    for name, signer_name, statement in samples():
        signed = sign_statement(statement, signing_key(signer_name))
        if isinstance(statement, AlarmEvent):
            alarm = signed
        valid.append(
            {
                "name": name,
                "type": statement.TYPE,
                "signer": signer_name,
                "body": statement.to_json(),
                "signed_message": signed.signed_message().decode("utf-8"),
                "sig": signed.signature.hex(),
                "encoded": signed.encode().decode("utf-8"),
                "statement_hash": signed.statement_hash().hex(),
            }
        )
    if alarm is None:
        raise RuntimeError("no alarm-event sample")
    return {
        "description": "camvault signed statements v1, see docs/FORMAT.md part 3; "
        "generated by tests/vectors/gen_statements.py",
        "keys": keys,
        "valid": valid,
        "invalid": invalid_vectors(alarm),
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
