"""Presigned URLs of the local store.

``<presign_base_url>/<quoted key>?expires=<unix time>&sig=<HMAC>`` (and ``uploadId`` /
``partNumber`` for multipart parts), where the HMAC-SHA256 under the store's presign key covers
a domain label, the HTTP method, the key, the expiry and the part. The storage service's HTTP
layer checks them with :meth:`Presigner.verify` (``LocalBlobStore.verify_presigned``);
:mod:`storage_service.blobstore.local_http` is a minimal server doing exactly that.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from storage_service.blobstore.base import (
    BlobStoreError,
    InvalidKey,
    PresignedURLRefused,
    clamp_expiry,
    validate_key,
)
from storage_service.blobstore.local.fs import INTERNAL_DIR, READ_FLAGS, TEMP_PREFIX, SafeRoot
from storage_service.blobstore.local.multipart import UPLOAD_ID

PRESIGN_LABEL = b"camvault/v1/local-presign"
KEY_FILE = "presign.key"

_EXPIRES = re.compile(r"[0-9]{1,12}")

#: Query parameters: single values, or lists as ``urllib.parse.parse_qs`` gives them.
QueryParams = Mapping[str, str | Sequence[str]]


class HmacKey:
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


class Presigner:
    """Signs and checks the presigned URLs of the store under ``tree``."""

    def __init__(
        self, tree: SafeRoot, base_url: str | None, expiry_s: int, key: bytes | None
    ) -> None:
        self.tree = tree
        #: Public URL under which the storage service serves ``/blobs`` (no trailing slash).
        self.base_url = base_url.rstrip("/") if base_url else None
        self.expiry_s = clamp_expiry(expiry_s, 7 * 24 * 3600)
        self._hmac_key = HmacKey(key) if key is not None else None

    def key(self) -> HmacKey:
        """The presign key: given to the constructor, else ``.camvault/presign.key`` (created
        with 32 random bytes, mode 0600, atomically, on first use)."""
        if self._hmac_key is None:
            secret = secrets.token_bytes(32)

            def fill(fd: int, digest: hashlib._Hash) -> int:
                return os.write(fd, secret)

            with self.tree.dirs([INTERNAL_DIR], create=True, key=KEY_FILE) as fds:
                try:
                    fd = os.open(KEY_FILE, READ_FLAGS, dir_fd=fds[-1])
                except FileNotFoundError:
                    fd = -1
            if fd < 0:
                # Written beside and linked into place: two processes racing agree on one.
                tmp = TEMP_PREFIX + secrets.token_hex(8)
                self.tree.write_atomic([INTERNAL_DIR], tmp, KEY_FILE, fill, None)
                with self.tree.dirs([INTERNAL_DIR], create=False, key=KEY_FILE) as fds:
                    with contextlib.suppress(FileExistsError):
                        os.link(tmp, KEY_FILE, src_dir_fd=fds[-1], dst_dir_fd=fds[-1])
                    os.unlink(tmp, dir_fd=fds[-1])
                    os.fsync(fds[-1])
                    fd = os.open(KEY_FILE, READ_FLAGS, dir_fd=fds[-1])
            with os.fdopen(fd, "rb") as fh:
                self._hmac_key = HmacKey(fh.read(64))
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
        mac = self.key().mac(message)
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def presign(
        self,
        method: str,
        key: str,
        expires_s: int | None,
        upload_id: str = "",
        part_number: int = 0,
        now: float | None = None,
    ) -> str:
        validate_key(key)
        if self.base_url is None:
            raise BlobStoreError(
                "local store has no presign_base_url: presigned URLs need the public URL "
                "under which the storage service serves /blobs"
            )
        lifetime = clamp_expiry(expires_s, self.expiry_s)
        expires = int(time.time() if now is None else now) + lifetime
        query: dict[str, str] = {}
        if upload_id:
            query["uploadId"] = upload_id
            query["partNumber"] = str(part_number)
        query["expires"] = str(expires)
        query["sig"] = self._signature(method, key, expires, upload_id, part_number)
        return f"{self.base_url}/{quote(key, safe='/')}?{urlencode(query)}"

    def verify(self, method: str, key: str, query: QueryParams, now: float) -> PresignedGrant:
        """Check a presigned request: ``method`` is the HTTP method (HEAD counts as GET),
        ``key`` the unquoted key from the path, ``query`` its parameters (single values or
        lists as from ``urllib.parse.parse_qs``), ``now`` the Unix time. Returns what it
        grants, else raises :class:`PresignedURLRefused` with reason "malformed", "signature"
        or "expired"."""
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
            if method != "PUT" or not UPLOAD_ID.fullmatch(upload_id):
                raise PresignedURLRefused("malformed", "bad multipart parameters")
            if not part.isdigit() or not 1 <= int(part) <= 10_000:
                raise PresignedURLRefused("malformed", "bad partNumber")
            part_number = int(part)
        expires = int(expires_s)
        want = self._signature(method, key, expires, upload_id or "", part_number)
        if not hmac.compare_digest(want.encode("ascii"), sig.encode("ascii", "replace")):
            raise PresignedURLRefused("signature", "presigned URL signature does not match")
        if now > expires:
            raise PresignedURLRefused("expired", "presigned URL has expired")
        return PresignedGrant(method, key, expires, upload_id, part_number or None)


def _query_single(query: QueryParams, name: str) -> str | None:
    value = query.get(name)
    if value is None or isinstance(value, str):
        return value
    if len(value) != 1:
        raise PresignedURLRefused("malformed", f"query parameter {name!r} repeated")
    return value[0]
