"""crypto.recording.verify_recording and the header stanza cap: each attack a storage service
can try with one recording is refused, for its own reason."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import pytest

import crypto.age.format as fmt
from crypto.age import encrypt_header, encrypt_payload
from crypto.age.format import (
    MAX_STANZAS,
    FileKey,
    Stanza,
    TooManyStanzasError,
    compute_header_mac,
    encode_header,
    encode_header_without_mac,
    parse_header,
    read_header,
)
from crypto.age.x25519 import X25519Identity
from crypto.ed25519 import Ed25519SigningKey
from crypto.encoding import b64encode
from crypto.escrow import MAX_CUSTODIANS
from crypto.metadata import RecordingKind
from crypto.recording import RecordingError, RecordingProblem, VerifiedRecording, verify_recording
from crypto.statements import (
    MAX_RECIPIENTS,
    ChainAnchor,
    Manifest,
    SignedStatement,
    manifest_hash,
    sign_statement,
)

SITE = "site-1"
CAM = "cam-front"
T0 = 1_780_000_000_000
CAMERA = Ed25519SigningKey.generate()
PHONE = X25519Identity.generate()


@dataclass
class Rec:
    signed: SignedStatement
    header: bytes
    payload: bytes
    plaintext: bytes
    file_key: FileKey

    @property
    def anchor(self) -> ChainAnchor:
        m = self.signed.unverified_statement
        assert isinstance(m, Manifest)
        return ChainAnchor(m.sequence, manifest_hash(self.signed))


def sign_manifest(
    header: bytes,
    payload: bytes,
    seq: int,
    prev: bytes | None,
    *,
    key: Ed25519SigningKey = CAMERA,
    site: str = SITE,
    camera: str = CAM,
) -> SignedStatement:
    m = Manifest(
        site_id=site,
        camera_id=camera,
        recording_id=f"rec-{seq}",
        kind=RecordingKind.SEGMENT,
        start_ms=T0 + 10_000 * seq,
        end_ms=T0 + 10_000 * seq + 9_999,
        payload_sha256=hashlib.sha256(payload).digest(),
        payload_size=len(payload),
        header_sha256=hashlib.sha256(header).digest(),
        sequence=seq,
        prev_manifest_sha256=prev,
        issued_at_ms=T0 + 10_000 * seq + 10_500,
    )
    return sign_statement(m, key)


def record(seq: int = 0, prev: bytes | None = None, **kw: Any) -> Rec:
    plaintext = b"segment %d " % seq * 1000
    header, file_key = encrypt_header([PHONE.recipient()])
    out = io.BytesIO()
    encrypt_payload(file_key, io.BytesIO(plaintext), out)
    payload = out.getvalue()
    if prev is None and seq > 0:
        prev = hashlib.sha256(b"some earlier manifest").digest()
    signed = sign_manifest(header, payload, seq, prev, **kw)
    return Rec(signed, header, payload, plaintext, file_key)


def check(
    rec: Rec, header: bytes | None = None, payload: bytes | None = None, **kw: Any
) -> VerifiedRecording:
    args: dict[str, Any] = {"camera_key": CAMERA.public_key, "site_id": SITE, "camera_id": CAM}
    args.update(kw)
    return verify_recording(
        rec.signed,
        rec.header if header is None else header,
        rec.payload if payload is None else payload,
        **args,
    )


def refused(reason: RecordingProblem, rec: Rec, **kw: Any) -> str:
    with pytest.raises(RecordingError) as info:
        check(rec, **kw)
    assert info.value.reason is reason, str(info.value)
    return str(info.value)


# --- accepted -----------------------------------------------------------------------------


def test_a_recording_verifies_with_and_without_a_key() -> None:
    r0 = record(0)
    r1 = record(1, manifest_hash(r0.signed))
    v = check(r0, recording_id="rec-0")
    assert (v.manifest.recording_id, v.rewrapped, v.file_key) == ("rec-0", False, None)
    out = io.BytesIO()
    v1 = check(r1, identities=[PHONE], out=out, previous=v.anchor())
    assert out.getvalue() == r1.plaintext and v1.file_key == r1.file_key
    assert check(r1, file_key=r1.file_key, previous=r0.anchor).manifest.sequence == 1


def test_a_rewrapped_header_is_accepted_only_by_a_holder_of_the_file_key() -> None:
    r = record(0)
    laptop = X25519Identity.generate()
    rewrapped, _ = encrypt_header([laptop.recipient()], file_key=r.file_key)
    out = io.BytesIO()
    assert check(r, header=rewrapped, identities=[laptop], out=out).rewrapped
    assert out.getvalue() == r.plaintext
    refused(RecordingProblem.HEADER_HASH_MISMATCH, r, header=rewrapped)
    refused(RecordingProblem.HEADER_NO_STANZA, r, header=rewrapped, identities=[PHONE])


# --- attacks ------------------------------------------------------------------------------


def test_manifest_signed_by_another_camera() -> None:
    r = record(0, key=Ed25519SigningKey.generate())
    assert "manifest of camera cam-front" in refused(RecordingProblem.MANIFEST_INVALID, r)


def test_manifest_of_another_site_camera_or_recording() -> None:
    msg = refused(RecordingProblem.MANIFEST_WRONG_RECORDING, record(0, site="site-2"))
    assert "site-2/cam-front/rec-0 (substituted)" in msg
    refused(RecordingProblem.MANIFEST_WRONG_RECORDING, record(0, camera="cam-back"))
    refused(RecordingProblem.MANIFEST_WRONG_RECORDING, record(0), recording_id="rec-7")


def test_header_swapped_for_another_recordings() -> None:
    r, other = record(0), record(1)
    refused(RecordingProblem.HEADER_HASH_MISMATCH, r, header=other.header)
    # the device can open the other header, but its file key is not this payload's
    refused(RecordingProblem.HEADER_NOT_OF_PAYLOAD, r, header=other.header, identities=[PHONE])
    # a file key released for this recording does not authenticate the other header
    refused(RecordingProblem.HEADER_MAC_INVALID, r, header=other.header, file_key=r.file_key)


def test_payload_swapped_truncated_or_extended() -> None:
    r, other = record(0), record(1)
    for payload in (other.payload, r.payload[:-1], r.payload + b"\0", r.payload[:-16]):
        msg = refused(RecordingProblem.PAYLOAD_MISMATCH, r, payload=payload, identities=[PHONE])
        assert "payload differs from the signed manifest" in msg
    flipped = r.payload[:-1] + bytes([r.payload[-1] ^ 1])
    refused(RecordingProblem.PAYLOAD_MISMATCH, r, payload=flipped)


def test_chain_gap_and_broken_link() -> None:
    r0 = record(0)
    r1 = record(1, manifest_hash(r0.signed))
    r2 = record(2, manifest_hash(r1.signed))
    assert "expected 1" in refused(RecordingProblem.CHAIN_BROKEN, r2, previous=r0.anchor)
    forged = record(1, hashlib.sha256(b"another manifest").digest())
    refused(RecordingProblem.CHAIN_BROKEN, forged, previous=r0.anchor)
    refused(RecordingProblem.CHAIN_BROKEN, r0, previous=r0.anchor)  # replay of the anchor


def test_altered_header_mac() -> None:
    r = record(0)
    h = parse_header(r.header)
    altered = encode_header(h.stanzas, bytes(32))
    refused(RecordingProblem.HEADER_MAC_INVALID, r, header=altered, identities=[PHONE])


# --- the stanza cap -----------------------------------------------------------------------


def header_of(n: int, file_key: FileKey | None = None) -> bytes:
    """A header of ``n`` empty-bodied stanzas, written by hand (the encoder refuses > cap)."""
    stanzas = b"-> X\n\n" * n
    without_mac = fmt.VERSION_LINE + stanzas + fmt.MAC_MARK
    mac = compute_header_mac(file_key or FileKey(bytes(16)), without_mac)
    return without_mac + b" " + b64encode(mac).encode() + b"\n"


def test_cap_value_has_its_reason() -> None:
    # every customer recipient plus two full escrow sets (X25519 and hybrid side by side)
    assert MAX_STANZAS >= MAX_RECIPIENTS + 2 * MAX_CUSTODIANS
    assert len(parse_header(header_of(MAX_STANZAS)).stanzas) == MAX_STANZAS


def test_header_over_the_cap_is_refused_by_the_client() -> None:
    r = record(0)
    # the camera signed this over-cap header, so nothing but the cap can refuse it
    header = header_of(MAX_STANZAS + 1, r.file_key)
    signed = sign_manifest(header, r.payload, 0, None)
    over = Rec(signed, header, r.payload, r.plaintext, r.file_key)
    msg = refused(RecordingProblem.HEADER_TOO_MANY_STANZAS, over, file_key=r.file_key)
    assert f"more than {MAX_STANZAS} stanzas" in msg
    refused(RecordingProblem.HEADER_TOO_MANY_STANZAS, over)


def test_100000_stanzas_are_refused_before_stanza_cap_plus_one_is_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    header = header_of(100_000)
    assert len(header) < fmt.MAX_HEADER_SIZE  # so the size limit alone would not refuse it
    parsed: list[int] = []
    real = fmt._parse_body

    def counting(lines: fmt._Lines) -> bytes:
        parsed.append(1)
        return real(lines)

    monkeypatch.setattr(fmt, "_parse_body", counting)
    src = io.BytesIO(header)
    with pytest.raises(TooManyStanzasError) as info:
        read_header(src)
    assert info.value.reason == "header_too_many_stanzas"
    assert len(parsed) == MAX_STANZAS  # stanza cap+1 and the 99,871 after it: never parsed
    assert src.tell() == len(fmt.VERSION_LINE) + 6 * MAX_STANZAS + len(b"-> X\n")


def test_the_encoder_never_writes_a_header_over_the_cap() -> None:
    with pytest.raises(TooManyStanzasError):
        encode_header_without_mac([Stanza("X", (), b"")] * (MAX_STANZAS + 1))
    with pytest.raises(ValueError, match="without a key"):
        check(record(0), out=io.BytesIO())
