"""Invariant 1: nothing the storage side holds opens any recording.

After real uploads (and a deletion), dump EVERYTHING the service stores: every row of every
table, every object, the service's environment and settings, and (embedded mode) every file
under its data directory, including the SQLite files and the local store's internal files.
Then:

- no secret of the test world appears in it in any encoding (customer identity and signing
  key, custodian keys, camera keys, the recordings' file keys);
- no text that parses as an age identity, custodian key or Ed25519 signing key is in it;
- every 32-byte window of the dump, taken as an X25519 secret, has a public key that is none
  of the recordings' recipients (customer or custodian): it can open no stanza;
- every 16-byte window of the dump, taken as a file key, fails every recording's header MAC;
- and the detector itself works: planting one file key in the dump is caught.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from pathlib import Path

import nacl.bindings
import sqlalchemy as sa

from crypto.age.format import FILE_KEY_SIZE, FileKey, header_mac_key, parse_header
from crypto.age.x25519 import X25519Identity
from crypto.escrow import CustodianKey
from tests.storage.support import Recording, Service, create_site, iter_objects

SECRET_TEXT = re.compile(
    rb"AGE-SECRET-KEY-1|CAMVAULT-CUSTODIAN-SECRET-KEY-1|ed25519-secret:", re.IGNORECASE
)


def dump(service: Service) -> bytes:
    parts: list[bytes] = []
    engine = service.engine()
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            assert {"recordings", "devices", "sites", "deletion_queue"} <= set(tables)
            for table in tables:
                for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                    for value in row:
                        if isinstance(value, bytes | memoryview):
                            parts.append(bytes(value))
                        elif value is not None:
                            parts.append(str(value).encode())
    finally:
        engine.dispose()
    for _key, data in iter_objects(service.store()):
        parts.append(data)
    settings = service.settings
    for name, value in settings.model_dump().items():
        secret = getattr(value, "get_secret_value", None)
        parts.append(f"{name}={secret() if secret else value}".encode())
    parts.extend(f"{k}={v}".encode() for k, v in service.env.items())
    data_dir = Path(service.env["CAMVAULT_DATA_DIR"])
    if data_dir.exists():
        for f in sorted(data_dir.rglob("*")):
            if f.is_file():
                parts.append(f.read_bytes())
    return b"\n".join(parts)


def encodings(secret: bytes) -> list[bytes]:
    return [
        secret,
        secret.hex().encode(),
        base64.b64encode(secret).rstrip(b"="),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
    ]


def openers(blob: bytes, recipients: set[bytes], recordings: list[Recording]) -> list[str]:
    """Every window of ``blob`` that would open a recording (empty list: none)."""
    found: list[str] = []
    for i in range(len(blob) - 31):
        window = blob[i : i + 32]
        # X25519 clamps the scalar, so this is the public key of the identity "window".
        if nacl.bindings.crypto_scalarmult_base(window) in recipients:
            found.append(f"X25519 identity at offset {i}")
    macs = []
    for r in recordings:
        h = parse_header(r.header)
        macs.append((h.encode_without_mac(), h.mac))
    for i in range(len(blob) - FILE_KEY_SIZE + 1):
        key = header_mac_key(FileKey(blob[i : i + FILE_KEY_SIZE]))
        for body, mac in macs:
            if hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), mac):
                found.append(f"file key at offset {i}")
    return found


def test_nothing_stored_opens_a_recording(service: Service) -> None:
    site = create_site(service.url)
    cams = [site.enroll_camera(), site.enroll_camera()]
    recordings = []
    for cam in cams:
        for i in range(2):
            rec = cam.record(f"plaintext {cam.camera_id} {i}".encode() * 20)
            assert cam.upload(rec).status_code == 201
            recordings.append(rec)
    gone = recordings[0]
    assert site.client.delete(f"{cams[0].base}/recordings/{gone.recording_id}").status_code == 200
    # an open (uncommitted) upload too
    pending = cams[1].record(b"pending" * 10, advance=False)
    assert (
        cams[1].client.post(f"{cams[1].base}/uploads", json=pending.upload_body()).status_code
        == 201
    )

    blob = dump(service)
    assert len(blob) > 1000
    for rec in recordings[1:]:
        assert rec.header in blob and rec.payload in blob  # the dump really holds the recordings
    assert gone.header not in blob  # crypto-shredded

    secrets_ = [_identity_secret(site.identity), site.key.seed] + [c.key.seed for c in cams]
    secrets_ += [r.file_key.data for r in [*recordings, pending]]
    secrets_ += [c.secret_bytes() for c in site.custodians]
    for s in secrets_:
        for form in encodings(s):
            assert form not in blob
    assert SECRET_TEXT.search(blob) is None
    assert site.identity.to_text().encode() not in blob

    recipients = {site.identity.recipient().public_key} | {
        c.public_key().data for c in site.custodians
    }
    assert openers(blob, recipients, recordings[1:]) == []

    # the detector is not vacuous: a planted file key or identity is found
    planted = b"xx" + recordings[1].file_key.data + b"yy"
    assert openers(planted, recipients, recordings[1:]) == ["file key at offset 2"]
    ident_bytes = _identity_secret(site.identity)
    assert openers(ident_bytes, recipients, []) == ["X25519 identity at offset 0"]
    custodian = _custodian_secret(site.custodians[0])
    assert openers(custodian, recipients, []) == ["X25519 identity at offset 0"]
    site.close()


def _identity_secret(identity: X25519Identity) -> bytes:
    from crypto.age.bech32 import decode

    _hrp, data = decode(identity.to_text())
    return data


def _custodian_secret(key: CustodianKey) -> bytes:
    return key.secret_bytes()
