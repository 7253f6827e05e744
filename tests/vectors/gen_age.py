"""Generate tests/vectors/age.json: camvault's deterministic age v1 known-answer vectors.

Every random input (file key, X25519 identity and ephemeral secrets, scrypt salt, payload
nonce) is fixed below and passed to the private ``_..._from_parts`` functions, so running
this script again reproduces the JSON byte for byte. The files were cross-checked by
decrypting them with the reference ``age`` CLI (tests/crypto/test_age_interop.py) and are
re-derived by tests/crypto/test_cctv.py::test_camvault_vectors.

Run from the repository root:  .venv/bin/python tests/vectors/gen_age.py
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

from crypto.age import seal_header
from crypto.age.armor import armor
from crypto.age.format import FileKey, Stanza
from crypto.age.scrypt import ScryptRecipient
from crypto.age.stream import _encrypt_payload_from_parts
from crypto.age.x25519 import X25519Identity
from crypto.encoding import b64encode

OUT = Path(__file__).with_name("age.json")
FILE_KEY = bytes.fromhex("63616d7661756c742066696c65206b79")  # "camvault file ky"
NONCE = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
ALICE = bytes(range(1, 33))
BOB = bytes(range(101, 133))
EPHEMERAL_1 = bytes([0x42] * 32)
EPHEMERAL_2 = bytes([0x43] * 32)
SALT = bytes.fromhex("f0e1d2c3b4a5968778695a4b3c2d1e0f")
SCRYPT_PASSPHRASE = "camvault test passphrase"
SCRYPT_WORK_FACTOR = 10
CUSTOM = Stanza("camvault.test/custom", ("arg1", "arg2"), bytes(range(48)))


def pattern(size: int) -> bytes:
    """Deterministic plaintext: byte i is i mod 251."""
    return bytes(i % 251 for i in range(size))


def payload(file_key: bytes, plaintext: bytes) -> bytes:
    out = io.BytesIO()
    _encrypt_payload_from_parts(FileKey(file_key), NONCE, io.BytesIO(plaintext), out)
    return out.getvalue()


def x25519_stanzas(secret: bytes, ephemeral: bytes) -> list[Stanza]:
    recipient = X25519Identity(secret).recipient()
    return recipient._wrap_from_parts(FileKey(FILE_KEY), ephemeral)


def file_vector(
    name: str, description: str, stanzas: list[Stanza], size: int, **extra: Any
) -> dict[str, Any]:
    header = seal_header(stanzas, FileKey(FILE_KEY))
    body = header + payload(FILE_KEY, pattern(size))
    vector: dict[str, Any] = {
        "name": name,
        "description": description,
        "file_key": FILE_KEY.hex(),
        "payload_nonce": NONCE.hex(),
        "plaintext_size": size,
        "plaintext_sha256": hashlib.sha256(pattern(size)).hexdigest(),
        "header": header.decode("ascii"),
        **extra,
    }
    if len(body) <= 4096:
        vector["file_hex"] = body.hex()
        vector["armored"] = armor(body).decode("ascii")
    vector["file_sha256"] = hashlib.sha256(body).hexdigest()
    vector["file_size"] = len(body)
    return vector


def vectors() -> list[dict[str, Any]]:
    alice, bob = X25519Identity(ALICE), X25519Identity(BOB)
    x25519_extra = {
        "identities": [alice.to_text()],
        "recipients": [str(alice.recipient())],
        "ephemeral_secrets": [EPHEMERAL_1.hex()],
    }
    scrypt = ScryptRecipient(SCRYPT_PASSPHRASE, SCRYPT_WORK_FACTOR)
    return [
        file_vector(
            "x25519_short",
            "one X25519 stanza, 37-byte plaintext (one short final chunk)",
            x25519_stanzas(ALICE, EPHEMERAL_1),
            37,
            **x25519_extra,
        ),
        file_vector(
            "x25519_empty",
            "one X25519 stanza, empty plaintext (one empty final chunk)",
            x25519_stanzas(ALICE, EPHEMERAL_1),
            0,
            **x25519_extra,
        ),
        file_vector(
            "x25519_two_devices_and_custom",
            "a custom stanza, then X25519 stanzas for two devices; 65537-byte plaintext",
            [CUSTOM, *x25519_stanzas(ALICE, EPHEMERAL_1), *x25519_stanzas(BOB, EPHEMERAL_2)],
            65537,
            identities=[alice.to_text(), bob.to_text()],
            recipients=[str(alice.recipient()), str(bob.recipient())],
            ephemeral_secrets=[EPHEMERAL_1.hex(), EPHEMERAL_2.hex()],
            custom_stanza={
                "type": CUSTOM.type,
                "args": list(CUSTOM.args),
                "body_b64": b64encode(CUSTOM.body),
            },
        ),
        file_vector(
            "x25519_full_chunk",
            "one X25519 stanza, exactly 65536 bytes (one full final chunk)",
            x25519_stanzas(ALICE, EPHEMERAL_1),
            65536,
            **x25519_extra,
        ),
        file_vector(
            "scrypt",
            "one scrypt stanza (work factor 10), 100-byte plaintext",
            scrypt._wrap_from_parts(FileKey(FILE_KEY), SALT),
            100,
            passphrase=SCRYPT_PASSPHRASE,
            scrypt_salt=SALT.hex(),
            scrypt_work_factor=SCRYPT_WORK_FACTOR,
        ),
    ]


def main() -> None:
    document = {
        "description": (
            "camvault age v1 known-answer vectors (C2SP age spec); generated by "
            "tests/vectors/gen_age.py with fixed keys, ephemeral secrets, salt and nonce"
        ),
        "vectors": vectors(),
    }
    OUT.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
