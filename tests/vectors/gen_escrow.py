"""Generate tests/vectors/escrow.json: Shamir and camvault-escrow known-answer vectors.

Run from the repository root:  .venv/bin/python tests/vectors/gen_escrow.py

Deterministic: every secret input (custodian and session keys, ephemeral keys, Shamir
coefficients, file keys) is SHA-256 of a fixed label, passed to the private ``_from_parts``
variants of crypto.escrow.shamir / crypto.escrow. Before writing, every value is recomputed by an
independent path: Shamir shares by naive polynomial evaluation with a carry-less reference
multiplication, escrow bodies and released shares with pyca/cryptography's X25519, HKDF and
ChaCha20Poly1305 called directly instead of through PyNaCl and crypto.escrow's wrap. The
script refuses to write if the two disagree.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.x25519 import (  # noqa: E402
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305  # noqa: E402
from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: E402

from crypto.age.format import (  # noqa: E402
    FileKey,
    compute_header_mac,
    encode_header,
    encode_header_without_mac,
    encode_stanza,
)
from crypto.encoding import b64encode  # noqa: E402
from crypto.escrow import (  # noqa: E402
    ESCROW_LABEL,
    RELEASE_LABEL,
    SHARE_NONCE_SIZE,
    CustodianKey,
    EscrowRecipients,
    SessionKey,
)
from crypto.escrow.release import _release_ad, _seal_share_to_session_from_parts  # noqa: E402
from crypto.escrow.shamir import _split_from_coefficients  # noqa: E402
from crypto.escrow.stanza import stanza_ad  # noqa: E402
from crypto.metadata import RecordingKind, RecordingMetadata  # noqa: E402

OUT = Path(__file__).resolve().parent / "escrow.json"


def det(label: str, size: int) -> bytes:
    """``size`` bytes derived from a label: SHA-256 in counter mode, for test inputs only."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"camvault test vector {label} {counter}".encode()).digest()
        counter += 1
    return out[:size]


# --- independent reference computations ---------------------------------------------------------


def ref_mul(a: int, b: int) -> int:
    product = 0
    for bit in range(8):
        if (b >> bit) & 1:
            product ^= a << bit
    for bit in range(14, 7, -1):
        if (product >> bit) & 1:
            product ^= 0x11B << (bit - 8)
    return product


def ref_shares(secret: bytes, t: int, n: int, coefficients: bytes) -> list[str]:
    out = []
    for x in range(1, n + 1):
        y = bytearray()
        for j, s in enumerate(secret):
            acc, power = s, 1
            for a in coefficients[j * (t - 1) : (j + 1) * (t - 1)]:
                power = ref_mul(power, x)
                acc ^= ref_mul(a, power)
            y.append(acc)
        out.append((bytes([1, t, x]) + bytes(y)).hex())
    return out


def ref_seal(label: bytes, recipient_pk: bytes, ephemeral: bytes, pt: bytes, ad: bytes) -> bytes:
    e = X25519PrivateKey.from_private_bytes(ephemeral)
    e_pk = e.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    shared = e.exchange(X25519PublicKey.from_public_bytes(recipient_pk))
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=e_pk + recipient_pk, info=label).derive(
        shared
    )
    return ChaCha20Poly1305(key).encrypt(bytes(12), pt, ad)


def check(label: str, ours: object, reference: object) -> None:
    if ours != reference:
        raise SystemExit(f"{label}: implementation and reference disagree; not writing vectors")


# --- vectors ----------------------------------------------------------------------------------


def shamir_vectors() -> list[dict[str, object]]:
    cases = [
        ("fips-197 xtime", b"\x00", 2, 3, b"\x57"),
        ("zero coefficients", b"\x2a\x2b", 2, 2, b"\x00\x00"),
        ("1-of-1", b"\x01\x02\x03", 1, 1, b""),
    ]
    for t, n in [(2, 3), (3, 5), (5, 5), (4, 16), (16, 16)]:
        secret = det(f"shamir secret {t}-of-{n}", 16)
        cases.append(
            (f"{t}-of-{n} file key", secret, t, n, det(f"shamir {t}-of-{n}", 16 * (t - 1)))
        )
    vectors = []
    for name, secret, t, n, coefficients in cases:
        shares = [s.to_bytes().hex() for s in _split_from_coefficients(secret, t, n, coefficients)]
        check(name, shares, ref_shares(secret, t, n, coefficients))
        vectors.append(
            {
                "name": name,
                "secret": secret.hex(),
                "threshold": t,
                "shares": n,
                "coefficients": coefficients.hex(),
                "share_bytes": shares,
            }
        )
    return vectors


def metadata(recording_id: str) -> RecordingMetadata:
    return RecordingMetadata(
        site_id="site-7f3a",
        camera_id="cam-frontdoor",
        recording_id=recording_id,
        kind=RecordingKind.CLIP,
        start_ms=1_717_000_000_000,
        end_ms=1_717_000_030_000,
    )


def escrow_vectors() -> list[dict[str, object]]:
    vectors = []
    for name, t, n in [("2-of-3", 2, 3), ("3-of-5", 3, 5)]:
        meta = metadata(f"rec-{t}of{n}-0001")
        custodians = [CustodianKey(det(f"custodian {name} {i}", 32)) for i in range(1, n + 1)]
        file_key = FileKey(det(f"file key {name}", 16))
        coefficients = det(f"escrow coefficients {name}", 16 * (t - 1))
        ephemerals = [det(f"escrow ephemeral {name} {i}", 32) for i in range(1, n + 1)]
        recipients = EscrowRecipients([c.public_key() for c in custodians], t, meta)
        stanzas = recipients._wrap_from_parts(file_key, coefficients, ephemerals)
        shares = _split_from_coefficients(file_key.data, t, n, coefficients)
        for stanza, custodian, share, ephemeral in zip(
            stanzas, custodians, shares, ephemerals, strict=True
        ):
            reference = ref_seal(
                ESCROW_LABEL,
                custodian.public_key().data,
                ephemeral,
                share.to_bytes(),
                stanza_ad(meta, stanza.args),
            )
            check(f"{name} stanza {share.x}", stanza.body, reference)
        header_without_mac = encode_header_without_mac(stanzas)
        header = encode_header(stanzas, compute_header_mac(file_key, header_without_mac))
        vectors.append(
            {
                "name": name,
                "metadata": meta.to_json(),
                "associated_data_prefix": meta.associated_data().decode(),
                "threshold": t,
                "file_key": file_key.data.hex(),
                "coefficients": coefficients.hex(),
                "custodian_secret_keys": [c.secret_bytes().hex() for c in custodians],
                "custodian_public_keys": [c.public_key().to_text() for c in custodians],
                "ephemeral_secret_keys": [e.hex() for e in ephemerals],
                "shares": [s.to_bytes().hex() for s in shares],
                "stanzas": [
                    {"type": s.type, "args": list(s.args), "body": b64encode(s.body)}
                    for s in stanzas
                ],
                "stanza_text": [encode_stanza(s).decode("ascii") for s in stanzas],
                "header": header.decode("ascii"),
            }
        )
    return vectors


def release_vectors() -> list[dict[str, object]]:
    """Two shares of one recording released with one ephemeral key (as a custodian seals a
    whole release), each with its own 16 random bytes, hence its own key."""
    meta = metadata("rec-2of3-0001")
    shares = _split_from_coefficients(det("file key 2-of-3", 16), 2, 3, det("release coeff", 16))
    session = SessionKey(det("operator session", 32))
    ephemeral = det("release ephemeral", 32)
    release_id = "rel-2024-0001"
    out: list[dict[str, object]] = []
    for index in (1, 2):
        share = shares[index]
        nonce = det(f"release nonce {index + 1}", SHARE_NONCE_SIZE)
        sealed = _seal_share_to_session_from_parts(
            share, session.public_key(), meta, release_id, ephemeral, nonce
        )
        reference = ref_seal(
            RELEASE_LABEL + nonce,
            session.public_key(),
            ephemeral,
            share.to_bytes(),
            _release_ad(meta, release_id),
        )
        check("release", sealed[32 + SHARE_NONCE_SIZE :], reference)
        check("release nonce", sealed[32 : 32 + SHARE_NONCE_SIZE], nonce)
        out.append(
            {
                "name": f"release of share {index + 1}" + (", same ephemeral key" if out else ""),
                "metadata": meta.to_json(),
                "release_id": release_id,
                "share": share.to_bytes().hex(),
                "session_secret_key": session.secret_bytes().hex(),
                "session_public_key": session.public_key().hex(),
                "ephemeral_secret_key": ephemeral.hex(),
                "nonce": nonce.hex(),
                "sealed": sealed.hex(),
            }
        )
    return out


def main() -> None:
    document = {
        "description": (
            "camvault Shamir (GF(2^8), 0x11B, x = 1..n) and camvault-escrow stanza vectors; "
            "see docs/FORMAT.md part 2"
        ),
        "generator": "tests/vectors/gen_escrow.py",
        "cross_checks": (
            "shares re-derived by naive polynomial evaluation with a carry-less reference "
            "multiplication; stanza bodies and released shares re-sealed with pyca/cryptography "
            "X25519 + HKDF + ChaCha20Poly1305"
        ),
        "shamir": shamir_vectors(),
        "escrow": escrow_vectors(),
        "release": release_vectors(),
    }
    OUT.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
