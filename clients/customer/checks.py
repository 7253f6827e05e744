"""One recording as the storage service serves it, checked before anything is written.

The service is not trusted (docs/THREAT_MODEL.md, "Storage operator"): it may serve another
recording, another site's, a truncated or altered payload, or a header of another recording
under the id asked for. What the customer's client relies on is the camera-signed manifest
and its own identity:

1. the manifest is signed by the camera key the customer enrolled and names this site,
   camera and recording (the ids asked for, not the ones the service says it answered);
2. the payload has the manifest's size and SHA-256;
3. the header opens for this device (one of its stanzas unwraps, the MAC verifies);
4. the header's file key opens the payload, to its last chunk. A header that is not the one
   first written (its hash is not the manifest's) is a re-wrap for a new customer device;
   it is accepted only because of 3 and 4, which only a holder of the file key can meet.

Every failure is a :class:`SubstitutedError` naming the recording and what differs.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any, BinaryIO

from clients.api.errors import ClientError
from clients.common import signed_from_json
from crypto.age import Identity, decrypt_header
from crypto.age.format import FileKey
from crypto.age.stream import decrypt_payload
from crypto.ed25519 import Ed25519PublicKey
from crypto.errors import CryptoError, NoIdentityMatchError
from crypto.statements import Manifest


class SubstitutedError(ClientError):
    """What the service served is not the recording its camera signed for."""


def signed_manifest(
    manifest_json: Any, camera_key: Ed25519PublicKey, site_id: str, camera_id: str, rid: str
) -> Manifest:
    """The manifest served for ``camera_id``/``rid``, checked (1)."""
    try:
        m = signed_from_json(manifest_json).verify(camera_key, Manifest)
    except (CryptoError, ValueError, TypeError) as exc:
        raise SubstitutedError(f"{rid}: manifest of camera {camera_id}: {exc}") from exc
    if (m.site_id, m.camera_id, m.recording_id) != (site_id, camera_id, rid):
        raise SubstitutedError(
            f"{rid}: the service served, for camera {camera_id}, the manifest of "
            f"{m.site_id}/{m.camera_id}/{m.recording_id} (substituted)"
        )
    return m


def open_header(identities: list[Identity], header: bytes, where: str) -> FileKey:
    """The file key of a served header (3)."""
    try:
        return decrypt_header(identities, header)[1]
    except NoIdentityMatchError as exc:
        raise SubstitutedError(
            f"{where}: the header served has no stanza for this device (another site's or "
            "recording's header, or one from before add-device re-wrapped it)"
        ) from exc
    except CryptoError as exc:
        raise SubstitutedError(f"{where}: header: {exc} (tampered)") from exc


def check_recording(
    manifest_json: Any,
    header: bytes,
    payload: bytes,
    *,
    identities: list[Identity],
    camera_key: Ed25519PublicKey,
    site_id: str,
    camera_id: str,
    recording_id: str,
    out: BinaryIO | None = None,
) -> Manifest:
    """Checks 1-4; the plaintext goes to ``out`` (discarded without one) once 1-3 passed."""
    where = f"{recording_id} (camera {camera_id})"
    m = signed_manifest(manifest_json, camera_key, site_id, camera_id, recording_id)
    if len(payload) != m.payload_size or hashlib.sha256(payload).digest() != m.payload_sha256:
        raise SubstitutedError(
            f"{recording_id}: payload differs from the signed manifest (tampered or "
            f"substituted): {len(payload)} bytes served, {m.payload_size} signed by camera "
            f"{camera_id}"
        )
    file_key = open_header(identities, header, where)
    try:
        decrypt_payload(file_key, io.BytesIO(payload), out or io.BytesIO())
    except CryptoError as exc:
        raise SubstitutedError(
            f"{where}: the header's file key does not open the payload the camera signed "
            f"(a header of another recording?): {exc}"
        ) from exc
    return m
