"""Commit of a checksummed multipart upload: the payload is checked without reading it back.

A camera that asks for part checksums (``UploadRequest.part_checksums``, S3 stores) sends
every part with ``x-amz-checksum-sha256``: the store hashes the bytes as they arrive and
refuses a part whose hash differs (it also refuses a part without one: the upload was
created with ``ChecksumAlgorithm=SHA256``). At commit the camera lists each part's ETag and
SHA-256, and :func:`check_parts`:

1. lists the parts the store holds: each listed part must be there with the SHA-256 the
   camera declared (a part replaced after the camera uploaded it, by anyone holding the
   part URLs, has another hash: ``object_hash_mismatch``), and their sizes add up to the
   manifest's ``payload_size``;
2. completes the upload with those SHA-256s (the store checks them again, atomically with
   the completion, so a part replaced between 1 and 2 fails here);
3. reads back the object's size and the composite checksum the store computed (SHA-256 of
   the concatenated part SHA-256s, S3's ``COMPOSITE`` type) and compares them with the
   manifest's size and the camera's list.

The object is then the recording: once a multipart upload is completed its part URLs answer
``NoSuchUpload`` and no URL was ever issued for a PUT of its key (which contains the upload
id), so the bytes checked are the bytes served without a copy. What the service attests is
that the stored bytes are, part by part, those the authenticated camera uploaded and listed;
that they hash to the manifest's ``payload_sha256`` is the camera's signed claim, which every
reader checks before using anything (crypto/recording.py).

A single-PUT upload (the fleet's small segments) does the same with one checksum: a camera
that sends ``UploadRequest.payload_sha256`` (the SHA-256 of the payload, which its manifest
will sign as ``payload_sha256``) gets a PUT URL that signs ``x-amz-checksum-sha256`` with
that value (:func:`checksummed_key`, :meth:`BlobStore.presign_put_checksummed`). The store
refuses a PUT without the header, a PUT of bytes that hash otherwise, and one whose header
names another hash (the signature no longer matches). The upload's object key ends with the
hash, so every URL ever issued for that key can only write those bytes: a PUT after the
commit (the URL stays valid until it expires) rewrites the same bytes. :func:`check_single`
then checks, with one HEAD, that the manifest signs that hash and that the store computed it
from the object it holds, and the object is committed in place: the whole payload's hash, the
one every reader checks, is verified by the store as it arrives.

Uploads without checksums, and the local store, keep the copy-and-hash commit
(services/uploads.py).
"""

from __future__ import annotations

import hashlib
import hmac

from crypto.statements import Manifest
from storage_service.blobstore import (
    BlobStore,
    CompletedPart,
    InvalidMultipart,
    ObjectNotFound,
    UploadNotFound,
)
from storage_service.core.errors import ApiError, Reason
from storage_service.db.models import Upload


def applies(store: BlobStore, u: Upload, parts: list[CompletedPart] | None) -> bool:
    """Whether this commit takes the checksummed path: an S3 multipart upload whose commit
    lists a SHA-256 for every part."""
    return (
        store.part_checksums
        and u.multipart_upload_id is not None
        and bool(parts)
        and all(p.sha256 is not None for p in parts or ())
    )


def composite(parts: list[CompletedPart]) -> str:
    """S3's composite SHA-256 of a completed upload: SHA-256 of the part digests in order."""
    h = hashlib.sha256()
    for p in parts:
        h.update(bytes.fromhex(p.sha256 or ""))
    return h.hexdigest()


def _check_listed(store: BlobStore, u: Upload, m: Manifest, parts: list[CompletedPart]) -> None:
    """Step 1; nothing to do when an earlier attempt of this commit completed the upload."""
    assert u.multipart_upload_id is not None
    try:
        held = {p.part_number: p for p in store.stored_parts(u.object_key, u.multipart_upload_id)}
    except UploadNotFound:
        return
    total = 0
    for p in parts:
        have = held.get(p.part_number)
        if have is None:
            raise ApiError(Reason.MULTIPART_INVALID, f"part {p.part_number} was not uploaded")
        if have.sha256 is None or not hmac.compare_digest(have.sha256, p.sha256 or ""):
            raise ApiError(
                Reason.OBJECT_HASH_MISMATCH,
                f"part {p.part_number}: the store holds bytes whose SHA-256 is not the one "
                "the camera listed (replaced after upload?)",
            )
        total += have.size
    if total != m.payload_size:
        raise ApiError(
            Reason.OBJECT_SIZE_MISMATCH,
            f"the listed parts have {total} bytes, manifest says {m.payload_size}",
        )


def check_parts(store: BlobStore, u: Upload, m: Manifest, parts: list[CompletedPart]) -> None:
    """Steps 1-3 of the module docstring; an ApiError with the reason code otherwise."""
    assert u.multipart_upload_id is not None
    _check_listed(store, u, m, parts)
    try:
        store.complete_multipart(u.object_key, u.multipart_upload_id, parts)
    except InvalidMultipart as exc:
        raise ApiError(
            Reason.OBJECT_HASH_MISMATCH,
            f"the store refused the listed parts and SHA-256s (changed meanwhile?): {exc}",
        ) from None
    except UploadNotFound:
        pass  # completed by an earlier attempt of this commit: check the object below
    try:
        size = store.head(u.object_key).size
        stored = store.composite_sha256(u.object_key)
    except ObjectNotFound:
        raise ApiError(Reason.OBJECT_MISSING, "nothing was uploaded for this recording") from None
    if size != m.payload_size:
        raise ApiError(
            Reason.OBJECT_SIZE_MISMATCH, f"object has {size} bytes, manifest says {m.payload_size}"
        )
    if (
        stored is None
        or stored[1] != len(parts)
        or not hmac.compare_digest(stored[0], composite(parts))
    ):
        raise ApiError(
            Reason.OBJECT_HASH_MISMATCH,
            "the store's checksum of the object is not that of the parts the camera listed",
        )


#: What ends the object key of a single-PUT upload opened with its payload's SHA-256.
_SHA_MARK = ".sha256-"


def checksummed_key(key: str, sha256: str) -> str:
    """The object key of a single-PUT upload that only takes the payload hashing to
    ``sha256`` (hex): the hash is part of the key, so it is fixed for the upload's life."""
    return key + _SHA_MARK + sha256


def key_sha256(key: str) -> str | None:
    """The payload SHA-256 a single-PUT upload's key was opened for (None: no checksum)."""
    head, mark, sha = key.rpartition(_SHA_MARK)
    return sha if mark and head and len(sha) == 64 else None


def single_applies(store: BlobStore, u: Upload) -> bool:
    """Whether this commit takes the checksummed single-PUT path."""
    return (
        store.part_checksums
        and u.multipart_upload_id is None
        and key_sha256(u.object_key) is not None
    )


def check_single(store: BlobStore, u: Upload, m: Manifest) -> None:
    """The object of a checksummed single PUT is the manifest's payload: the manifest signs
    the hash the upload was opened for, and the store computed that hash from the object it
    holds, whose size is the manifest's; an ApiError with the reason code otherwise."""
    sha = key_sha256(u.object_key)
    assert sha is not None
    if not hmac.compare_digest(sha, m.payload_sha256.hex()):
        raise ApiError(
            Reason.MANIFEST_MISMATCH,
            f"manifest payload_sha256 is {m.payload_sha256.hex()!r}, the upload says {sha!r}",
        )
    try:
        stored, size = store.full_sha256(u.object_key)
    except ObjectNotFound:
        raise ApiError(Reason.OBJECT_MISSING, "nothing was uploaded for this recording") from None
    if size != m.payload_size:
        raise ApiError(
            Reason.OBJECT_SIZE_MISMATCH, f"object has {size} bytes, manifest says {m.payload_size}"
        )
    if stored is None or not hmac.compare_digest(stored, sha):
        raise ApiError(
            Reason.OBJECT_HASH_MISMATCH,
            "the store's checksum of the object is not the manifest's payload SHA-256",
        )
