"""The local-directory object store (embedded default).

Layout under the root directory ``<blob_dir>``::

    <key segments as directories>/<last segment>   one regular file per object
    .camvault/presign.key                          32-byte HMAC key of the presigned URLs
    .camvault/uploads/<upload id>/meta.json        a multipart upload in progress
    .camvault/uploads/<upload id>/part-NNNNN       its parts
    <any directory>/.camvault-tmp-<random>         a write in progress (never listed)

Safety: every path is opened component by component relative to the parent's directory
descriptor with ``O_NOFOLLOW`` (``openat``), so no key (``..`` is refused anyway) and no symbolic
link placed inside the root can make the store read or write outside it.

Atomicity (a reader sees the old object or the whole new one, never a part): data goes into
a temporary file in the destination directory, which is fsync'ed, renamed over the final
name, and then the directory is fsync'ed. A put that fails or is interrupted by an exception
removes its temporary file; one killed outright leaves an invisible ``.camvault-tmp-*`` file.

Presigned URLs: ``<presign_base_url>/<quoted key>?expires=<unix time>&sig=<HMAC>`` (and
``uploadId``/``partNumber`` for multipart parts), where the HMAC-SHA256 under the store's
presign key covers a domain label, the HTTP method, the key, the expiry and the part. The
storage service's HTTP layer checks them with :meth:`LocalBlobStore.verify_presigned`;
:mod:`storage_service.blobstore.local_http` is a minimal server doing exactly that.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from storage_service.blobstore.base import (
    MAX_KEY_BYTES,
    MIN_PART_SIZE,
    READ_CHUNK_SIZE,
    RESERVED_SEGMENT_PREFIX,
    BlobReader,
    BlobStore,
    BlobStoreError,
    ChecksumMismatch,
    CompletedPart,
    InvalidKey,
    InvalidMultipart,
    InvalidRange,
    KeyConflict,
    ObjectInfo,
    ObjectNotFound,
    PresignedURLRefused,
    Readable,
    UploadNotFound,
    check_listing,
    check_part_number,
    check_range,
    clamp_expiry,
    normalize_etag,
    validate_key,
    validate_sha256,
)

INTERNAL_DIR = RESERVED_SEGMENT_PREFIX  # ".camvault" at the root
TEMP_PREFIX = RESERVED_SEGMENT_PREFIX + "-tmp-"
XATTR_SHA256 = "user.camvault.sha256"
PRESIGN_LABEL = b"camvault/v1/local-presign"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_EXPIRES = re.compile(r"[0-9]{1,12}")


class _HmacKey:
    """The presign HMAC key; never printed."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("presign key must be at least 32 bytes")
        self._key = bytes(key)

    def mac(self, message: bytes) -> bytes:
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "<presign key: redacted>"


@dataclass(frozen=True, slots=True)
class PresignedGrant:
    """What a verified presigned URL allows: ``method`` ("GET" also covers HEAD, "PUT") on
    ``key``, or a PUT of part ``part_number`` of ``upload_id``, until ``expires`` (Unix time)."""

    method: str
    key: str
    expires: int
    upload_id: str | None = None
    part_number: int | None = None


def _utc(ts_ns: int) -> datetime:
    return datetime.fromtimestamp(ts_ns / 1e9, UTC)


def _etag(st: os.stat_result) -> str:
    # Every write is a new inode (rename of a new file), so inode + size + mtime changes with
    # every overwrite, like nginx's ETags; it is opaque to callers.
    return f"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"


def _key_bytes(key: str) -> bytes:
    return key.encode("utf-8", "surrogateescape")


class _FileReader(BlobReader):
    def __init__(self, key: str, fd: int, offset: int, size: int) -> None:
        super().__init__(key, size)
        self._fd: int | None = fd
        os.lseek(fd, offset, os.SEEK_SET)
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, offset, size, os.POSIX_FADV_SEQUENTIAL)

    def _readinto(self, view: memoryview) -> int:
        if self._fd is None:
            raise ValueError("I/O operation on closed blob reader")
        try:
            return os.readv(self._fd, [view])
        except OSError as exc:
            raise BlobStoreError(f"reading object {self.key!r}: {exc.strerror}") from exc

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
        super().close()


def _copy_stream(stream: Readable, fd: int, digest: hashlib._Hash) -> int:
    size = 0
    while True:
        data = stream.read(READ_CHUNK_SIZE)
        if data is None:
            raise BlobStoreError("source stream is non-blocking and has no data ready")
        if not data:
            return size
        digest.update(data)
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            raise _io_error("writing", exc) from exc
        size += len(data)


class LocalBlobStore(BlobStore):
    """Objects as files under ``root``; see the module docstring for layout and guarantees."""

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
        #: Public URL under which the storage service serves ``/blobs`` (no trailing slash).
        self.presign_base_url = presign_base_url.rstrip("/") if presign_base_url else None
        self.presign_expiry_s = clamp_expiry(presign_expiry_s, 7 * 24 * 3600)
        self._hmac_key = _HmacKey(presign_key) if presign_key is not None else None

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    # --- directory walking (openat + O_NOFOLLOW) --------------------------------------------

    @contextmanager
    def _dirs(self, segments: Sequence[str], *, create: bool, key: str) -> Iterator[list[int]]:
        """Open the root and then each directory segment below it; yield the descriptors.

        Raises FileNotFoundError when a directory is missing and ``create`` is false,
        :class:`KeyConflict` when a segment is a file, :class:`InvalidKey` on a symlink.
        """
        fds: list[int] = []
        try:
            try:
                fds.append(os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
                for seg in segments:
                    try:
                        fds.append(os.open(seg, _DIR_FLAGS, dir_fd=fds[-1]))
                    except FileNotFoundError:
                        if not create:
                            raise
                        with contextlib.suppress(FileExistsError):
                            os.mkdir(seg, 0o700, dir_fd=fds[-1])
                            os.fsync(fds[-1])
                        fds.append(os.open(seg, _DIR_FLAGS, dir_fd=fds[-1]))
            except OSError as exc:
                failed = len(fds) - 1  # index of the segment that did not open
                # O_DIRECTORY | O_NOFOLLOW on a symlink fails with ENOTDIR (Linux) or ELOOP.
                if exc.errno == errno.ELOOP or (
                    exc.errno == errno.ENOTDIR
                    and 0 <= failed < len(segments)
                    and _is_symlink(segments[failed], fds[-1])
                ):
                    raise InvalidKey(
                        f"key {key!r} crosses a symbolic link inside the store directory"
                    ) from None
                if exc.errno == errno.ENOTDIR:
                    raise KeyConflict(
                        f"key {key!r}: a parent segment is an object, not a directory"
                    ) from None
                if isinstance(exc, FileNotFoundError):
                    raise
                raise _io_error(f"directories of {key!r}", exc) from exc
            yield fds
        finally:
            for fd in reversed(fds):
                os.close(fd)

    def _open_object(self, key: str) -> tuple[int, os.stat_result]:
        """Open an object for reading: (fd, stat). ObjectNotFound if missing / not a file."""
        validate_key(key)
        *dirs, name = key.split("/")
        try:
            with self._dirs(dirs, create=False, key=key) as fds:
                fd = os.open(name, _READ_FLAGS, dir_fd=fds[-1])
        except (FileNotFoundError, KeyConflict):
            raise ObjectNotFound(f"no object {key!r}") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidKey(
                    f"key {key!r} is a symbolic link inside the store directory"
                ) from None
            raise BlobStoreError(f"opening object {key!r}: {exc.strerror}") from exc
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise ObjectNotFound(f"no object {key!r}")
        return fd, st

    @staticmethod
    def _sha256_xattr(fd: int) -> str | None:
        try:
            value = os.getxattr(fd, XATTR_SHA256).decode("ascii", "replace")
        except OSError:
            return None
        try:
            return validate_sha256(value)
        except ValueError:
            return None

    # --- atomic write ----------------------------------------------------------------------

    def _write_atomic(
        self,
        dir_segments: Sequence[str],
        name: str,
        key: str,
        fill: Callable[[int, hashlib._Hash], int],
        expected_sha256: str | None,
    ) -> ObjectInfo:
        """Create ``name`` in the directory ``dir_segments`` from ``fill(fd, digest) -> size``:
        temp file + write + fsync + rename + fsync(dir)."""
        for attempt in range(3):
            with self._dirs(dir_segments, create=True, key=key) as fds:
                dir_fd = fds[-1]
                tmp = TEMP_PREFIX + secrets.token_hex(8)
                try:
                    fd = os.open(
                        tmp,
                        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                        0o600,
                        dir_fd=dir_fd,
                    )
                except FileNotFoundError as exc:
                    # The directory was removed by a concurrent delete of its last object
                    # between opening it and creating the file: walk (and create) again.
                    if attempt == 2:
                        raise _io_error(f"creating {key!r}", exc) from exc
                    continue
                except OSError as exc:
                    raise _io_error(f"creating {key!r}", exc) from exc
                return self._fill_and_rename(dir_fd, fd, tmp, name, key, fill, expected_sha256)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fill_and_rename(
        self,
        dir_fd: int,
        fd: int,
        tmp: str,
        name: str,
        key: str,
        fill: Callable[[int, hashlib._Hash], int],
        expected_sha256: str | None,
    ) -> ObjectInfo:
        try:
            try:
                digest = hashlib.sha256()
                fill(fd, digest)
                sha = digest.hexdigest()
                if expected_sha256 is not None and not hmac.compare_digest(sha, expected_sha256):
                    raise ChecksumMismatch(
                        f"object {key!r}: content has SHA-256 {sha}, "
                        f"not the announced {expected_sha256}; nothing stored"
                    )
                with contextlib.suppress(OSError):  # filesystems without user xattrs
                    os.setxattr(fd, XATTR_SHA256, sha.encode("ascii"))
                try:
                    os.fsync(fd)
                    st = os.fstat(fd)
                except OSError as exc:
                    raise _io_error(f"storing {key!r}", exc) from exc
            finally:
                os.close(fd)
            try:
                os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                os.fsync(dir_fd)
            except IsADirectoryError:
                raise KeyConflict(
                    f"key {key!r} is a directory of other objects in the local store"
                ) from None
            except OSError as exc:
                raise _io_error(f"storing {key!r}", exc) from exc
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
        return ObjectInfo(key, st.st_size, _etag(st), _utc(st.st_mtime_ns), sha)

    # --- BlobStore -------------------------------------------------------------------------

    def put(self, key: str, stream: Readable, *, sha256: str | None = None) -> ObjectInfo:
        validate_key(key)
        validate_sha256(sha256)
        *dirs, name = key.split("/")

        def fill(fd: int, digest: hashlib._Hash) -> int:
            return _copy_stream(stream, fd, digest)

        return self._write_atomic(dirs, name, key, fill, sha256)

    def get(self, key: str, *, offset: int = 0, length: int | None = None) -> BlobReader:
        check_range(offset, length)
        fd, st = self._open_object(key)
        try:
            if offset > st.st_size:
                raise InvalidRange(f"object {key!r}: offset {offset} beyond its size {st.st_size}")
            available = st.st_size - offset
            size = available if length is None else min(length, available)
            return _FileReader(key, fd, offset, size)
        except BaseException:
            os.close(fd)
            raise

    def head(self, key: str) -> ObjectInfo:
        fd, st = self._open_object(key)
        try:
            return ObjectInfo(
                key, st.st_size, _etag(st), _utc(st.st_mtime_ns), self._sha256_xattr(fd)
            )
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
        fd, _st = self._open_object(src)
        try:
            *dirs, name = dst.split("/")
            with self._dirs(dirs, create=True, key=dst) as dfds:
                info = self._link(src, fd, dfds[-1], name, dst)
            if info is not None:
                return info

            def fill(out: int, digest: hashlib._Hash) -> int:
                os.lseek(fd, 0, os.SEEK_SET)
                return _copy_fd(fd, out, digest)

            return self._write_atomic(dirs, name, dst, fill, None)
        finally:
            os.close(fd)

    def _link(self, src: str, fd: int, dir_fd: int, name: str, dst: str) -> ObjectInfo | None:
        """Link the open file ``fd`` (the object ``src``) as ``name`` in ``dir_fd``; None when
        the link could not be made (the caller copies bytes instead)."""
        *src_dirs, src_name = src.split("/")
        tmp = TEMP_PREFIX + secrets.token_hex(8)
        try:
            with self._dirs(src_dirs, create=False, key=src) as sfds:
                os.link(
                    src_name, tmp, src_dir_fd=sfds[-1], dst_dir_fd=dir_fd, follow_symlinks=False
                )
        except (OSError, KeyConflict):
            return None
        try:
            st = os.stat(tmp, dir_fd=dir_fd, follow_symlinks=False)
            if (st.st_dev, st.st_ino) != (os.fstat(fd).st_dev, os.fstat(fd).st_ino):
                # ``src`` was replaced since it was opened: copy the bytes that were opened.
                os.unlink(tmp, dir_fd=dir_fd)
                return None
            try:
                os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                os.fsync(dir_fd)
            except IsADirectoryError:
                raise KeyConflict(
                    f"key {dst!r} is a directory of other objects in the local store"
                ) from None
            except OSError as exc:
                raise _io_error(f"copying to {dst!r}", exc) from exc
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
        return ObjectInfo(dst, st.st_size, _etag(st), _utc(st.st_mtime_ns), self._sha256_xattr(fd))

    def delete(self, key: str) -> None:
        validate_key(key)
        *dirs, name = key.split("/")
        try:
            with self._dirs(dirs, create=False, key=key) as fds:
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
            with self._dirs(dirs, create=False, key=prefix) as fds:
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
                    sub = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
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
                yield ObjectInfo(key, st.st_size, _etag(st), _utc(st.st_mtime_ns))

    # --- multipart -------------------------------------------------------------------------

    def _uploads(self) -> list[str]:
        return [INTERNAL_DIR, "uploads"]

    def create_multipart(self, key: str, *, sha256: str | None = None) -> str:
        validate_key(key)
        validate_sha256(sha256)
        upload_id = secrets.token_hex(16)
        meta = json.dumps({"key": key, "sha256": sha256}).encode()

        def fill(fd: int, digest: hashlib._Hash) -> int:
            os.write(fd, meta)
            return len(meta)

        self._write_atomic([*self._uploads(), upload_id], "meta.json", key, fill, None)
        return upload_id

    def _open_upload(self, key: str, upload_id: str) -> tuple[int, dict[str, str | None]]:
        """Open the directory of an upload of ``key``: (fd, meta); UploadNotFound otherwise."""
        validate_key(key)
        missing = UploadNotFound(f"no multipart upload {upload_id!r} of {key!r}")
        if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
            raise missing
        try:
            with self._dirs(self._uploads(), create=False, key=key) as fds:
                up_fd = os.open(upload_id, _DIR_FLAGS, dir_fd=fds[-1])
        except (FileNotFoundError, KeyConflict):
            raise missing from None
        try:
            fd = os.open("meta.json", _READ_FLAGS, dir_fd=up_fd)
            with os.fdopen(fd, "rb") as fh:
                meta = json.loads(fh.read(4 * MAX_KEY_BYTES))
        except (OSError, ValueError):
            os.close(up_fd)
            raise missing from None
        if not isinstance(meta, dict) or meta.get("key") != key:
            os.close(up_fd)
            raise missing
        return up_fd, meta

    def upload_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> str:
        return self.upload_part_stream(key, upload_id, part_number, io.BytesIO(data))

    def upload_part_stream(
        self, key: str, upload_id: str, part_number: int, stream: Readable
    ) -> str:
        """Like ``upload_part`` but streaming the part from ``stream`` (used by the HTTP layer
        serving presigned part URLs); returns the part's ETag."""
        check_part_number(part_number)
        os.close(self._open_upload(key, upload_id)[0])
        info = self._write_atomic(
            [*self._uploads(), upload_id],
            f"part-{part_number:05d}",
            key,
            lambda fd, digest: _copy_stream(stream, fd, digest),
            None,
        )
        if info.sha256 is None:  # pragma: no cover (always set by _write_atomic)
            raise BlobStoreError("part digest missing")
        return info.sha256[:32]

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[CompletedPart]
    ) -> ObjectInfo:
        up_fd, meta = self._open_upload(key, upload_id)
        fds: list[int] = []
        try:
            if not parts:
                raise InvalidMultipart("no parts listed")
            numbers = [p.part_number for p in parts]
            for n in numbers:
                check_part_number(n)
            if numbers != sorted(set(numbers)):
                raise InvalidMultipart("part numbers must be listed in strictly ascending order")
            for i, part in enumerate(parts):
                try:
                    fd = os.open(f"part-{part.part_number:05d}", _READ_FLAGS, dir_fd=up_fd)
                except FileNotFoundError:
                    raise InvalidMultipart(f"part {part.part_number} was not uploaded") from None
                fds.append(fd)
                size = os.fstat(fd).st_size
                if i < len(parts) - 1 and size < MIN_PART_SIZE:
                    raise InvalidMultipart(
                        f"part {part.part_number} is {size} bytes; every part but "
                        f"the last must be at least {MIN_PART_SIZE}"
                    )
                have = (self._sha256_xattr(fd) or _sha256_fd(fd))[:32]
                if not hmac.compare_digest(have, normalize_etag(part.etag)):
                    raise InvalidMultipart(f"part {part.part_number}: ETag does not match")

            def fill(out: int, digest: hashlib._Hash) -> int:
                total = 0
                for src in fds:
                    os.lseek(src, 0, os.SEEK_SET)
                    total += _copy_fd(src, out, digest)
                return total

            *dirs, name = key.split("/")
            info = self._write_atomic(dirs, name, key, fill, meta.get("sha256"))
            _remove_upload_dir(up_fd)
        finally:
            for fd in fds:
                os.close(fd)
            os.close(up_fd)
        self._rmdir_upload(upload_id)
        return info

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            up_fd, _meta = self._open_upload(key, upload_id)
        except UploadNotFound:
            return
        try:
            _remove_upload_dir(up_fd)
        finally:
            os.close(up_fd)
        self._rmdir_upload(upload_id)

    def _rmdir_upload(self, upload_id: str) -> None:
        with (
            contextlib.suppress(OSError, BlobStoreError),
            self._dirs(self._uploads(), create=False, key="upload") as fds,
        ):
            os.rmdir(upload_id, dir_fd=fds[-1])

    # --- presigned URLs --------------------------------------------------------------------

    def _key(self) -> _HmacKey:
        """The presign key: given to the constructor, else ``.camvault/presign.key`` (created
        with 32 random bytes, mode 0600, atomically, on first use)."""
        if self._hmac_key is None:
            secret = secrets.token_bytes(32)

            def fill(fd: int, digest: hashlib._Hash) -> int:
                return os.write(fd, secret)

            with self._dirs([INTERNAL_DIR], create=True, key="presign.key") as fds:
                try:
                    fd = os.open("presign.key", _READ_FLAGS, dir_fd=fds[-1])
                except FileNotFoundError:
                    fd = -1
            if fd < 0:
                # Written beside and linked into place: two processes racing agree on one.
                tmp = TEMP_PREFIX + secrets.token_hex(8)
                self._write_atomic([INTERNAL_DIR], tmp, "presign.key", fill, None)
                with self._dirs([INTERNAL_DIR], create=False, key="presign.key") as fds:
                    with contextlib.suppress(FileExistsError):
                        os.link(tmp, "presign.key", src_dir_fd=fds[-1], dst_dir_fd=fds[-1])
                    os.unlink(tmp, dir_fd=fds[-1])
                    os.fsync(fds[-1])
                    fd = os.open("presign.key", _READ_FLAGS, dir_fd=fds[-1])
            with os.fdopen(fd, "rb") as fh:
                self._hmac_key = _HmacKey(fh.read(64))
        return self._hmac_key

    def _signature(
        self, method: str, key: str, expires: int, upload_id: str, part_number: int
    ) -> str:
        message = b"\n".join(
            [
                PRESIGN_LABEL,
                method.encode("ascii"),
                key.encode("utf-8"),
                str(expires).encode("ascii"),
                upload_id.encode("ascii"),
                str(part_number).encode("ascii"),
            ]
        )
        mac = self._key().mac(message)
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def _presign(
        self,
        method: str,
        key: str,
        expires_s: int | None,
        upload_id: str = "",
        part_number: int = 0,
        now: float | None = None,
    ) -> str:
        validate_key(key)
        if self.presign_base_url is None:
            raise BlobStoreError(
                "local store has no presign_base_url: presigned URLs need the public URL "
                "under which the storage service serves /blobs"
            )
        lifetime = clamp_expiry(expires_s, self.presign_expiry_s)
        expires = int(time.time() if now is None else now) + lifetime
        query: dict[str, str] = {}
        if upload_id:
            query["uploadId"] = upload_id
            query["partNumber"] = str(part_number)
        query["expires"] = str(expires)
        query["sig"] = self._signature(method, key, expires, upload_id, part_number)
        return f"{self.presign_base_url}/{quote(key, safe='/')}?{urlencode(query)}"

    def presign_put(self, key: str, *, expires_s: int | None = None) -> str:
        return self._presign("PUT", key, expires_s)

    def presign_get(self, key: str, *, expires_s: int | None = None) -> str:
        return self._presign("GET", key, expires_s)

    def presign_upload_part(
        self, key: str, upload_id: str, part_number: int, *, expires_s: int | None = None
    ) -> str:
        check_part_number(part_number)
        os.close(self._open_upload(key, upload_id)[0])
        return self._presign("PUT", key, expires_s, upload_id, part_number)

    def verify_presigned(
        self,
        method: str,
        key: str,
        query: Mapping[str, str | Sequence[str]],
        *,
        now: float | None = None,
    ) -> PresignedGrant:
        """Check a presigned request: ``method`` is the HTTP method (HEAD counts as GET),
        ``key`` the unquoted key from the path, ``query`` its parameters (single values or
        lists as from ``urllib.parse.parse_qs``). Returns what it grants, else raises
        :class:`PresignedURLRefused` with reason "malformed", "signature" or "expired"."""
        method = method.upper()
        if method == "HEAD":
            method = "GET"
        if method not in ("GET", "PUT"):
            raise PresignedURLRefused("malformed", f"method {method} is not presignable")
        try:
            validate_key(key)
        except InvalidKey as exc:
            raise PresignedURLRefused("malformed", f"bad key: {exc}") from None
        allowed = {"expires", "sig", "uploadId", "partNumber"}
        if set(query) - allowed:
            raise PresignedURLRefused("malformed", "unexpected query parameters")
        expires_s = _query_single(query, "expires")
        sig = _query_single(query, "sig")
        upload_id = _query_single(query, "uploadId")
        part = _query_single(query, "partNumber")
        if expires_s is None or sig is None or not _EXPIRES.fullmatch(expires_s):
            raise PresignedURLRefused("malformed", "missing or malformed expires/sig")
        if (upload_id is None) != (part is None):
            raise PresignedURLRefused("malformed", "uploadId and partNumber go together")
        part_number = 0
        if upload_id is not None and part is not None:
            if method != "PUT" or not _UPLOAD_ID.fullmatch(upload_id):
                raise PresignedURLRefused("malformed", "bad multipart parameters")
            if not part.isdigit() or not 1 <= int(part) <= 10_000:
                raise PresignedURLRefused("malformed", "bad partNumber")
            part_number = int(part)
        expires = int(expires_s)
        want = self._signature(method, key, expires, upload_id or "", part_number)
        if not hmac.compare_digest(want.encode("ascii"), sig.encode("ascii", "replace")):
            raise PresignedURLRefused("signature", "presigned URL signature does not match")
        if (time.time() if now is None else now) > expires:
            raise PresignedURLRefused("expired", "presigned URL has expired")
        return PresignedGrant(method, key, expires, upload_id, part_number or None)


def _query_single(query: Mapping[str, str | Sequence[str]], name: str) -> str | None:
    value = query.get(name)
    if value is None or isinstance(value, str):
        return value
    if len(value) != 1:
        raise PresignedURLRefused("malformed", f"query parameter {name!r} repeated")
    return value[0]


def _io_error(what: str, exc: OSError) -> BlobStoreError:
    """A filesystem failure (disk full, permissions, I/O error) as a BlobStoreError."""
    return BlobStoreError(f"local store: {what}: {exc.strerror or exc}")


def _is_symlink(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _copy_fd(src: int, dst: int, digest: hashlib._Hash) -> int:
    total = 0
    while True:
        data = os.read(src, READ_CHUNK_SIZE)
        if not data:
            return total
        digest.update(data)
        view = memoryview(data)
        while view:
            view = view[os.write(dst, view) :]
        total += len(data)


def _sha256_fd(fd: int) -> str:
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    while data := os.read(fd, READ_CHUNK_SIZE):
        digest.update(data)
    return digest.hexdigest()


def _remove_upload_dir(up_fd: int) -> None:
    for name in os.listdir(up_fd):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=up_fd)
