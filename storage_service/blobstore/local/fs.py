"""The local store's filesystem layer: every path opened relative to its parent directory's
descriptor with ``O_NOFOLLOW`` (``openat``), and atomic writes.

Safety: no key (``..`` is refused anyway) and no symbolic link placed inside the root can
make the store read or write outside it.

Atomicity (a reader sees the old object or the whole new one, never a part): data goes into
a temporary file in the destination directory, which is fsync'ed, renamed over the final
name, and then the directory is fsync'ed. A write that fails or is interrupted by an
exception removes its temporary file; one killed outright leaves an invisible
``.camvault-tmp-*`` file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from storage_service.blobstore.base import (
    READ_CHUNK_SIZE,
    RESERVED_SEGMENT_PREFIX,
    BlobReader,
    BlobStoreError,
    ChecksumMismatch,
    InvalidKey,
    KeyConflict,
    ObjectInfo,
    ObjectNotFound,
    Readable,
    validate_key,
    validate_sha256,
)

INTERNAL_DIR = RESERVED_SEGMENT_PREFIX  # ".camvault" at the root
TEMP_PREFIX = RESERVED_SEGMENT_PREFIX + "-tmp-"
XATTR_SHA256 = "user.camvault.sha256"

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC

#: ``fill(fd, digest) -> size``: writes an object's bytes to ``fd``, feeding ``digest``.
Fill = Callable[[int, "hashlib._Hash"], int]


def utc(ts_ns: int) -> datetime:
    return datetime.fromtimestamp(ts_ns / 1e9, UTC)


def etag(st: os.stat_result) -> str:
    # Every write is a new inode (rename of a new file), so inode + size + mtime changes with
    # every overwrite, like nginx's ETags; it is opaque to callers.
    return f"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"


def object_info(key: str, st: os.stat_result, sha256: str | None = None) -> ObjectInfo:
    return ObjectInfo(key, st.st_size, etag(st), utc(st.st_mtime_ns), sha256)


def sha256_xattr(fd: int) -> str | None:
    """The SHA-256 recorded on the file when it was written, if the filesystem kept it."""
    try:
        value = os.getxattr(fd, XATTR_SHA256).decode("ascii", "replace")
    except OSError:
        return None
    try:
        return validate_sha256(value)
    except ValueError:
        return None


class FileReader(BlobReader):
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


class SafeRoot:
    """The store's root directory, walked only with ``openat`` + ``O_NOFOLLOW``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @contextmanager
    def dirs(self, segments: Sequence[str], *, create: bool, key: str) -> Iterator[list[int]]:
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
                        fds.append(os.open(seg, DIR_FLAGS, dir_fd=fds[-1]))
                    except FileNotFoundError:
                        if not create:
                            raise
                        with contextlib.suppress(FileExistsError):
                            os.mkdir(seg, 0o700, dir_fd=fds[-1])
                            os.fsync(fds[-1])
                        fds.append(os.open(seg, DIR_FLAGS, dir_fd=fds[-1]))
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
                raise io_error(f"directories of {key!r}", exc) from exc
            yield fds
        finally:
            for fd in reversed(fds):
                os.close(fd)

    def open_object(self, key: str) -> tuple[int, os.stat_result]:
        """Open an object for reading: (fd, stat). ObjectNotFound if missing / not a file."""
        validate_key(key)
        *dirs, name = key.split("/")
        try:
            with self.dirs(dirs, create=False, key=key) as fds:
                fd = os.open(name, READ_FLAGS, dir_fd=fds[-1])
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

    def write_atomic(
        self,
        dir_segments: Sequence[str],
        name: str,
        key: str,
        fill: Fill,
        expected_sha256: str | None,
    ) -> ObjectInfo:
        """Create ``name`` in the directory ``dir_segments`` from ``fill(fd, digest) -> size``:
        temp file + write + fsync + rename + fsync(dir)."""
        for attempt in range(3):
            with self.dirs(dir_segments, create=True, key=key) as fds:
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
                        raise io_error(f"creating {key!r}", exc) from exc
                    continue
                except OSError as exc:
                    raise io_error(f"creating {key!r}", exc) from exc
                return _fill_and_rename(dir_fd, fd, tmp, name, key, fill, expected_sha256)
        raise AssertionError("unreachable")  # pragma: no cover

    def link(self, src: str, fd: int, dir_fd: int, name: str, dst: str) -> ObjectInfo | None:
        """Link the open file ``fd`` (the object ``src``) as ``name`` in ``dir_fd``; None when
        the link could not be made (the caller copies bytes instead)."""
        *src_dirs, src_name = src.split("/")
        tmp = TEMP_PREFIX + secrets.token_hex(8)
        try:
            with self.dirs(src_dirs, create=False, key=src) as sfds:
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
            _rename_into_place(dir_fd, tmp, name, dst, "copying to")
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
        return object_info(dst, st, sha256_xattr(fd))


def _rename_into_place(dir_fd: int, tmp: str, name: str, key: str, what: str) -> None:
    try:
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        os.fsync(dir_fd)
    except IsADirectoryError:
        raise KeyConflict(
            f"key {key!r} is a directory of other objects in the local store"
        ) from None
    except OSError as exc:
        raise io_error(f"{what} {key!r}", exc) from exc


def _fill_and_rename(
    dir_fd: int,
    fd: int,
    tmp: str,
    name: str,
    key: str,
    fill: Fill,
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
                raise io_error(f"storing {key!r}", exc) from exc
        finally:
            os.close(fd)
        _rename_into_place(dir_fd, tmp, name, key, "storing")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    return object_info(key, st, sha)


def copy_stream(stream: Readable, fd: int, digest: hashlib._Hash) -> int:
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
            raise io_error("writing", exc) from exc
        size += len(data)


def copy_fd(src: int, dst: int, digest: hashlib._Hash) -> int:
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


def sha256_fd(fd: int) -> str:
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    while data := os.read(fd, READ_CHUNK_SIZE):
        digest.update(data)
    return digest.hexdigest()


def io_error(what: str, exc: OSError) -> BlobStoreError:
    """A filesystem failure (disk full, permissions, I/O error) as a BlobStoreError."""
    return BlobStoreError(f"local store: {what}: {exc.strerror or exc}")


def _is_symlink(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False
