"""crypto.recording.verify_recording_stream: the download's check, the payload read as it
arrives and decrypted chunk by chunk. Each attack of tests/crypto/test_recording.py, and the
ones a stream adds (truncated, extended or altered mid-stream, after plaintext already went
out), is refused for its own reason; the reason wins over a decryption that failed first.
The stream variant always decrypts (a key is required) and takes no chain anchor, so
``header_hash_mismatch`` and ``chain_broken`` are not its codes: the first is replaced by the
file key's proof (a re-wrapped header is accepted), the second is checked by ``verify``.

What a caller must do with ``out`` on failure (discard it) is tested end to end in
tests/clients/test_transfer_memory.py (the customer's download leaves no file)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import pytest

from crypto.age import encrypt_header, encrypt_payload
from crypto.age.format import MAX_STANZAS, FileKey, encode_header, parse_header
from crypto.age.stream import CHUNK_SIZE
from crypto.age.x25519 import X25519Identity
from crypto.ed25519 import Ed25519SigningKey
from crypto.recording import (
    RecordingError,
    RecordingProblem,
    VerifiedRecording,
    verify_recording_stream,
)
from crypto.statements import Manifest, SignedStatement
from crypto.statements.devices import DeviceKeys
from tests.crypto.test_recording import CAM, CAMERA, PHONE, SITE, T0, header_of, sign_manifest

#: Payload chunks of the recordings here: enough that a failure mid-stream comes after
#: plaintext of earlier chunks was written out.
CHUNKS = 5


@dataclass
class Rec:
    signed: SignedStatement
    header: bytes
    payload: bytes
    plaintext: bytes
    file_key: FileKey


def record(seq: int = 0, **kw: Any) -> Rec:
    plaintext = (b"segment %d " % seq) * (CHUNKS * CHUNK_SIZE // 10)
    header, file_key = encrypt_header([PHONE.recipient()])
    out = io.BytesIO()
    encrypt_payload(file_key, io.BytesIO(plaintext), out)
    payload = out.getvalue()
    prev = hashlib.sha256(b"some earlier manifest").digest() if seq else None
    signed = sign_manifest(header, payload, seq, prev, **kw)
    return Rec(signed, header, payload, plaintext, file_key)


class Trickle(io.RawIOBase):
    """A network download: ``readinto`` returns at most ``step`` bytes at a time, and the
    test sees how much was read."""

    def __init__(self, data: bytes, step: int = 7001) -> None:
        super().__init__()
        self.data, self.pos, self.step = data, 0, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = min(len(view), self.step, len(self.data) - self.pos)
        view[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n


def check(
    rec: Rec,
    *,
    header: bytes | None = None,
    payload: bytes | None = None,
    out: io.BytesIO | None = None,
    **kw: Any,
) -> VerifiedRecording:
    args: dict[str, Any] = {"camera_key": CAMERA.public_key, "site_id": SITE, "camera_id": CAM}
    if "file_key" not in kw:
        args["identities"] = [PHONE]
    args.update(kw)
    return verify_recording_stream(
        rec.signed,
        rec.header if header is None else header,
        Trickle(rec.payload if payload is None else payload),  # type: ignore[arg-type]
        out=io.BytesIO() if out is None else out,
        **args,
    )


def refused(reason: RecordingProblem, rec: Rec, **kw: Any) -> str:
    with pytest.raises(RecordingError) as info:
        check(rec, **kw)
    assert info.value.reason is reason, str(info.value)
    return str(info.value)


# --- accepted -----------------------------------------------------------------------------


def test_a_recording_streams_through_with_identities_or_a_released_file_key() -> None:
    r = record(0)
    assert len(r.payload) > CHUNKS * CHUNK_SIZE  # several chunks, read 7001 bytes at a time
    out = io.BytesIO()
    v = check(r, out=out, recording_id="rec-0")
    assert out.getvalue() == r.plaintext
    assert (v.manifest.recording_id, v.rewrapped, v.file_key) == ("rec-0", False, r.file_key)
    assert v.manifest_hash == r.signed.statement_hash()
    out = io.BytesIO()
    assert check(r, out=out, file_key=r.file_key).file_key == r.file_key
    assert out.getvalue() == r.plaintext


def test_a_rewrapped_header_is_accepted_by_a_holder_of_the_file_key() -> None:
    r = record(0)
    laptop = X25519Identity.generate()
    rewrapped, _ = encrypt_header([laptop.recipient()], file_key=r.file_key)
    out = io.BytesIO()
    assert check(r, header=rewrapped, identities=[laptop], out=out).rewrapped
    assert out.getvalue() == r.plaintext
    refused(RecordingProblem.HEADER_NO_STANZA, r, header=rewrapped)  # PHONE is not in it


def test_no_key_is_a_programming_error_not_a_verdict() -> None:
    r = record(0)
    with pytest.raises(ValueError, match="without a key"):
        verify_recording_stream(
            r.signed,
            r.header,
            io.BytesIO(r.payload),
            camera_key=CAMERA.public_key,
            site_id=SITE,
            camera_id=CAM,
            out=io.BytesIO(),
        )


# --- the payload, attacked mid-stream ---------------------------------------------------------


def test_payload_truncated_mid_stream() -> None:
    r = record(0)
    boundary = CHUNK_SIZE + 16  # right after the first whole chunk and its tag
    for payload in (r.payload[:boundary], r.payload[: 2 * CHUNK_SIZE], r.payload[:-1], b""):
        out = io.BytesIO()
        msg = refused(RecordingProblem.PAYLOAD_MISMATCH, r, payload=payload, out=out)
        assert f"{len(payload)} bytes served, {len(r.payload)} signed" in msg
    # what went out before the end was found short (as much as the decryptor had decrypted)
    # is plaintext the caller must discard
    out = io.BytesIO()
    refused(RecordingProblem.PAYLOAD_MISMATCH, r, payload=r.payload[:-1], out=out)
    assert r.plaintext.startswith(out.getvalue()) and len(out.getvalue()) < len(r.plaintext)


def test_payload_extended() -> None:
    r = record(0)
    other = record(1)
    for tail in (b"\0", bytes(CHUNK_SIZE + 16), other.payload):
        msg = refused(RecordingProblem.PAYLOAD_MISMATCH, r, payload=r.payload + tail)
        assert f"{len(r.payload) + len(tail)} bytes served" in msg  # read to its very end


@pytest.mark.parametrize("where", [0, CHUNK_SIZE // 2, 2 * CHUNK_SIZE + 100, -1])
def test_payload_bit_flipped(where: int) -> None:
    r = record(0)
    flipped = bytearray(r.payload)
    flipped[where] ^= 0x10
    out = io.BytesIO()
    refused(RecordingProblem.PAYLOAD_MISMATCH, r, payload=bytes(flipped), out=out)
    # the chunks before the flipped one were decrypted (authentic chunks of this file key,
    # but the whole is not what the camera signed): out is discarded by the caller
    assert r.plaintext.startswith(out.getvalue())
    assert len(out.getvalue()) <= (where % len(r.payload)) // (CHUNK_SIZE + 16) * CHUNK_SIZE


def test_payload_of_another_recording() -> None:
    r, other = record(0), record(1)
    refused(RecordingProblem.PAYLOAD_MISMATCH, r, payload=other.payload)
    # reordered chunks: the age STREAM nonce counter refuses them, the hash names why
    c = CHUNK_SIZE + 16
    swapped = r.payload[c : 2 * c] + r.payload[:c] + r.payload[2 * c :]
    refused(RecordingProblem.PAYLOAD_MISMATCH, r, payload=swapped)


def test_a_tampered_payload_is_payload_mismatch_even_with_a_wrong_header() -> None:
    """Precedence: the header refused first (wrong key, MAC) still reads and hashes the
    payload, and a payload that is not the camera's is named as such."""
    r, other = record(0), record(1)
    bad = r.payload[:-1]
    refused(RecordingProblem.PAYLOAD_MISMATCH, r, header=other.header, payload=bad)
    stranger = X25519Identity.generate()
    refused(RecordingProblem.PAYLOAD_MISMATCH, r, payload=bad, identities=[stranger])
    refused(RecordingProblem.PAYLOAD_MISMATCH, r, payload=bad, file_key=other.file_key)


# --- the header -----------------------------------------------------------------------------


def test_header_of_another_recording() -> None:
    r, other = record(0), record(1)
    out = io.BytesIO()
    msg = refused(RecordingProblem.HEADER_NOT_OF_PAYLOAD, r, header=other.header, out=out)
    assert "does not open the payload the camera signed" in msg
    assert out.getvalue() == b""  # the first chunk already fails: nothing decrypted
    refused(RecordingProblem.HEADER_MAC_INVALID, r, header=other.header, file_key=r.file_key)


def test_header_for_another_device_altered_or_malformed() -> None:
    r = record(0)
    stranger, _ = encrypt_header([X25519Identity.generate().recipient()])
    refused(RecordingProblem.HEADER_NO_STANZA, r, header=stranger)
    altered = encode_header(parse_header(r.header).stanzas, bytes(32))
    refused(RecordingProblem.HEADER_MAC_INVALID, r, header=altered)
    refused(RecordingProblem.HEADER_MAC_INVALID, r, header=altered, file_key=r.file_key)
    refused(RecordingProblem.HEADER_MALFORMED, r, header=b"age-encryption.org/v2\n")
    refused(RecordingProblem.HEADER_MALFORMED, r, header=r.header[:-5])


def test_header_over_the_stanza_cap() -> None:
    r = record(0)
    header = header_of(MAX_STANZAS + 1, r.file_key)
    over = Rec(sign_manifest(header, r.payload, 0, None), header, r.payload, b"", r.file_key)
    refused(RecordingProblem.HEADER_TOO_MANY_STANZAS, over, file_key=r.file_key)


# --- the manifest ---------------------------------------------------------------------------


def test_manifest_signed_by_another_key_or_for_another_recording() -> None:
    out = io.BytesIO()
    refused(RecordingProblem.MANIFEST_INVALID, record(0, key=Ed25519SigningKey.generate()), out=out)
    assert out.getvalue() == b""
    refused(RecordingProblem.MANIFEST_WRONG_RECORDING, record(0, site="site-2"))
    refused(RecordingProblem.MANIFEST_WRONG_RECORDING, record(0, camera="cam-back"))
    refused(RecordingProblem.MANIFEST_WRONG_RECORDING, record(0), recording_id="rec-9")


def test_manifest_signed_by_a_revoked_key() -> None:
    stolen = Ed25519SigningKey.generate()
    r = record(3, key=stolen)
    issued = T0 + 10_000 * 3 + 10_500  # sign_manifest's issued_at_ms for sequence 3
    keys = DeviceKeys(CAMERA.public_key, {stolen.public_key: issued})
    out = io.BytesIO()
    msg = refused(RecordingProblem.DEVICE_REVOKED, r, camera_key=keys, out=out)
    assert "revoked" in msg and out.getvalue() == b""
    # signed before the revocation: still the camera's
    earlier = DeviceKeys(CAMERA.public_key, {stolen.public_key: issued + 1})
    assert check(r, camera_key=earlier).manifest.sequence == 3


def test_payload_hash_is_of_the_bytes_served() -> None:
    """Control for the mismatch tests: the manifest's hash is SHA-256 of the payload."""
    r = record(0)
    m = r.signed.unverified_statement
    assert isinstance(m, Manifest) and m.payload_sha256 == hashlib.sha256(r.payload).digest()
