"""Multipart uploads of the local store: ``.camvault/uploads/<upload id>/meta.json`` (the
key and announced SHA-256) and ``part-NNNNN`` files, concatenated into the object on
completion with the same atomic write as a put."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Sequence

from storage_service.blobstore.base import (
    MAX_KEY_BYTES,
    MIN_PART_SIZE,
    BlobStoreError,
    CompletedPart,
    InvalidMultipart,
    KeyConflict,
    ObjectInfo,
    Readable,
    UploadNotFound,
    check_completed_parts,
    check_part_number,
    normalize_etag,
    validate_key,
    validate_sha256,
)
from storage_service.blobstore.local.fs import (
    DIR_FLAGS,
    INTERNAL_DIR,
    READ_FLAGS,
    SafeRoot,
    copy_fd,
    copy_stream,
    sha256_fd,
    sha256_xattr,
)

UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_UPLOADS = (INTERNAL_DIR, "uploads")


class Multipart:
    """The multipart uploads under ``tree``."""

    def __init__(self, tree: SafeRoot) -> None:
        self.tree = tree

    def create(self, key: str, sha256: str | None) -> str:
        validate_key(key)
        validate_sha256(sha256)
        upload_id = secrets.token_hex(16)
        meta = json.dumps({"key": key, "sha256": sha256}).encode()

        def fill(fd: int, digest: hashlib._Hash) -> int:
            os.write(fd, meta)
            return len(meta)

        self.tree.write_atomic([*_UPLOADS, upload_id], "meta.json", key, fill, None)
        return upload_id

    def open(self, key: str, upload_id: str) -> tuple[int, dict[str, str | None]]:
        """Open the directory of an upload of ``key``: (fd, meta); UploadNotFound otherwise."""
        validate_key(key)
        missing = UploadNotFound(f"no multipart upload {upload_id!r} of {key!r}")
        if not isinstance(upload_id, str) or not UPLOAD_ID.fullmatch(upload_id):
            raise missing
        try:
            with self.tree.dirs(_UPLOADS, create=False, key=key) as fds:
                up_fd = os.open(upload_id, DIR_FLAGS, dir_fd=fds[-1])
        except (FileNotFoundError, KeyConflict):
            raise missing from None
        try:
            fd = os.open("meta.json", READ_FLAGS, dir_fd=up_fd)
            with os.fdopen(fd, "rb") as fh:
                meta = json.loads(fh.read(4 * MAX_KEY_BYTES))
        except (OSError, ValueError):
            os.close(up_fd)
            raise missing from None
        if not isinstance(meta, dict) or meta.get("key") != key:
            os.close(up_fd)
            raise missing
        return up_fd, meta

    def check_open(self, key: str, upload_id: str) -> None:
        """UploadNotFound unless ``upload_id`` is an upload of ``key`` in progress."""
        os.close(self.open(key, upload_id)[0])

    def upload_part(self, key: str, upload_id: str, part_number: int, stream: Readable) -> str:
        check_part_number(part_number)
        self.check_open(key, upload_id)
        info = self.tree.write_atomic(
            [*_UPLOADS, upload_id],
            f"part-{part_number:05d}",
            key,
            lambda fd, digest: copy_stream(stream, fd, digest),
            None,
        )
        if info.sha256 is None:  # pragma: no cover (always set by write_atomic)
            raise BlobStoreError("part digest missing")
        return info.sha256[:32]

    def complete(self, key: str, upload_id: str, parts: Sequence[CompletedPart]) -> ObjectInfo:
        up_fd, meta = self.open(key, upload_id)
        fds: list[int] = []
        try:
            check_completed_parts(parts)
            for i, part in enumerate(parts):
                fds.append(_open_part(up_fd, part, last=i == len(parts) - 1))

            def fill(out: int, digest: hashlib._Hash) -> int:
                total = 0
                for src in fds:
                    os.lseek(src, 0, os.SEEK_SET)
                    total += copy_fd(src, out, digest)
                return total

            *dirs, name = key.split("/")
            info = self.tree.write_atomic(dirs, name, key, fill, meta.get("sha256"))
            _remove_upload_dir(up_fd)
        finally:
            for fd in fds:
                os.close(fd)
            os.close(up_fd)
        self._rmdir(upload_id)
        return info

    def abort(self, key: str, upload_id: str) -> None:
        try:
            up_fd, _meta = self.open(key, upload_id)
        except UploadNotFound:
            return
        try:
            _remove_upload_dir(up_fd)
        finally:
            os.close(up_fd)
        self._rmdir(upload_id)

    def _rmdir(self, upload_id: str) -> None:
        with (
            contextlib.suppress(OSError, BlobStoreError),
            self.tree.dirs(_UPLOADS, create=False, key="upload") as fds,
        ):
            os.rmdir(upload_id, dir_fd=fds[-1])


def _open_part(up_fd: int, part: CompletedPart, *, last: bool) -> int:
    """Open an uploaded part whose size and ETag are what completion needs."""
    try:
        fd = os.open(f"part-{part.part_number:05d}", READ_FLAGS, dir_fd=up_fd)
    except FileNotFoundError:
        raise InvalidMultipart(f"part {part.part_number} was not uploaded") from None
    try:
        size = os.fstat(fd).st_size
        if not last and size < MIN_PART_SIZE:
            raise InvalidMultipart(
                f"part {part.part_number} is {size} bytes; every part but "
                f"the last must be at least {MIN_PART_SIZE}"
            )
        have = (sha256_xattr(fd) or sha256_fd(fd))[:32]
        if not hmac.compare_digest(have, normalize_etag(part.etag)):
            raise InvalidMultipart(f"part {part.part_number}: ETag does not match")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _remove_upload_dir(up_fd: int) -> None:
    for name in os.listdir(up_fd):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=up_fd)
