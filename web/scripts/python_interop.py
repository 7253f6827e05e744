"""Cross-checks between the Python crypto/ package and the TypeScript core (web/src/crypto/).

Run by web/test/interop.test.ts with the repository's venv (``.venv/bin/python``), from the
repository root:

- ``make``: prints JSON made by the Python side with fresh random keys: requests signed with
  crypto.httpsig (the CLIs' profile, common/http.py's covered components), a signed consent,
  and an escrowed camvault recording (customer X25519 stanza + 2-of-3 escrow stanzas) with
  shares released to an operator session key and its header re-wrapped for a new device;
- ``canonical``: reads a JSON list on stdin and prints crypto.canonical's encoding of each
  value (hex), for a randomized byte-for-byte comparison with src/crypto/canonical.ts;
- ``verify``: reads JSON made by the TypeScript side on stdin (signed requests, a signed
  statement) and verifies them with the Python code the storage service and custodians run;
  prints one result per item.

This is what tests/vectors cannot give: the Python side checking the bytes TypeScript signs.
"""

from __future__ import annotations

import io
import json
import secrets
import sys
from typing import Any

from crypto import httpsig
from crypto.age import decrypt_header, encrypt, encrypt_header
from crypto.age.format import read_header
from crypto.age.x25519 import X25519Identity
from crypto.canonical import canonical_json
from crypto.ed25519 import Ed25519PublicKey, Ed25519SigningKey
from crypto.escrow import CustodianKey, SessionKey, build_recipient_set, open_escrow_stanza
from crypto.escrow.release import seal_share_to_session
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import Consent, ConsentScope, parse_signed, sign_statement, verify
from crypto.statements.bodies import Purpose

REQUIRED = ("@method", "@authority", "@path", "@query")


def _request(d: dict[str, Any]) -> httpsig.HttpRequest:
    return httpsig.HttpRequest(d["method"], d["authority"], d["path"], d["query"], d["headers"])


def _signed_requests(key: Ed25519SigningKey, nonce: str | None = None) -> list[dict[str, Any]]:
    body = b'{"consent":"c-1"}'
    cases = [
        {
            "method": "GET",
            "authority": "Storage.Example:8443",
            "path": "/v1/sites/site-1/recordings",
            "query": "camera=cam-1&from=1700000000000",
            "headers": {},
        },
        {
            "method": "POST",
            "authority": "storage.example",
            "path": "/v1/consents",
            "query": "",
            "headers": {
                "content-type": "application/json",
                "content-digest": httpsig.content_digest(body),
            },
            "body": body.decode(),
        },
    ]
    out = []
    for case in cases:
        covered = REQUIRED + (("content-digest", "content-type") if "body" in case else ())
        params = httpsig.SignatureParams(
            created=1_700_000_000,
            expires=1_700_000_060,
            keyid="customer:site-1",
            nonce=nonce or secrets.token_urlsafe(18),
        )
        req = _request(case)
        sig_input, sig = httpsig.sign_request(req, covered, params, key)
        base = httpsig.signature_base(req, covered, params.serialize(covered))
        out.append(
            {
                **case,
                "covered": list(covered),
                "params": {
                    "created": params.created,
                    "expires": params.expires,
                    "keyid": params.keyid,
                    "nonce": params.nonce,
                },
                "signature_input": sig_input,
                "signature": sig,
                "base": base.decode(),
            }
        )
    return out


def _recording() -> dict[str, Any]:
    customer = X25519Identity.generate()
    custodians = [CustodianKey.generate() for _ in range(3)]
    metadata = RecordingMetadata(
        "site-7f3a",
        "cam-frontdoor",
        "rec-" + secrets.token_hex(4),
        RecordingKind.CLIP,
        1_717_000_000_000,
        1_717_000_030_000,
    )
    recipients = build_recipient_set(
        [customer.recipient()], [c.public_key() for c in custodians], 2, metadata
    )
    plaintext = secrets.token_bytes(150_000)
    out = io.BytesIO()
    encrypt(recipients, io.BytesIO(plaintext), out)
    data = out.getvalue()
    stream = io.BytesIO(data)
    header = read_header(stream)
    header_bytes = data[: stream.tell()]
    assert header.encode() == header_bytes
    payload = data[len(header_bytes) :]
    escrow = [s for s in header.stanzas if s.type == "camvault-escrow"]
    session = SessionKey.generate()
    released = []
    for i, (stanza, custodian) in enumerate(zip(escrow, custodians, strict=True)):
        share = open_escrow_stanza(stanza, custodian, metadata)
        release_id = f"rel-{i + 1}"
        released.append(
            {
                "release_id": release_id,
                "sealed": seal_share_to_session(
                    share, session.public_key(), metadata, release_id=release_id
                ).hex(),
            }
        )
    # A new device: the same file key wrapped for another identity; the payload is untouched.
    phone = X25519Identity.generate()
    _, file_key = decrypt_header([customer], header_bytes)
    new_header, _ = encrypt_header([phone.recipient()], file_key)
    return {
        "identity": customer.to_text(),
        "new_device_identity": phone.to_text(),
        "metadata": {
            "site_id": metadata.site_id,
            "camera_id": metadata.camera_id,
            "recording_id": metadata.recording_id,
            "kind": metadata.kind.value,
            "start_ms": metadata.start_ms,
            "end_ms": metadata.end_ms,
        },
        "file_hex": data.hex(),
        "header_len": len(header_bytes),
        "plaintext_hex": plaintext.hex(),
        "rewrapped_hex": (new_header + payload).hex(),
        "session_secret_hex": session.secret_bytes().hex(),
        "released": released,
    }


def make() -> dict[str, Any]:
    key = Ed25519SigningKey.generate()
    consent = Consent(
        consent_id="c-1",
        site_id="site-1",
        grantee_id="tech-1",
        grantee_key=None,
        cameras=("cam-1",),
        scope=(ConsentScope.RECORDINGS,),
        recordings_from_ms=1,
        recordings_to_ms=2,
        not_before_ms=1_700_000_000_000,
        not_after_ms=1_700_000_600_000,
        purpose=Purpose.MAINTENANCE,
        issued_at_ms=1_700_000_000_000,
    )
    return {
        "key_seed_hex": key.seed.hex(),
        "public_key": key.public_key.to_text(),
        "requests": _signed_requests(key),
        "statement": sign_statement(consent, key).encode().decode(),
        "recording": _recording(),
    }


def verify_from_typescript(doc: dict[str, Any]) -> dict[str, Any]:
    key = Ed25519PublicKey.from_text(doc["public_key"])
    results: dict[str, Any] = {"requests": [], "statements": []}
    for r in doc["requests"]:
        req = _request(r)
        try:
            parsed = httpsig.parse_signature(r["signature_input"], r["signature"])
            httpsig.verify_request(req, parsed, key, required=REQUIRED)
            if "body" in r:
                httpsig.check_content_digest(r["headers"].get("content-digest"), r["body"].encode())
            results["requests"].append("ok")
        except httpsig.HttpSignatureError as exc:
            results["requests"].append(exc.reason)
    for text in doc["statements"]:  # consents, as the custodians verify them
        try:
            verify(parse_signed(text.encode()), key, Consent)
            results["statements"].append("ok")
        except Exception as exc:
            results["statements"].append(type(exc).__name__)
    return results


FIXTURE_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
FIXTURE_NONCE = "cAmVaUlTfIxEdNoNcE0"


def httpsig_fixture() -> dict[str, Any]:
    """Deterministic known-answer requests (RFC 8032 test 1 seed, fixed nonce): the content of
    web/test/fixtures/httpsig.json until tests/vectors has an httpsig.json of its own."""
    key = Ed25519SigningKey(FIXTURE_SEED)
    return {
        "description": "RFC 9421 requests signed by crypto/httpsig.py (camvault profile); "
        "written by web/scripts/python_interop.py fixture",
        "key_seed_hex": FIXTURE_SEED.hex(),
        "public_key": key.public_key.to_text(),
        "requests": _signed_requests(key, FIXTURE_NONCE),
    }


def canonical_many(values: list[Any]) -> list[str]:
    """crypto.canonical.canonical_json of each value, hex (TypeScript compares byte for byte)."""
    return [canonical_json(v).hex() for v in values]


if __name__ == "__main__":
    if sys.argv[1:] == ["make"]:
        print(json.dumps(make()))
    elif sys.argv[1:] == ["fixture"]:
        print(json.dumps(httpsig_fixture(), indent=2, sort_keys=True))
    elif sys.argv[1:] == ["canonical"]:
        print(json.dumps(canonical_many(json.load(sys.stdin))))
    elif sys.argv[1:] == ["verify"]:
        print(json.dumps(verify_from_typescript(json.load(sys.stdin))))
    else:
        sys.exit("usage: python_interop.py make|fixture|verify")
