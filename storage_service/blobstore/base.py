"""The object-store interface of the storage service, its value types and its errors.

Two implementations exist: :class:`storage_service.blobstore.s3.S3BlobStore` (any S3 API
through boto3: MinIO, AWS S3, Ceph RGW) and :class:`storage_service.blobstore.local.LocalBlobStore`
(a directory, the embedded default). Both pass the same contract suite
(tests/blobstore/test_contract.py); docs/BLOBSTORE.md describes the semantics.

The store only ever holds ciphertext (age payloads): nothing here is secret except the
credentials and the local presign key, which never appear in messages or reprs.
"""

from __future__ import annotations

import io
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from typing_extensions import Buffer

#: Maximum key length in bytes of UTF-8 (the S3 limit).
MAX_KEY_BYTES = 1024
#: Maximum length of one "/"-separated key segment in bytes (NAME_MAX of the local store).
MAX_SEGMENT_BYTES = 255
#: Key segments starting with this are reserved for the local store's own files.
RESERVED_SEGMENT_PREFIX = ".camvault"
#: S3 multipart rules, enforced identically by the local store.
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000
#: Largest object ``copy`` handles (the S3 limit of one CopyObject request).
MAX_COPY_SIZE = 5 * 1024**3
#: Chunk size of streaming reads.
READ_CHUNK_SIZE = 1024 * 1024

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


# --- errors --------------------------------------------------------------------------------


class BlobStoreError(Exception):
    """Base class of every object-store error. Messages never contain credentials."""


class InvalidKey(BlobStoreError, ValueError):  # noqa: N818 (domain name, like pyca's InvalidTag)
    """The key is not acceptable (empty, too long, traversal, control characters, ...)."""


class KeyConflict(InvalidKey):
    """Local store only: the key names a directory of other keys, or one of its parents is an
    object ("a" and "a/b" cannot both exist in a directory tree)."""


class ObjectNotFound(BlobStoreError):  # noqa: N818
    """No object under that key."""


class BucketNotFound(BlobStoreError):  # noqa: N818
    """The configured bucket does not exist (call ``ensure_bucket()``)."""


class UploadNotFound(BlobStoreError):  # noqa: N818
    """No multipart upload with that id for that key (never created, completed or aborted)."""


class InvalidMultipart(BlobStoreError):  # noqa: N818
    """Completing a multipart upload failed: unknown part, wrong ETag, bad order or a part other
    than the last one smaller than 5 MiB."""


class InvalidRange(BlobStoreError, ValueError):  # noqa: N818
    """The requested byte range starts beyond the end of the object."""


class ChecksumMismatch(BlobStoreError):  # noqa: N818
    """The data streamed into ``put`` does not have the SHA-256 the caller announced; nothing
    was stored."""


class AuthenticationError(BlobStoreError):
    """The store refused the credentials (wrong access key, wrong secret, access denied)."""


class StoreUnavailable(BlobStoreError):  # noqa: N818
    """The store cannot be reached: connection refused, timeout, connection dropped mid-stream,
    or the service answered that it is unavailable."""


class PresignedURLRefused(BlobStoreError):  # noqa: N818
    """A local presigned URL failed verification. ``reason`` is one of ``"malformed"``,
    ``"signature"`` (tampered, other key, other method or other upload part) or ``"expired"``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- value types ---------------------------------------------------------------------------


class Readable(Protocol):
    """A binary source for ``put``: any object with ``read(n) -> bytes`` (b"" at the end), such
    as an open file, ``io.BytesIO``, a socket file, a request body or a :class:`BlobReader`."""

    def read(self, size: int = -1, /) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What ``head``, ``put``, ``complete_multipart`` and ``list_objects`` tell about an object.

    ``etag`` is opaque (without quotes) and changes when the content changes; ``sha256`` is the
    lowercase hex SHA-256 of the content when it is known: always for the local store, for S3
    only when the writer announced it (it is then kept in the object's user metadata) or when
    returned by ``put``, which hashes what it streams.
    """

    key: str
    size: int
    etag: str
    last_modified: datetime
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class CompletedPart:
    """One uploaded part of a multipart upload: its number (1..10000) and the ETag returned by
    ``upload_part`` or by the HTTP response to a presigned part PUT."""

    part_number: int
    etag: str
    #: Lowercase hex SHA-256 of the part, when the upload was opened with part checksums
    #: (:meth:`BlobStore.create_checksummed_multipart`): the store checks it at completion.
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class StoredPart:
    """One part of an open multipart upload as the store holds it: its size and the SHA-256
    the store computed from the bytes it received (None without part checksums)."""

    part_number: int
    size: int
    sha256: str | None


class BlobReader(io.RawIOBase):
    """A readable, non-seekable binary stream over an object (or a byte range of it).

    Iterating yields chunks of at most :data:`READ_CHUNK_SIZE` bytes; memory use is constant
    whatever the object's size. ``size`` is the number of bytes this reader will deliver.
    Errors while reading are :class:`BlobStoreError` subclasses (``StoreUnavailable`` when the
    store goes away mid-stream). Close it (or use it as a context manager) when done.
    """

    def __init__(self, key: str, size: int) -> None:
        super().__init__()
        self.key = key
        self.size = size
        self._remaining = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Buffer) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed blob reader")
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._remaining)
        if want <= 0:
            return 0
        n = self._readinto(view[:want])
        if n == 0:
            raise StoreUnavailable(
                f"object {self.key!r}: stream ended {self._remaining} bytes early"
            )
        self._remaining -= n
        return n

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_chunks()

    def iter_chunks(self, chunk_size: int = READ_CHUNK_SIZE) -> Iterator[bytes]:
        buf = bytearray(chunk_size)
        view = memoryview(buf)
        while True:
            n = self.readinto(view)
            if n == 0:
                return
            yield bytes(view[:n])

    @abstractmethod
    def _readinto(self, view: memoryview) -> int:
        """Read at most ``len(view)`` (> 0) bytes; 0 only at a premature end of stream."""


# --- key validation ------------------------------------------------------------------------


def _check_chars(what: str, value: str) -> bytes:
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidKey(f"{what} is not valid Unicode (lone surrogate)") from None
    if len(raw) > MAX_KEY_BYTES:
        raise InvalidKey(f"{what} is {len(raw)} bytes of UTF-8, more than {MAX_KEY_BYTES}")
    for ch in value:
        o = ord(ch)
        if o < 0x20 or 0x7F <= o <= 0x9F:
            raise InvalidKey(f"{what} contains control character U+{o:04X}")
    if "\\" in value:
        raise InvalidKey(f"{what} contains a backslash")
    if value.startswith("/"):
        raise InvalidKey(f"{what} starts with '/'")
    return raw


def _check_segment(what: str, segment: str) -> None:
    if segment == "":
        raise InvalidKey(f"{what} has an empty path segment ('//' or trailing '/')")
    if segment in (".", ".."):
        raise InvalidKey(f"{what} has a {segment!r} path segment")
    if segment.startswith(RESERVED_SEGMENT_PREFIX):
        raise InvalidKey(
            f"{what} has a segment starting with {RESERVED_SEGMENT_PREFIX!r} (reserved)"
        )
    if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise InvalidKey(f"{what} has a path segment longer than {MAX_SEGMENT_BYTES} bytes")


def validate_key(key: object) -> str:
    """Return ``key`` if it is a valid object key, else raise :class:`InvalidKey`.

    Rules (identical for every store, so that a key valid for one is valid for all): a
    non-empty ``str`` of at most 1024 bytes of UTF-8; no control characters (C0, DEL, C1); no
    backslash; no leading ``/``; "/"-separated segments that are non-empty, not ``.`` or
    ``..``, at most 255 bytes and do not start with ``.camvault`` (reserved for the local
    store's temporary files, upload state and presign key).
    """
    if not isinstance(key, str):
        raise InvalidKey(f"key must be a str, not {type(key).__name__}")
    if key == "":
        raise InvalidKey("key is empty")
    _check_chars("key", key)
    for segment in key.split("/"):
        _check_segment("key", segment)
    return key


def validate_prefix(prefix: object) -> str:
    """Validate a listing prefix: like a key, but it may be empty, end with ``/`` or end with
    a partial segment."""
    if not isinstance(prefix, str):
        raise InvalidKey(f"prefix must be a str, not {type(prefix).__name__}")
    if prefix == "":
        return prefix
    _check_chars("prefix", prefix)
    *complete, last = prefix.split("/")
    for segment in complete:
        _check_segment("prefix", segment)
    if last in (".", ".."):
        raise InvalidKey(f"prefix has a {last!r} path segment")
    return prefix


def validate_sha256(value: str | None) -> str | None:
    if value is not None and not _SHA256_HEX.fullmatch(value):
        raise ValueError("sha256 must be 64 lowercase hex digits")
    return value


def normalize_etag(etag: str) -> str:
    return etag.strip('"')


# --- the interface -------------------------------------------------------------------------


class BlobStore(ABC):
    """Write-once object storage for ciphertext payloads, streaming in constant memory."""

    @abstractmethod
    def put(self, key: str, stream: Readable, *, sha256: str | None = None) -> ObjectInfo:
        """Store everything read from ``stream`` (until EOF) under ``key``, replacing any
        object there. Memory use is bounded whatever the size. If ``sha256`` (hex) is given,
        the content must hash to it (else :class:`ChecksumMismatch`, nothing stored) and it is
        kept as the object's ``sha256``. If the stream raises, that exception propagates and
        nothing is stored (no partial object, no visible temporary file)."""

    @abstractmethod
    def get(self, key: str, *, offset: int = 0, length: int | None = None) -> BlobReader:
        """Stream the object, or ``length`` bytes from ``offset`` (clipped at the end).
        ``offset == size`` gives an empty stream; ``offset > size`` raises
        :class:`InvalidRange`."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo:
        """Size, ETag, last-modified time and (when known) SHA-256 of an object."""

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except ObjectNotFound:
            return False
        return True

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete the object; deleting a missing object is not an error."""

    @abstractmethod
    def copy(self, src: str, dst: str) -> ObjectInfo:
        """Copy the object ``src`` to ``dst`` inside the store (the bytes never pass through
        this process on S3), replacing any object at ``dst``; ``src`` is unchanged.

        Afterwards ``dst`` is independent of ``src``: writing or deleting ``src`` (even
        through a presigned URL) never changes ``dst``. The copy keeps the ``sha256`` of the
        source when the store knows it. :class:`ObjectNotFound` if ``src`` does not exist.
        The S3 store copies objects of at most :data:`MAX_COPY_SIZE` bytes (one CopyObject
        request); larger sources raise :class:`BlobStoreError`."""

    @abstractmethod
    def list_objects(
        self, prefix: str = "", *, start_after: str | None = None, page_size: int = 1000
    ) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (and sorts after ``start_after``), in
        ascending order of the UTF-8 bytes of the key, fetched lazily ``page_size`` at a time.
        ``sha256`` is not filled in by listings."""

    # multipart uploads (camera uploads through presigned part URLs)

    @abstractmethod
    def create_multipart(self, key: str, *, sha256: str | None = None) -> str:
        """Start a multipart upload and return its upload id. ``sha256`` is recorded as
        metadata (it is not verified: the parts may never pass through this process)."""

    @abstractmethod
    def upload_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> str:
        """Upload one part (1..10000; all but the last at least 5 MiB); return its ETag."""

    @abstractmethod
    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[CompletedPart]
    ) -> ObjectInfo:
        """Assemble the listed parts (ascending part numbers) into the object."""

    @abstractmethod
    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Discard an upload and its parts; aborting an unknown upload is not an error."""

    # part checksums (S3 only): the store computes each part's SHA-256 as it arrives and
    # refuses a part whose x-amz-checksum-sha256 header differs, so a commit can check the
    # payload without reading it back (storage_service/services/uploads.py).

    #: Whether :meth:`create_checksummed_multipart` and the two methods below work.
    part_checksums = False

    def create_checksummed_multipart(self, key: str) -> str:
        """A multipart upload whose every part must carry ``x-amz-checksum-sha256``."""
        raise NotImplementedError(f"{type(self).__name__} has no part checksums")

    def stored_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        """The parts of an open upload (:class:`UploadNotFound` once completed or aborted)."""
        raise NotImplementedError(f"{type(self).__name__} has no part checksums")

    def composite_sha256(self, key: str) -> tuple[str, int] | None:
        """The checksum the store computed for an object completed from checksummed parts:
        hex SHA-256 of the concatenated part SHA-256s, and the part count (S3's "COMPOSITE"
        checksum); None when the object has none."""
        raise NotImplementedError(f"{type(self).__name__} has no part checksums")

    def presign_put_checksummed(
        self, key: str, sha256: str, *, expires_s: int | None = None
    ) -> str:
        """A presigned PUT of the one object whose SHA-256 is ``sha256`` (hex): the URL signs
        ``x-amz-checksum-sha256``, so the store refuses a PUT without that header or of
        bytes that hash otherwise, and a PUT whose header names another hash does not match
        the signature."""
        raise NotImplementedError(f"{type(self).__name__} has no checksums")

    def full_sha256(self, key: str) -> tuple[str | None, int]:
        """The hex SHA-256 the store computed of a whole object put with a checksum (S3's
        "FULL_OBJECT" checksum; None when it has none) and the object's size: one request."""
        raise NotImplementedError(f"{type(self).__name__} has no checksums")

    # presigned URLs for plain HTTP clients

    @abstractmethod
    def presign_put(self, key: str, *, expires_s: int | None = None) -> str:
        """A URL that accepts one HTTP PUT of the whole object until it expires."""

    @abstractmethod
    def presign_get(self, key: str, *, expires_s: int | None = None) -> str:
        """A URL that serves HTTP GET (and HEAD, ranges) of the object until it expires."""

    @abstractmethod
    def presign_upload_part(
        self, key: str, upload_id: str, part_number: int, *, expires_s: int | None = None
    ) -> str:
        """A URL that accepts an HTTP PUT of one part; its response has the part's ETag."""


def check_range(offset: int, length: int | None) -> None:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidRange("offset must be an int >= 0")
    if length is not None and (isinstance(length, bool) or not isinstance(length, int)):
        raise InvalidRange("length must be an int >= 0 or None")
    if length is not None and length < 0:
        raise InvalidRange("length must be an int >= 0 or None")


def check_listing(prefix: str, start_after: str | None, page_size: int) -> None:
    validate_prefix(prefix)
    if start_after is not None and not isinstance(start_after, str):
        raise TypeError("start_after must be a str or None")
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise TypeError("page_size must be an int")
    if not 1 <= page_size <= 1000:
        raise ValueError("page_size must be in 1..1000")


def check_part_number(part_number: int) -> None:
    if (
        isinstance(part_number, bool)
        or not isinstance(part_number, int)
        or not 1 <= part_number <= MAX_PART_NUMBER
    ):
        raise InvalidMultipart(f"part number must be an int in 1..{MAX_PART_NUMBER}")


def check_completed_parts(parts: Sequence[CompletedPart]) -> None:
    """A completion lists at least one part, by valid numbers in strictly ascending order."""
    if not parts:
        raise InvalidMultipart("no parts listed")
    numbers = [p.part_number for p in parts]
    for n in numbers:
        check_part_number(n)
    if numbers != sorted(set(numbers)):
        raise InvalidMultipart("part numbers must be listed in strictly ascending order")


def clamp_expiry(expires_s: int | None, cap_s: int) -> int:
    """Presigned URLs live ``expires_s`` seconds, by default and at most ``cap_s`` (the
    ``presign_expiry_s`` setting): a caller can ask for shorter, never for longer."""
    if expires_s is None:
        return cap_s
    if isinstance(expires_s, bool) or not isinstance(expires_s, int) or expires_s < 1:
        raise ValueError("expires_s must be an int >= 1")
    return min(expires_s, cap_s)
