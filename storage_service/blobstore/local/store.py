"""The local-directory object store: the :class:`BlobStore` interface over :mod:`.fs`
(openat-safe paths, atomic writes), :mod:`.multipart` and :mod:`.presign`."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from storage_service.blobstore.base import (
    RESERVED_SEGMENT_PREFIX,
    BlobReader,
    BlobStore,
    CompletedPart,
    InvalidKey,
    InvalidRange,
    KeyConflict,
    ObjectInfo,
    Readable,
    check_listing,
    check_part_number,
    check_range,
    validate_key,
    validate_sha256,
)
from storage_service.blobstore.local.fs import (
    DIR_FLAGS,
    FileReader,
    SafeRoot,
    copy_fd,
    copy_stream,
    object_info,
    sha256_xattr,
)
from storage_service.blobstore.local.multipart import Multipart
from storage_service.blobstore.local.presign import HmacKey, PresignedGrant, Presigner, QueryParams


def _key_bytes(key: str) -> bytes:
    return key.encode("utf-8", "surrogateescape")


class LocalBlobStore(BlobStore):
    """Objects as files under ``root``; see :mod:`storage_service.blobstore.local` for the
    layout and guarantees."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        presign_base_url: str | None = None,
        presign_key: bytes | None = None,
        presign_expiry_s: int = 900,
    ) -> None:
        self.root = Path(root).absolute()
        self.root.mkdir(parents=True, exist_ok=True)
        self._tree = SafeRoot(self.root)
        self._multipart = Multipart(self._tree)
        self._presigner = Presigner(self._tree, presign_base_url, presign_expiry_s, presign_key)

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    @property
    def presign_base_url(self) -> str | None:
        """Public URL under which the storage service serves ``/blobs`` (no trailing slash)."""
        return self._presigner.base_url

    @presign_base_url.setter
    def presign_base_url(self, value: str | None) -> None:
        self._presigner.base_url = value.rstrip("/") if value else None

    @property
    def presign_expiry_s(self) -> int:
        return self._presigner.expiry_s

    # --- objects ---------------------------------------------------------------------------

    def put(self, key: str, stream: Readable, *, sha256: str | None = None) -> ObjectInfo:
        validate_key(key)
        validate_sha256(sha256)
        *dirs, name = key.split("/")

        def fill(fd: int, digest: hashlib._Hash) -> int:
            return copy_stream(stream, fd, digest)

        return self._tree.write_atomic(dirs, name, key, fill, sha256)

    def get(self, key: str, *, offset: int = 0, length: int | None = None) -> BlobReader:
        check_range(offset, length)
        fd, st = self._tree.open_object(key)
        try:
            if offset > st.st_size:
                raise InvalidRange(f"object {key!r}: offset {offset} beyond its size {st.st_size}")
            available = st.st_size - offset
            size = available if length is None else min(length, available)
            return FileReader(key, fd, offset, size)
        except BaseException:
            os.close(fd)
            raise

    def head(self, key: str) -> ObjectInfo:
        fd, st = self._tree.open_object(key)
        try:
            return object_info(key, st, sha256_xattr(fd))
        finally:
            os.close(fd)

    def copy(self, src: str, dst: str) -> ObjectInfo:
        """A hard link of ``src``'s file under ``dst`` (temporary name + rename, so ``dst``
        changes atomically); a byte copy when the filesystem refuses links.

        The link is independent of ``src`` because this store never writes a file in place:
        every put, presigned PUT and completed multipart upload creates a new file and renames
        it over the name, so a later write to ``src`` replaces ``src``'s directory entry and
        leaves the linked file (and its SHA-256 attribute) as it was."""
        validate_key(dst)
        fd, _st = self._tree.open_object(src)
        try:
            *dirs, name = dst.split("/")
            with self._tree.dirs(dirs, create=True, key=dst) as dfds:
                info = self._tree.link(src, fd, dfds[-1], name, dst)
            if info is not None:
                return info

            def fill(out: int, digest: hashlib._Hash) -> int:
                os.lseek(fd, 0, os.SEEK_SET)
                return copy_fd(fd, out, digest)

            return self._tree.write_atomic(dirs, name, dst, fill, None)
        finally:
            os.close(fd)

    def delete(self, key: str) -> None:
        validate_key(key)
        *dirs, name = key.split("/")
        try:
            with self._tree.dirs(dirs, create=False, key=key) as fds:
                try:
                    os.unlink(name, dir_fd=fds[-1])
                except (FileNotFoundError, IsADirectoryError):
                    return
                os.fsync(fds[-1])
                # Remove directories left empty, deepest first (fails harmlessly when not
                # empty, e.g. a concurrent put's temporary file is there).
                for i in range(len(dirs), 0, -1):
                    try:
                        os.rmdir(dirs[i - 1], dir_fd=fds[i - 1])
                    except OSError:
                        break
        except (FileNotFoundError, KeyConflict):
            return

    def list_objects(
        self, prefix: str = "", *, start_after: str | None = None, page_size: int = 1000
    ) -> Iterator[ObjectInfo]:
        check_listing(prefix, start_after, page_size)
        return self._iter_list(prefix, start_after)

    def _iter_list(self, prefix: str, start_after: str | None) -> Iterator[ObjectInfo]:
        dir_part, _, partial = prefix.rpartition("/")
        dirs = dir_part.split("/") if dir_part else []
        after = _key_bytes(start_after) if start_after is not None else None
        base = dir_part + "/" if dir_part else ""
        try:
            with self._tree.dirs(dirs, create=False, key=prefix) as fds:
                yield from self._walk(fds[-1], base, partial, after)
        except (FileNotFoundError, KeyConflict, InvalidKey):
            return

    def _walk(
        self, dir_fd: int, base: str, partial: str, after: bytes | None
    ) -> Iterator[ObjectInfo]:
        entries: list[tuple[bytes, str, bool]] = []
        with os.scandir(dir_fd) as it:
            for entry in it:
                name = entry.name
                if name.startswith(RESERVED_SEGMENT_PREFIX) or not name.startswith(partial):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    entries.append((_key_bytes(base + name + "/"), name, True))
                elif entry.is_file(follow_symlinks=False):
                    entries.append((_key_bytes(base + name), name, False))
        # Sorting directories as "name/" yields the keys in the byte order of S3 listings.
        entries.sort()
        for sort_key, name, is_dir in entries:
            if is_dir:
                if after is not None and sort_key < after and not after.startswith(sort_key):
                    continue  # every key below sorts before start_after
                try:
                    sub = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
                except OSError:
                    continue  # removed meanwhile
                try:
                    yield from self._walk(sub, base + name + "/", "", after)
                finally:
                    os.close(sub)
                continue
            if after is not None and sort_key <= after:
                continue
            key = base + name
            try:
                validate_key(key)
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except (InvalidKey, OSError):
                continue  # a foreign file name, or removed meanwhile
            if stat.S_ISREG(st.st_mode):
                yield object_info(key, st)

    # --- multipart -------------------------------------------------------------------------

    def create_multipart(self, key: str, *, sha256: str | None = None) -> str:
        return self._multipart.create(key, sha256)

    def upload_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> str:
        return self.upload_part_stream(key, upload_id, part_number, io.BytesIO(data))

    def upload_part_stream(
        self, key: str, upload_id: str, part_number: int, stream: Readable
    ) -> str:
        """Like ``upload_part`` but streaming the part from ``stream`` (used by the HTTP layer
        serving presigned part URLs); returns the part's ETag."""
        return self._multipart.upload_part(key, upload_id, part_number, stream)

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[CompletedPart]
    ) -> ObjectInfo:
        return self._multipart.complete(key, upload_id, parts)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        self._multipart.abort(key, upload_id)

    # --- presigned URLs --------------------------------------------------------------------

    def _key(self) -> HmacKey:
        return self._presigner.key()

    def presign_put(self, key: str, *, expires_s: int | None = None) -> str:
        return self._presigner.presign("PUT", key, expires_s)

    def presign_get(self, key: str, *, expires_s: int | None = None) -> str:
        return self._presigner.presign("GET", key, expires_s)

    def presign_upload_part(
        self, key: str, upload_id: str, part_number: int, *, expires_s: int | None = None
    ) -> str:
        check_part_number(part_number)
        self._multipart.check_open(key, upload_id)
        return self._presigner.presign("PUT", key, expires_s, upload_id, part_number)

    def verify_presigned(
        self, method: str, key: str, query: QueryParams, *, now: float | None = None
    ) -> PresignedGrant:
        """Check a presigned request at ``now`` (default: the current time); see
        :meth:`Presigner.verify`."""
        return self._presigner.verify(method, key, query, time.time() if now is None else now)
