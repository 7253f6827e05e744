"""verify_recording: the one check of a recording (manifest, age header, payload) every client
runs before it trusts or shows anything of it.

The storage service is not trusted (docs/THREAT_MODEL.md, "Storage operator"): it may serve
another recording, another camera's or site's, a truncated or altered payload, a header of
another recording, or leave a recording out of the chain. What a client relies on is the
manifest signed by the camera key pinned for the site, and a key of its own when it has one:

1. the manifest is a ``Manifest`` signed by ``camera_key`` and names the expected site, camera
   and (when given) recording: not another camera's, site's or recording's;
2. the header follows the age grammar and has at most ``MAX_STANZAS`` stanzas;
3. the payload has the manifest's size and SHA-256;
4. with a key (the caller's age identities, or a file key released by the custodians): the
   header's MAC verifies under the file key and the file key opens the payload to its last
   chunk. Without a key the header must be the one the camera wrote (its SHA-256 is the
   manifest's ``header_sha256``). With a key, a header whose hash differs is a re-wrap for a
   new customer device (docs/FORMAT.md part 1, section 6), accepted because of 4, which only a
   holder of the recording's file key can meet;
5. with ``previous`` (the chain anchor the caller already verified), the manifest is the next
   one: sequence ``previous.sequence + 1`` linking to ``previous.manifest_hash``.

Pure: bytes in, a :class:`VerifiedRecording` or a :class:`RecordingError` out (its ``reason``
is the code clients show); the plaintext goes to a caller-supplied stream when asked for.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, BinaryIO

from crypto.age.api import Identity, decrypt_header
from crypto.age.format import FileKey, Header, TooManyStanzasError, compute_header_mac, parse_header
from crypto.age.stream import decrypt_payload
from crypto.ed25519 import Ed25519PublicKey
from crypto.errors import CryptoError, NoIdentityMatchError, StatementError
from crypto.statements import ChainAnchor, Manifest, SignedStatement, verify
from crypto.statements.devices import DeviceKeys


class RecordingProblem(StrEnum):
    """Why a recording was refused: the reason code clients show."""

    MANIFEST_INVALID = "manifest_invalid"  # not a manifest, or not signed by the camera key
    MANIFEST_WRONG_RECORDING = "manifest_wrong_recording"  # another site's/camera's/recording's
    HEADER_MALFORMED = "header_malformed"  # not an age v1 header
    HEADER_TOO_MANY_STANZAS = "header_too_many_stanzas"  # more than MAX_STANZAS stanzas
    HEADER_HASH_MISMATCH = "header_hash_mismatch"  # not the camera's header, no key to prove more
    HEADER_NO_STANZA = "header_no_stanza_for_key"  # none of the caller's identities opens it
    HEADER_MAC_INVALID = "header_mac_invalid"  # altered header, or a file key of another one
    HEADER_NOT_OF_PAYLOAD = "header_not_of_payload"  # its file key does not open the payload
    PAYLOAD_MISMATCH = "payload_mismatch"  # size or SHA-256 differs from the manifest's
    CHAIN_BROKEN = "chain_broken"  # not the manifest right after the caller's anchor
    DEVICE_REVOKED = "device_revoked"  # signed by a camera key at/after its revocation


class RecordingError(CryptoError):
    """A recording refused; ``reason`` says why, the message says what differs."""

    def __init__(self, reason: RecordingProblem, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VerifiedRecording:
    manifest: Manifest
    manifest_hash: bytes  # what the next manifest of the camera links to
    header: Header
    rewrapped: bool  # the header is not the camera's own; bound by the file key instead
    file_key: FileKey | None  # the key that opened header and payload, when one was given

    def anchor(self) -> ChainAnchor:
        """This recording as the anchor the next one is verified against."""
        return ChainAnchor(self.manifest.sequence, self.manifest_hash)


class _Discard(io.BytesIO):
    """A sink for plaintext the caller does not want: decrypting still authenticates."""

    def write(self, b: bytes | bytearray | memoryview, /) -> int:  # type: ignore[override]
        return memoryview(b).nbytes


def _check_manifest(
    signed: SignedStatement,
    camera_key: Ed25519PublicKey | DeviceKeys,
    site_id: str,
    camera_id: str,
    recording_id: str | None,
) -> Manifest:
    rid = recording_id or "recording"
    keys = DeviceKeys.of(camera_key)
    try:
        m = verify(signed, keys.key_for(signed), Manifest)
    except (StatementError, ValueError, TypeError) as exc:
        raise RecordingError(
            RecordingProblem.MANIFEST_INVALID, f"{rid}: manifest of camera {camera_id}: {exc}"
        ) from exc
    revoked_from = keys.revoked_at(signed.signer, m.issued_at_ms)
    if revoked_from is not None:
        raise RecordingError(
            RecordingProblem.DEVICE_REVOKED,
            f"{rid}: manifest signed at {m.issued_at_ms} by a key of camera {camera_id} the "
            f"customer revoked from {revoked_from} (a stolen camera's key?)",
        )
    if (m.site_id, m.camera_id) != (site_id, camera_id) or recording_id not in (
        None,
        m.recording_id,
    ):
        raise RecordingError(
            RecordingProblem.MANIFEST_WRONG_RECORDING,
            f"{rid}: the service served, for camera {camera_id}, the manifest of "
            f"{m.site_id}/{m.camera_id}/{m.recording_id} (substituted)",
        )
    return m


def _check_chain(m: Manifest, previous: ChainAnchor) -> None:
    rid = m.recording_id
    if m.sequence != previous.sequence + 1:
        raise RecordingError(
            RecordingProblem.CHAIN_BROKEN,
            f"{rid}: manifest sequence {m.sequence}, expected {previous.sequence + 1} "
            "(a gap or a replay in the camera's chain)",
        )
    if m.prev_manifest_sha256 is None or not hmac.compare_digest(
        m.prev_manifest_sha256, previous.manifest_hash
    ):
        raise RecordingError(
            RecordingProblem.CHAIN_BROKEN,
            f"{rid}: manifest sequence {m.sequence} does not link to the previous manifest",
        )


def _parse(header_bytes: bytes, where: str) -> Header:
    try:
        return parse_header(header_bytes)
    except TooManyStanzasError as exc:
        raise RecordingError(
            RecordingProblem.HEADER_TOO_MANY_STANZAS, f"{where}: header: {exc} (tampered)"
        ) from exc
    except CryptoError as exc:
        raise RecordingError(
            RecordingProblem.HEADER_MALFORMED, f"{where}: header: {exc} (tampered)"
        ) from exc


def _open_header(
    header: Header,
    header_bytes: bytes,
    identities: Sequence[Identity],
    file_key: FileKey | None,
    where: str,
) -> FileKey:
    if file_key is not None:
        mac = compute_header_mac(file_key, header.encode_without_mac())
        if not hmac.compare_digest(mac, header.mac):
            raise RecordingError(
                RecordingProblem.HEADER_MAC_INVALID,
                f"{where}: header: header MAC mismatch (tampered, or not this recording's)",
            )
        return file_key
    try:
        return decrypt_header(list(identities), header_bytes)[1]
    except NoIdentityMatchError as exc:
        raise RecordingError(
            RecordingProblem.HEADER_NO_STANZA,
            f"{where}: the header served has no stanza for this device (another site's or "
            "recording's header, or one from before add-device re-wrapped it)",
        ) from exc
    except CryptoError as exc:
        raise RecordingError(
            RecordingProblem.HEADER_MAC_INVALID, f"{where}: header: {exc} (tampered)"
        ) from exc


def verify_recording(
    manifest: SignedStatement,
    header: bytes,
    payload: bytes,
    *,
    camera_key: Ed25519PublicKey | DeviceKeys,
    site_id: str,
    camera_id: str,
    recording_id: str | None = None,
    previous: ChainAnchor | None = None,
    identities: Sequence[Identity] = (),
    file_key: FileKey | None = None,
    out: BinaryIO | None = None,
) -> VerifiedRecording:
    """Checks 1-5 of the module docstring; RecordingError at the first that fails.

    ``camera_key`` is the key pinned for ``camera_id`` of ``site_id`` (its DeviceEnrollment,
    verified under the site key), or its :class:`DeviceKeys` with the keys the customer
    revoked: a manifest signed by one at or after its revocation is ``device_revoked``.
    A key for check 4 is ``file_key`` or, failing that, ``identities``; with one, the
    plaintext goes to ``out`` (discarded without one).
    """
    if out is not None and file_key is None and not identities:
        raise ValueError("verify_recording: plaintext asked for without a key")
    m = _check_manifest(manifest, camera_key, site_id, camera_id, recording_id)
    rid = m.recording_id
    where = f"{rid} (camera {camera_id})"
    parsed = _parse(header, where)
    if len(payload) != m.payload_size or not hmac.compare_digest(
        hashlib.sha256(payload).digest(), m.payload_sha256
    ):
        raise RecordingError(
            RecordingProblem.PAYLOAD_MISMATCH,
            f"{rid}: payload differs from the signed manifest (tampered or substituted): "
            f"{len(payload)} bytes served, {m.payload_size} signed by camera {camera_id}",
        )
    if previous is not None:
        _check_chain(m, previous)
    own = hmac.compare_digest(hashlib.sha256(header).digest(), m.header_sha256)
    key: FileKey | None = None
    if file_key is not None or identities:
        key = _open_header(parsed, header, identities, file_key, where)
        try:
            decrypt_payload(key, io.BytesIO(payload), out or _Discard())
        except CryptoError as exc:
            raise RecordingError(
                RecordingProblem.HEADER_NOT_OF_PAYLOAD,
                f"{where}: the header's file key does not open the payload the camera signed "
                f"(a header of another recording?): {exc}",
            ) from exc
    elif not own:
        raise RecordingError(
            RecordingProblem.HEADER_HASH_MISMATCH,
            f"{where}: the header differs from the one the camera signed (another "
            "recording's, or altered)",
        )
    return VerifiedRecording(m, manifest.statement_hash(), parsed, not own, key)


class _Hashing(io.RawIOBase):
    """Reads ``src`` through SHA-256 and a byte count (the payload as it streams in)."""

    def __init__(self, src: BinaryIO) -> None:
        super().__init__()
        self.src = src
        self.sha = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = self.src.readinto(view)  # type: ignore[attr-defined]
        if n:
            self.sha.update(view[:n])
            self.size += n
        return n or 0

    def drain(self) -> None:
        buf = bytearray(1 << 20)
        while self.readinto(buf):
            pass


def verify_recording_stream(
    manifest: SignedStatement,
    header: bytes,
    payload: BinaryIO,
    *,
    camera_key: Ed25519PublicKey | DeviceKeys,
    site_id: str,
    camera_id: str,
    recording_id: str | None = None,
    identities: Sequence[Identity] = (),
    file_key: FileKey | None = None,
    out: BinaryIO,
) -> VerifiedRecording:
    """:func:`verify_recording` of a payload read as it arrives (a download), decrypted
    chunk by chunk into ``out`` while its SHA-256 is computed: memory stays constant.

    The checks and their reason codes are those of :func:`verify_recording`, in the same
    precedence (a payload that differs from the manifest is ``payload_mismatch`` even when
    decrypting it failed first). Unlike it, ``out`` receives plaintext before the payload's
    hash is known: on any error its content is unverified and the caller must discard it
    (write to a temporary file, rename it only after this returns).
    """
    if file_key is None and not identities:
        raise ValueError("verify_recording_stream: plaintext asked for without a key")
    m = _check_manifest(manifest, camera_key, site_id, camera_id, recording_id)
    rid = m.recording_id
    where = f"{rid} (camera {camera_id})"
    src = _Hashing(payload)

    def payload_ok() -> None:
        src.drain()
        if src.size != m.payload_size or not hmac.compare_digest(
            src.sha.digest(), m.payload_sha256
        ):
            raise RecordingError(
                RecordingProblem.PAYLOAD_MISMATCH,
                f"{rid}: payload differs from the signed manifest (tampered or substituted): "
                f"{src.size} bytes served, {m.payload_size} signed by camera {camera_id}",
            )

    parsed = _parse(header, where)
    try:
        key = _open_header(parsed, header, identities, file_key, where)
    except RecordingError:
        payload_ok()
        raise
    try:
        decrypt_payload(key, src, out)  # type: ignore[arg-type]
    except CryptoError as exc:
        payload_ok()
        raise RecordingError(
            RecordingProblem.HEADER_NOT_OF_PAYLOAD,
            f"{where}: the header's file key does not open the payload the camera signed "
            f"(a header of another recording?): {exc}",
        ) from exc
    payload_ok()
    own = hmac.compare_digest(hashlib.sha256(header).digest(), m.header_sha256)
    return VerifiedRecording(m, manifest.statement_hash(), parsed, not own, key)
