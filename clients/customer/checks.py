"""One recording as the storage service serves it, checked before anything is written.

The service is not trusted (docs/THREAT_MODEL.md, "Storage operator"): it may serve another
recording, another site's, a truncated or altered payload, or a header of another recording
under the id asked for. What the customer's client relies on is the camera-signed manifest
and its own identity, checked by :func:`crypto.recording.verify_recording` (the one check every
client runs): the manifest is signed by the camera key the customer enrolled and names this
site, camera and recording; the header is age v1 within the stanza cap; the payload has the
manifest's size and SHA-256; the header opens for this device and its file key opens the
payload. A header that is not the one first written (its hash is not the manifest's) is a
re-wrap for a new customer device, accepted only because this device's key opens it and the
payload.

Every failure is a :class:`SubstitutedError` naming the recording, what differs and the
reason code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO

from clients.api.errors import ClientError
from clients.common import signed_from_json
from crypto.age import Identity
from crypto.ed25519 import Ed25519PublicKey
from crypto.errors import CryptoError
from crypto.recording import RecordingError, verify_recording, verify_recording_stream
from crypto.statements import DeviceKeys, Manifest


class SubstitutedError(ClientError):
    """What the service served is not the recording its camera signed for."""


def check_recording(
    manifest_json: Any,
    header: bytes,
    payload: bytes,
    *,
    identities: list[Identity],
    camera_key: Ed25519PublicKey | DeviceKeys,
    site_id: str,
    camera_id: str,
    recording_id: str,
    out: BinaryIO | None = None,
) -> Manifest:
    """verify_recording with this device's identities; the plaintext goes to ``out``
    (discarded without one), written only once manifest, payload and header passed."""
    return _checked(
        verify_recording,
        manifest_json,
        header,
        payload,
        camera_key=camera_key,
        site_id=site_id,
        camera_id=camera_id,
        recording_id=recording_id,
        identities=identities,
        out=out,
    )


def check_recording_stream(
    manifest_json: Any,
    header: bytes,
    payload: BinaryIO,
    *,
    identities: list[Identity],
    camera_key: Ed25519PublicKey | DeviceKeys,
    site_id: str,
    camera_id: str,
    recording_id: str,
    out: BinaryIO,
) -> Manifest:
    """:func:`check_recording` of a payload read as it downloads, decrypted into ``out`` as
    it arrives (crypto.recording.verify_recording_stream): ``out`` holds unverified
    plaintext until this returns, so the caller keeps it under a temporary name."""
    return _checked(
        verify_recording_stream,
        manifest_json,
        header,
        payload,
        camera_key=camera_key,
        site_id=site_id,
        camera_id=camera_id,
        recording_id=recording_id,
        identities=identities,
        out=out,
    )


def _checked(
    verify: Callable[..., Any],
    manifest_json: Any,
    header: bytes,
    payload: bytes | BinaryIO,
    *,
    camera_id: str,
    recording_id: str,
    **kwargs: Any,
) -> Manifest:
    """Parse the served manifest and run ``verify`` on it; every failure a SubstitutedError."""
    try:
        signed = signed_from_json(manifest_json)
    except (CryptoError, ValueError, TypeError) as exc:
        raise SubstitutedError(f"{recording_id}: manifest of camera {camera_id}: {exc}") from exc
    try:
        result = verify(
            signed, header, payload, camera_id=camera_id, recording_id=recording_id, **kwargs
        )
    except RecordingError as exc:
        raise SubstitutedError(f"{exc}; reason: {exc.reason}") from exc
    manifest: Manifest = result.manifest
    return manifest
