"""Recording upload: presigned URLs to the object store, then a checked commit.

1. ``request_upload``: the camera announces the recording (id, kind, times, payload size) and
   gets one presigned PUT URL, or one presigned URL per part of a multipart upload. The
   payload never passes through the API. One open upload per recording: asking again with the
   same parameters returns the same upload (fresh URLs), unless a commit completed its
   multipart upload and died before recording it (then a new upload replaces it); the object
   key contains the upload id, so an expired upload being swept never touches a newer one.
2. ``commit``: the camera sends the age header and its signed Manifest. Checks, cheapest
   first: manifest signature under the enrolled camera key; manifest facts == the upload's;
   header grammar and SHA-256 == ``header_sha256``; the chain (``sequence`` == last + 1,
   ``prev_manifest_sha256`` == hash of the last manifest); the staging object (multipart
   completed, exists, size). The object is then copied inside the store to a fresh key that
   no presigned URL covers (``.../<recording_id>/rec-<random>``), and the copy's size and
   SHA-256 (streamed unless the store computed it itself) are checked: the bytes checked are
   the bytes served, whatever a holder of the still-valid upload URLs writes later. Before
   copying, the copy is queued for deletion as an intent (services/deletion.py): a crash
   before the recording is stored cannot leave it behind; storing it removes the intent. The
   recording row, the camera's chain head, the removal of the upload row and queueing the
   staging object for deletion are one transaction; the upload row must still exist (if the
   sweeper expired it meanwhile, its object is already queued: ``upload_expired``, nothing
   committed), and the chain head moves with a compare-and-set, so concurrent commits of
   one camera cannot both win. A failed attempt deletes its copy.

A multipart upload opened with part checksums, or a single PUT opened with its payload's
SHA-256 (S3 stores), is committed without the copy and without reading the payload back:
services/part_checksums.py.

Commit is idempotent: the same manifest again returns the stored recording; another manifest
for an existing recording id is a conflict.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from common.time import now_ms
from crypto.ed25519 import Ed25519PublicKey
from crypto.statements import Manifest, SignedStatement, manifest_hash, verify
from storage_service.blobstore import (
    BlobStore,
    BlobStoreError,
    CompletedPart,
    InvalidMultipart,
    LocalBlobStore,
    ObjectNotFound,
    UploadNotFound,
)
from storage_service.blobstore.base import MAX_COPY_SIZE, MAX_PART_NUMBER
from storage_service.core.errors import ApiError, Reason
from storage_service.core.metrics import COMMITS, COMMITTED_BYTES
from storage_service.core.settings import Settings
from storage_service.core.statements import parse_statement, statement_refusals
from storage_service.db.engine import session_scope
from storage_service.db.models import DeletionQueue, Device, Recording, Upload
from storage_service.schemas.recordings import CommitRequest, PartURL, UploadOut, UploadRequest
from storage_service.services import part_checksums
from storage_service.services.deletion import enqueue, intend, take_intent
from storage_service.services.devices import get_camera
from storage_service.services.headers import decode_header
from storage_service.services.sites import get_site

DEFAULT_PART_SIZE = 64 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024**3
HASH_CHUNK = 1024 * 1024


def object_key(site_id: str, camera_id: str, recording_id: str, upload_id: str) -> str:
    return f"sites/{site_id}/cameras/{camera_id}/{recording_id}/{upload_id}"


def _part_count(size: int, part_size: int) -> int:
    return max(1, math.ceil(size / part_size))


def _urls(store: BlobStore, u: Upload, checksums: bool = False) -> UploadOut:
    if u.multipart_upload_id is None:
        sha = part_checksums.key_sha256(u.object_key) if store.part_checksums else None
        return UploadOut(
            upload_id=u.id,
            mode="single",
            expires_ms=u.expires_ms,
            put_url=store.presign_put_checksummed(u.object_key, sha)
            if sha
            else store.presign_put(u.object_key),
            payload_checksum="sha256" if sha else None,
        )
    part_size = u.part_size or DEFAULT_PART_SIZE
    parts = [
        PartURL(
            part_number=n,
            url=store.presign_upload_part(u.object_key, u.multipart_upload_id, n),
        )
        for n in range(1, _part_count(u.payload_size, part_size) + 1)
    ]
    return UploadOut(
        upload_id=u.id,
        mode="multipart",
        expires_ms=u.expires_ms,
        part_size=part_size,
        parts=parts,
        part_checksum="sha256" if checksums else None,
    )


def _same_request(
    u: Upload, req: UploadRequest, part_size: int | None, payload_sha256: str | None
) -> bool:
    return (
        (u.kind, u.start_ms, u.end_ms, u.payload_size)
        == (req.kind.value, req.start_ms, req.end_ms, req.payload_size)
        and (u.multipart_upload_id is not None) == req.multipart
        and (not req.multipart or u.part_size == part_size)
        and part_checksums.key_sha256(u.object_key) == payload_sha256
    )


def request_upload(
    engine: Engine,
    store: BlobStore,
    settings: Settings,
    site_id: str,
    camera_id: str,
    req: UploadRequest,
) -> tuple[UploadOut, bool]:
    if req.end_ms < req.start_ms:
        raise ApiError(Reason.INVALID_RANGE, "end_ms is before start_ms")
    checksums = req.multipart and req.part_checksums and store.part_checksums
    if req.part_checksums and not req.multipart:
        raise ApiError(Reason.MULTIPART_INVALID, "part_checksums is only for multipart uploads")
    if req.payload_sha256 is not None and req.multipart:
        raise ApiError(Reason.MULTIPART_INVALID, "payload_sha256 is only for single uploads")
    single_sha = req.payload_sha256 if store.part_checksums else None
    limit = settings.max_recording_bytes
    if not isinstance(store, LocalBlobStore) and not checksums:
        # commit copies the payload with one CopyObject request (at most 5 GiB)
        limit = min(limit, MAX_COPY_SIZE)
    if req.payload_size > limit:
        raise ApiError(Reason.RECORDING_TOO_LARGE, f"payload larger than {limit} bytes")
    part_size: int | None = None
    if req.multipart:
        part_size = req.part_size or DEFAULT_PART_SIZE
        if not settings.min_part_size <= part_size <= MAX_PART_SIZE:
            raise ApiError(
                Reason.MULTIPART_INVALID,
                f"part_size must be {settings.min_part_size}..{MAX_PART_SIZE} bytes",
            )
        if _part_count(req.payload_size, part_size) > MAX_PART_NUMBER:
            raise ApiError(Reason.MULTIPART_INVALID, f"more than {MAX_PART_NUMBER} parts")
    elif req.part_size is not None:
        raise ApiError(Reason.MULTIPART_INVALID, "part_size is only for multipart uploads")
    now = now_ms()
    with Session(engine) as s:
        get_camera(s, site_id, camera_id)
        rec = s.exec(_recording_query(site_id, camera_id, req.recording_id)).first()
        if rec is not None:
            raise ApiError(Reason.RECORDING_COMMITTED, "this recording is already committed")
        existing = s.exec(_upload_query(site_id, camera_id, req.recording_id)).first()
    if existing is not None:
        if existing.expires_ms > now and not _completed(store, existing):
            if not _same_request(existing, req, part_size, single_sha):
                raise ApiError(
                    Reason.UPLOAD_CONFLICT,
                    "an upload of this recording is open with other parameters",
                )
            return _urls(store, existing, checksums), False
        _drop_upload(engine, existing.id, now)
    upload_id = secrets.token_hex(16)
    key = object_key(site_id, camera_id, req.recording_id, upload_id)
    if single_sha is not None:
        key = part_checksums.checksummed_key(key, single_sha)
    mp_id = None
    if checksums:
        mp_id = store.create_checksummed_multipart(key)
    elif req.multipart:
        mp_id = store.create_multipart(key)
    u = Upload(
        id=upload_id,
        site_id=site_id,
        camera_id=camera_id,
        recording_id=req.recording_id,
        kind=req.kind.value,
        start_ms=req.start_ms,
        end_ms=req.end_ms,
        payload_size=req.payload_size,
        object_key=key,
        multipart_upload_id=mp_id,
        part_size=part_size,
        created_ms=now,
        expires_ms=now + settings.upload_expiry_s * 1000,
    )
    try:
        with session_scope(engine) as s:
            s.add(u)
            s.flush()
            s.expunge(u)
    except IntegrityError:
        if mp_id is not None:
            store.abort_multipart(key, mp_id)
        raise ApiError(
            Reason.UPLOAD_CONFLICT, "another upload of this recording was just opened"
        ) from None
    return _urls(store, u, checksums), True


def _completed(store: BlobStore, u: Upload) -> bool:
    """Whether a commit completed this multipart upload and then died before recording it:
    its part URLs answer 404 from then on, so it is replaced rather than handed out again."""
    return u.multipart_upload_id is not None and store.exists(u.object_key)


def _recording_query(site_id: str, camera_id: str, recording_id: str) -> SelectOfScalar[Recording]:
    return select(Recording).where(
        col(Recording.site_id) == site_id,
        col(Recording.camera_id) == camera_id,
        col(Recording.recording_id) == recording_id,
    )


def _upload_query(site_id: str, camera_id: str, recording_id: str) -> SelectOfScalar[Upload]:
    return select(Upload).where(
        col(Upload.site_id) == site_id,
        col(Upload.camera_id) == camera_id,
        col(Upload.recording_id) == recording_id,
    )


def _drop_upload(engine: Engine, upload_id: str, now: int) -> None:
    """Delete an upload row and queue its object (and multipart upload) for removal, only if
    this DELETE removed it (a concurrent commit or sweep may have taken it)."""
    with session_scope(engine) as s:
        u = s.get(Upload, upload_id)
        if u is None:
            return
        taken = s.execute(sa.delete(Upload).where(col(Upload.id) == upload_id))
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            enqueue(s, u.object_key, u.multipart_upload_id, now)


# --- commit ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Committed:
    recording: Recording
    created: bool


def _check_manifest(signed: SignedStatement, camera: Device) -> Manifest:
    with statement_refusals("manifest"):
        return verify(signed, Ed25519PublicKey.from_text(camera.device_key), Manifest)


def _check_facts(m: Manifest, u: Upload) -> None:
    want = {
        "site_id": u.site_id,
        "camera_id": u.camera_id,
        "recording_id": u.recording_id,
        "kind": u.kind,
        "start_ms": u.start_ms,
        "end_ms": u.end_ms,
        "payload_size": u.payload_size,
    }
    have = {k: m.to_json()[k] for k in want}
    for k, v in want.items():
        if have[k] != v:
            raise ApiError(
                Reason.MANIFEST_MISMATCH, f"manifest {k} is {have[k]!r}, the upload says {v!r}"
            )


def _decode_header(text: str, settings: Settings, m: Manifest) -> bytes:
    header = decode_header(text, settings.max_header_bytes)
    if not hmac.compare_digest(hashlib.sha256(header).digest(), m.header_sha256):
        raise ApiError(
            Reason.HEADER_HASH_MISMATCH, "SHA-256 of the header differs from the manifest's"
        )
    return header


def _check_chain(m: Manifest, camera: Device) -> None:
    expected = 0 if camera.last_sequence is None else camera.last_sequence + 1
    if m.sequence != expected:
        raise ApiError(
            Reason.MANIFEST_CHAIN_BROKEN,
            f"manifest sequence {m.sequence}, expected {expected}",
            details={"expected_sequence": expected},
        )
    if m.sequence > 0 and (
        camera.last_manifest_sha256 is None
        or m.prev_manifest_sha256 is None
        or not hmac.compare_digest(m.prev_manifest_sha256, camera.last_manifest_sha256)
    ):
        raise ApiError(
            Reason.MANIFEST_CHAIN_BROKEN,
            "prev_manifest_sha256 is not the hash of this camera's last manifest",
            details={"expected_sequence": expected},
        )


def _object_sha256(store: BlobStore, key: str) -> str:
    digest = hashlib.sha256()
    with store.get(key) as reader:
        for chunk in reader.iter_chunks(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_staging(
    store: BlobStore, u: Upload, m: Manifest, parts: list[CompletedPart] | None
) -> None:
    """Complete a multipart upload and check that the staging object has the manifest's
    size (cheap); its bytes are checked on the committed copy (:func:`_check_copy`)."""
    if u.multipart_upload_id is not None:
        if not parts:
            raise ApiError(Reason.MULTIPART_INVALID, "a multipart commit lists its parts and ETags")
        try:
            store.complete_multipart(u.object_key, u.multipart_upload_id, parts)
        except InvalidMultipart as exc:
            raise ApiError(Reason.MULTIPART_INVALID, str(exc)) from None
        except UploadNotFound:
            pass  # completed by an earlier attempt of this commit: check the object below
    elif parts:
        raise ApiError(Reason.MULTIPART_INVALID, "this upload is not multipart")
    try:
        info = store.head(u.object_key)
    except ObjectNotFound:
        raise ApiError(Reason.OBJECT_MISSING, "nothing was uploaded for this recording") from None
    _check_size(info.size, m)


def _check_size(size: int, m: Manifest) -> None:
    if size != m.payload_size:
        raise ApiError(
            Reason.OBJECT_SIZE_MISMATCH, f"object has {size} bytes, manifest says {m.payload_size}"
        )


def _committed_key(u: Upload) -> str:
    """A fresh key for the committed payload, next to the staging object. No presigned URL
    was ever issued for it (upload URLs name ``.../<upload_id>``), and it is unique per commit
    attempt, so an attempt that loses can delete its own copy without touching a winner's."""
    return f"sites/{u.site_id}/cameras/{u.camera_id}/{u.recording_id}/rec-{secrets.token_hex(16)}"


def _check_copy(store: BlobStore, key: str, m: Manifest) -> None:
    """Size and SHA-256 of the committed copy: the bytes that will be served."""
    try:
        info = store.head(key)
        _check_size(info.size, m)
        # Only the local store computes the digest itself; S3 metadata is the uploader's claim.
        sha = info.sha256 if isinstance(store, LocalBlobStore) and info.sha256 else None
        if sha is None:
            sha = _object_sha256(store, key)
    except ObjectNotFound:
        raise ApiError(
            Reason.OBJECT_MISSING, "the committed copy of the payload vanished"
        ) from None
    if not hmac.compare_digest(sha, m.payload_sha256.hex()):
        raise ApiError(
            Reason.OBJECT_HASH_MISMATCH, "SHA-256 of the object differs from the manifest's"
        )


def _discard(engine: Engine, store: BlobStore, key: str, intent: int) -> None:
    """Remove the copy of a commit attempt that failed (nothing references it), then its
    intent row: a refused commit leaves nothing behind. When the store refuses right now,
    the intent row stays and the sweeper removes the copy later."""
    try:
        store.delete(key)
    except BlobStoreError:
        return
    with contextlib.suppress(SQLAlchemyError), session_scope(engine) as s:
        take_intent(s, intent, now_ms())


def _store_commit(
    engine: Engine,
    u: Upload,
    m: Manifest,
    signed: SignedStatement,
    header: bytes,
    final_key: str,
    intent: int | None,
    prev: int | None,
) -> Recording:
    """One transaction: take the upload (it must still exist: the sweeper or a newer upload
    request may have removed it, and queued its object, while the payload was checked) and
    the copy's intent (not yet due), move the chain head with a compare-and-set from
    ``prev`` (the head :func:`_check_chain` saw), store the recording, queue the staging
    object. Without ``intent`` the recording is the staging object itself (a checksummed
    multipart upload, services/part_checksums.py): nothing is queued."""
    m_hash = manifest_hash(signed)
    now = now_ms()
    with session_scope(engine) as s:
        if intent is not None and not take_intent(s, intent, now):
            raise ApiError(Reason.UPLOAD_EXPIRED, "the commit took too long; commit again")
        taken = s.execute(sa.delete(Upload).where(col(Upload.id) == u.id))
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise ApiError(
                Reason.UPLOAD_EXPIRED,
                "this upload expired while it was being committed; upload again",
            )
        cond = (
            col(Device.last_sequence).is_(None)
            if prev is None
            else col(Device.last_sequence) == prev
        )
        moved = s.execute(
            sa.update(Device)
            .where(col(Device.site_id) == u.site_id, col(Device.device_id) == u.camera_id, cond)
            .values(last_sequence=m.sequence, last_manifest_sha256=m_hash)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise ApiError(
                Reason.MANIFEST_CHAIN_BROKEN, "another manifest of this camera was committed first"
            )
        rec = Recording(
            site_id=u.site_id,
            camera_id=u.camera_id,
            recording_id=u.recording_id,
            kind=m.kind.value,
            start_ms=m.start_ms,
            end_ms=m.end_ms,
            payload_size=m.payload_size,
            payload_sha256=m.payload_sha256,
            sequence=m.sequence,
            manifest=signed.encode(),
            manifest_sha256=m_hash,
            header=header,
            object_key=final_key,
            committed_ms=now,
        )
        s.add(rec)
        if final_key != u.object_key:
            enqueue(s, u.object_key, None, now)
        s.flush()
        s.refresh(rec)
        s.expunge(rec)
    return rec


def commit(
    engine: Engine,
    store: BlobStore,
    settings: Settings,
    site_id: str,
    camera_id: str,
    recording_id: str,
    req: CommitRequest,
) -> Committed:
    signed = parse_statement(req.manifest, "manifest")
    m_hash = manifest_hash(signed) if isinstance(signed.unverified_statement, Manifest) else None
    with Session(engine) as s:
        get_site(s, site_id)
        camera = get_camera(s, site_id, camera_id)
        rec = s.exec(_recording_query(site_id, camera_id, recording_id)).first()
        if rec is not None:
            if m_hash is not None and hmac.compare_digest(rec.manifest_sha256, m_hash):
                return Committed(rec, False)
            raise ApiError(
                Reason.RECORDING_CONFLICT, "this recording was committed with another manifest"
            )
        u = s.get(Upload, req.upload_id)
    if u is None or (u.site_id, u.camera_id, u.recording_id) != (site_id, camera_id, recording_id):
        raise ApiError(Reason.UPLOAD_NOT_FOUND, "no such upload for this recording")
    if u.expires_ms <= now_ms():
        raise ApiError(Reason.UPLOAD_EXPIRED, "this upload expired; request a new one")
    m = _check_manifest(signed, camera)
    _check_facts(m, u)
    header = _decode_header(req.header, settings, m)
    _check_chain(m, camera)
    parts = (
        [CompletedPart(p.part_number, p.etag, p.sha256) for p in req.parts] if req.parts else None
    )
    if parts is not None and part_checksums.applies(store, u, parts):
        part_checksums.check_parts(store, u, m, parts)
        return _commit_in_place(engine, store, u, m, signed, header, camera.last_sequence)
    if parts is None and part_checksums.single_applies(store, u):
        part_checksums.check_single(store, u, m)
        return _commit_in_place(engine, store, u, m, signed, header, camera.last_sequence)
    if parts is not None:
        parts = [CompletedPart(p.part_number, p.etag) for p in parts]
    _check_staging(store, u, m, parts)
    # The presigned PUT URLs of the upload stay valid for presign_expiry_s: the recording
    # gets a server-side copy under a key no URL covers, and that copy is what is hashed.
    final_key = _committed_key(u)
    intent = intend(engine, final_key, now_ms())
    try:
        store.copy(u.object_key, final_key)
        _check_copy(store, final_key, m)
        rec = _store_commit(engine, u, m, signed, header, final_key, intent, camera.last_sequence)
    except BaseException as exc:
        _discard(engine, store, final_key, intent)
        if isinstance(exc, ObjectNotFound):
            raise ApiError(
                Reason.OBJECT_MISSING, "nothing was uploaded for this recording"
            ) from None
        lost = isinstance(exc, IntegrityError) or (
            isinstance(exc, ApiError) and exc.code == Reason.UPLOAD_EXPIRED
        )
        if not lost:
            raise
        # A concurrent attempt of this same commit may have taken the upload first.
        with Session(engine) as s:
            again = s.exec(_recording_query(site_id, camera_id, recording_id)).first()
        if again is not None and hmac.compare_digest(again.manifest_sha256, manifest_hash(signed)):
            return Committed(again, False)
        if isinstance(exc, ApiError):
            raise
        raise ApiError(
            Reason.RECORDING_CONFLICT, "a concurrent commit stored this recording"
        ) from None
    _remove_staging(engine, store, u.object_key)
    COMMITS.inc()
    COMMITTED_BYTES.inc(m.payload_size)
    return Committed(rec, True)


def _commit_in_place(
    engine: Engine,
    store: BlobStore,
    u: Upload,
    m: Manifest,
    signed: SignedStatement,
    header: bytes,
    prev: int | None,
) -> Committed:
    """Store a recording whose checked object is the completed upload itself (no copy to
    discard on failure: a refused or lost commit leaves the upload for a retry, or for the
    sweeper once it expires)."""
    try:
        rec = _store_commit(engine, u, m, signed, header, u.object_key, None, prev)
    except (IntegrityError, ApiError) as exc:
        if isinstance(exc, ApiError) and exc.code != Reason.UPLOAD_EXPIRED:
            raise
        with Session(engine) as s:
            again = s.exec(_recording_query(u.site_id, u.camera_id, u.recording_id)).first()
        if again is not None and hmac.compare_digest(again.manifest_sha256, manifest_hash(signed)):
            return Committed(again, False)
        if isinstance(exc, ApiError):
            raise
        raise ApiError(
            Reason.RECORDING_CONFLICT, "a concurrent commit stored this recording"
        ) from None
    COMMITS.inc()
    COMMITTED_BYTES.inc(m.payload_size)
    return Committed(rec, True)


def _remove_staging(engine: Engine, store: BlobStore, key: str) -> None:
    """Delete the staging object of a committed upload now rather than at the next sweep; its
    queue entry (written by the commit transaction, so a crash loses nothing) goes with it.
    If the store refuses, the entry stays for the sweeper."""
    try:
        store.delete(key)
    except BlobStoreError:
        return
    with session_scope(engine) as s:
        s.execute(
            sa.delete(DeletionQueue).where(
                col(DeletionQueue.object_key) == key,
                col(DeletionQueue.multipart_upload_id).is_(None),
            )
        )
