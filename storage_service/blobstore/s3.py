"""The S3 object store (MinIO, AWS S3, Ceph RGW, any S3 API) through boto3.

Streaming writes read the source one part (``part_size``, 8 MiB by default) at a time: a
source shorter than one part is a single PutObject, anything longer a multipart upload that
is aborted if the source or the store fails. Memory use is about two parts whatever the size;
the largest object is ``part_size`` x 10,000 (78 GiB with 8 MiB parts).

Every botocore exception is translated into the errors of
:mod:`storage_service.blobstore.base` in :func:`_translate` (table in docs/BLOBSTORE.md). The
secret key is handed to botocore and not kept; messages are built from error codes, bucket
and key only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, Literal

import boto3
import botocore.exceptions as bex
import urllib3.exceptions
from botocore.config import Config
from pydantic import SecretStr

from storage_service.blobstore.base import (
    MAX_COPY_SIZE,
    MAX_PART_NUMBER,
    MIN_PART_SIZE,
    READ_CHUNK_SIZE,
    AuthenticationError,
    BlobReader,
    BlobStore,
    BlobStoreError,
    BucketNotFound,
    ChecksumMismatch,
    CompletedPart,
    InvalidMultipart,
    InvalidRange,
    ObjectInfo,
    ObjectNotFound,
    Readable,
    StoredPart,
    StoreUnavailable,
    UploadNotFound,
    check_completed_parts,
    check_listing,
    check_part_number,
    check_range,
    clamp_expiry,
    normalize_etag,
    validate_key,
    validate_sha256,
)

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

    from storage_service.core.settings import Settings

DEFAULT_PART_SIZE = 8 * 1024 * 1024
SHA256_METADATA = "sha256"  # sent as x-amz-meta-sha256

_AUTH_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "InvalidToken",
        "ExpiredToken",
        "InvalidSecurity",
        "AuthorizationHeaderMalformed",
        "403",
        "Forbidden",
    }
)
_UNAVAILABLE_CODES = frozenset(
    {
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        "XMinioServerNotInitialized",
        "XMinioStorageFull",
        "503",
    }
)
_MULTIPART_CODES = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall"})
_NETWORK_ERRORS = (
    bex.ConnectionError,  # EndpointConnectionError, ConnectTimeoutError, ...
    bex.HTTPClientError,  # ReadTimeoutError, ConnectionClosedError, ResponseStreamingError
    bex.IncompleteReadError,
    urllib3.exceptions.HTTPError,
)


def _client_error_code(exc: bex.ClientError) -> str:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    if code.isdigit() or not code:
        # HEAD responses have no body, so botocore only has the status; MinIO names the
        # error in a header.
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        code = headers.get("x-minio-error-code") or code
    return code or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def _map(exc: Exception, what: str, *, missing: str = "key") -> BlobStoreError:
    """The BlobStoreError for a botocore/urllib3 exception raised while doing ``what``."""
    if isinstance(exc, bex.ClientError):
        code = _client_error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        detail = exc.response.get("Error", {}).get("Message") or ""
        msg = f"{what}: {code}" + (f" ({detail})" if detail else "")
        if code in _AUTH_CODES:
            return AuthenticationError(msg)
        if code == "NoSuchBucket" or (missing == "bucket" and code in ("404", "NotFound")):
            return BucketNotFound(msg)
        if code in ("NoSuchKey", "404", "NotFound"):
            return ObjectNotFound(msg)
        if code == "NoSuchUpload":
            return UploadNotFound(msg)
        if code in _MULTIPART_CODES:
            return InvalidMultipart(msg)
        if code == "InvalidRange":
            return InvalidRange(msg)
        if code in _UNAVAILABLE_CODES or status == 503:
            return StoreUnavailable(msg)
        return BlobStoreError(msg)
    if isinstance(exc, _NETWORK_ERRORS):
        return StoreUnavailable(f"{what}: store unreachable: {type(exc).__name__}: {exc}")
    return BlobStoreError(f"{what}: {type(exc).__name__}: {exc}")


@contextmanager
def _translate(what: str, *, missing: str = "key") -> Iterator[None]:
    try:
        yield
    except (bex.BotoCoreError, bex.ClientError, urllib3.exceptions.HTTPError) as exc:
        raise _map(exc, what, missing=missing) from exc


def _read_part(stream: Readable, size: int) -> bytes:
    """Read ``size`` bytes, fewer only at the end of the stream."""
    chunks: list[bytes] = []
    have = 0
    while have < size:
        data = stream.read(min(size - have, READ_CHUNK_SIZE))
        if data is None:
            raise BlobStoreError("source stream is non-blocking and has no data ready")
        if not data:
            break
        chunks.append(data)
        have += len(data)
    return b"".join(chunks)


def _hex(b64: str | None) -> str | None:
    """An S3 checksum header value (base64 of 32 bytes) as lowercase hex; None if not one."""
    if not b64:
        return None
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def _completed_part(p: CompletedPart) -> CompletedPartTypeDef:
    part: CompletedPartTypeDef = {
        "PartNumber": p.part_number,
        "ETag": f'"{normalize_etag(p.etag)}"',
    }
    if p.sha256 is not None:
        part["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(p.sha256)).decode()
    return part


class _S3Reader(BlobReader):
    def __init__(self, key: str, size: int, body: StreamingBody | None, what: str) -> None:
        super().__init__(key, size)
        self._body = body
        self._what = what

    def _readinto(self, view: memoryview) -> int:
        if self._body is None:
            return 0
        with _translate(self._what):
            data = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._body is not None:
            body, self._body = self._body, None
            body.close()
        super().close()


class S3BlobStore(BlobStore):
    """One bucket of an S3 API; see the module docstring."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: SecretStr | None = None,
        addressing_style: Literal["path", "virtual", "auto"] = "path",
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
        max_attempts: int = 3,
        presign_expiry_s: int = 900,
        part_size: int = DEFAULT_PART_SIZE,
        public_endpoint_url: str | None = None,
    ) -> None:
        if not MIN_PART_SIZE <= part_size <= 512 * 1024 * 1024:
            raise ValueError("part_size must be between 5 MiB and 512 MiB")
        if addressing_style not in ("path", "virtual", "auto"):
            raise ValueError("addressing_style must be 'path', 'virtual' or 'auto'")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self.part_size = part_size
        self.presign_expiry_s = clamp_expiry(presign_expiry_s, 7 * 24 * 3600)
        config = Config(
            region_name=region,
            signature_version="s3v4",
            s3={"addressing_style": addressing_style},
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            # Only the checksums S3 requires: the newer default CRC headers are refused by
            # some S3-compatible stores. Integrity is end to end: put() verifies an announced
            # SHA-256, and camvault's signed manifests hash every payload.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = boto3.session.Session()
        secret = secret_key.get_secret_value() if secret_key else None

        def client(endpoint: str | None) -> S3Client:
            return session.client(
                "s3",
                endpoint_url=endpoint,
                aws_access_key_id=access_key,
                aws_secret_access_key=secret,
                config=config,
            )

        self._client = client(endpoint_url)
        # Presigned URLs are for the clients, who may reach the store at another address
        # than this service does (MinIO on an internal network, published through a TLS
        # proxy): presigning is local, so a second client only changes the URLs' host.
        same = public_endpoint_url in (None, endpoint_url)
        self._presigner = self._client if same else client(public_endpoint_url)

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        return cls(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint,
            region=settings.s3_region,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            addressing_style=settings.s3_addressing_style,
            connect_timeout_s=settings.s3_connect_timeout_s,
            read_timeout_s=settings.s3_read_timeout_s,
            max_attempts=settings.s3_max_attempts,
            presign_expiry_s=settings.presign_expiry_s,
            public_endpoint_url=settings.s3_public_endpoint,
        )

    def __repr__(self) -> str:
        return f"S3BlobStore(endpoint={self.endpoint_url!r}, bucket={self.bucket!r})"

    def _where(self, op: str, key: str | None = None) -> str:
        return f"S3 {op} s3://{self.bucket}/{key or ''}"

    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists (and is ours)."""
        what = self._where("CreateBucket")
        try:
            with _translate(what, missing="bucket"):
                self._client.head_bucket(Bucket=self.bucket)
            return
        except BucketNotFound:
            pass
        kwargs: dict[str, Any] = {}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            with _translate(what):
                self._client.create_bucket(Bucket=self.bucket, **kwargs)
        except BlobStoreError as exc:
            if "BucketAlreadyOwnedByYou" not in str(exc):
                raise

    # --- objects ---------------------------------------------------------------------------

    def put(self, key: str, stream: Readable, *, sha256: str | None = None) -> ObjectInfo:
        validate_key(key)
        validate_sha256(sha256)
        metadata = {SHA256_METADATA: sha256} if sha256 else {}
        digest = hashlib.sha256()
        chunk = _read_part(stream, self.part_size)
        if len(chunk) < self.part_size:  # the whole object fits in one request
            digest.update(chunk)
            self._check_digest(key, digest, sha256)
            with _translate(self._where("PutObject", key)):
                self._client.put_object(Bucket=self.bucket, Key=key, Body=chunk, Metadata=metadata)
            del chunk
        else:
            self._put_multipart(key, stream, chunk, digest, metadata, sha256)
        info = self.head(key)
        return ObjectInfo(info.key, info.size, info.etag, info.last_modified, digest.hexdigest())

    def _put_multipart(
        self,
        key: str,
        stream: Readable,
        chunk: bytes,
        digest: hashlib._Hash,
        metadata: dict[str, str],
        sha256: str | None,
    ) -> None:
        upload_id = self.create_multipart(key, sha256=sha256)
        try:
            parts: list[CompletedPart] = []
            number = 1
            while chunk:
                if number > MAX_PART_NUMBER:
                    raise BlobStoreError(
                        f"object {key!r} is larger than {MAX_PART_NUMBER} parts of "
                        f"{self.part_size} bytes"
                    )
                digest.update(chunk)
                parts.append(CompletedPart(number, self.upload_part(key, upload_id, number, chunk)))
                number += 1
                del chunk  # keep at most one part in memory
                chunk = _read_part(stream, self.part_size)
            self._check_digest(key, digest, sha256)
            self.complete_multipart(key, upload_id, parts)
        except BaseException:
            # Best effort: the store may be the thing that failed. The original error wins;
            # a lifecycle rule (AbortIncompleteMultipartUpload) reclaims what stays behind.
            with suppress(BlobStoreError):
                self.abort_multipart(key, upload_id)
            raise

    @staticmethod
    def _check_digest(key: str, digest: hashlib._Hash, expected: str | None) -> None:
        if expected is not None and not hmac.compare_digest(digest.hexdigest(), expected):
            raise ChecksumMismatch(
                f"object {key!r}: content has SHA-256 {digest.hexdigest()}, not the "
                f"announced {expected}; nothing stored"
            )

    def get(self, key: str, *, offset: int = 0, length: int | None = None) -> BlobReader:
        validate_key(key)
        check_range(offset, length)
        what = self._where("GetObject", key)
        if length == 0:
            return self._empty_range(key, offset)
        kwargs: dict[str, Any] = {}
        if length is not None:
            kwargs["Range"] = f"bytes={offset}-{offset + length - 1}"
        elif offset:
            kwargs["Range"] = f"bytes={offset}-"
        try:
            with _translate(what):
                resp = self._client.get_object(Bucket=self.bucket, Key=key, **kwargs)
        except InvalidRange:
            # S3 answers 416 for a range starting at or after the end; offset == size is an
            # empty read in our contract, beyond it an error.
            return self._empty_range(key, offset)
        return _S3Reader(key, int(resp["ContentLength"]), resp["Body"], what)

    def _empty_range(self, key: str, offset: int) -> BlobReader:
        size = self.head(key).size
        if offset > size:
            raise InvalidRange(f"object {key!r}: offset {offset} beyond its size {size}")
        return _S3Reader(key, 0, None, self._where("GetObject", key))

    def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        try:
            with _translate(self._where("HeadObject", key)):
                resp = self._client.head_object(Bucket=self.bucket, Key=key)
        except ObjectNotFound:
            # HEAD responses have no error body: tell a missing bucket from a missing key.
            with _translate(self._where("HeadBucket"), missing="bucket"):
                self._client.head_bucket(Bucket=self.bucket)
            raise
        sha = resp.get("Metadata", {}).get(SHA256_METADATA)
        try:
            sha = validate_sha256(sha)
        except ValueError:
            sha = None
        return ObjectInfo(
            key,
            int(resp["ContentLength"]),
            normalize_etag(resp["ETag"]),
            resp["LastModified"],
            sha,
        )

    def copy(self, src: str, dst: str) -> ObjectInfo:
        """Server-side CopyObject (metadata, and so the announced ``sha256``, copied along).
        One request copies at most 5 GiB; multipart copy (UploadPartCopy) is not implemented,
        so larger sources raise :class:`BlobStoreError`."""
        validate_key(dst)
        size = self.head(src).size
        if size > MAX_COPY_SIZE:
            raise BlobStoreError(
                f"object {src!r} has {size} bytes; copy handles at most {MAX_COPY_SIZE}"
            )
        with _translate(self._where("CopyObject", dst)):
            self._client.copy_object(
                Bucket=self.bucket,
                Key=dst,
                CopySource={"Bucket": self.bucket, "Key": src},
                MetadataDirective="COPY",
            )
        return self.head(dst)

    def delete(self, key: str) -> None:
        validate_key(key)
        with _translate(self._where("DeleteObject", key)):
            self._client.delete_object(Bucket=self.bucket, Key=key)

    def list_objects(
        self, prefix: str = "", *, start_after: str | None = None, page_size: int = 1000
    ) -> Iterator[ObjectInfo]:
        check_listing(prefix, start_after, page_size)
        return self._iter_list(prefix, start_after, page_size)

    def _iter_list(
        self, prefix: str, start_after: str | None, page_size: int
    ) -> Iterator[ObjectInfo]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if start_after:
            kwargs["StartAfter"] = start_after
        what = self._where("ListObjectsV2", prefix)
        with _translate(what):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                **kwargs, PaginationConfig={"PageSize": page_size}
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    yield ObjectInfo(
                        obj["Key"], obj["Size"], normalize_etag(obj["ETag"]), obj["LastModified"]
                    )

    # --- multipart -------------------------------------------------------------------------

    def create_multipart(self, key: str, *, sha256: str | None = None) -> str:
        validate_key(key)
        validate_sha256(sha256)
        metadata = {SHA256_METADATA: sha256} if sha256 else {}
        with _translate(self._where("CreateMultipartUpload", key)):
            resp = self._client.create_multipart_upload(
                Bucket=self.bucket, Key=key, Metadata=metadata
            )
        return resp["UploadId"]

    def upload_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> str:
        validate_key(key)
        check_part_number(part_number)
        with _translate(self._where(f"UploadPart {part_number}", key)):
            resp = self._client.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=part_number,
                Body=data,
            )
        return normalize_etag(resp["ETag"])

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[CompletedPart]
    ) -> ObjectInfo:
        validate_key(key)
        check_completed_parts(parts)
        with _translate(self._where("CompleteMultipartUpload", key)):
            self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [_completed_part(p) for p in parts]},
            )
        return self.head(key)

    part_checksums = True

    def create_checksummed_multipart(self, key: str) -> str:
        validate_key(key)
        with _translate(self._where("CreateMultipartUpload", key)):
            resp = self._client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256"
            )
        return resp["UploadId"]

    def stored_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        validate_key(key)
        out: list[StoredPart] = []
        marker = 0
        while True:
            with _translate(self._where("ListParts", key)):
                resp = self._client.list_parts(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
                )
            for p in resp.get("Parts", []):
                out.append(
                    StoredPart(int(p["PartNumber"]), int(p["Size"]), _hex(p.get("ChecksumSHA256")))
                )
            if not resp.get("IsTruncated"):
                return out
            marker = int(resp["NextPartNumberMarker"])

    def composite_sha256(self, key: str) -> tuple[str, int] | None:
        validate_key(key)
        with _translate(self._where("HeadObject", key)):
            resp = self._client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        value = resp.get("ChecksumSHA256")
        if not value or resp.get("ChecksumType", "COMPOSITE") != "COMPOSITE" or "-" not in value:
            return None
        digest, _, count = value.rpartition("-")
        sha = _hex(digest)
        return (sha, int(count)) if sha and count.isdigit() else None

    def full_sha256(self, key: str) -> tuple[str | None, int]:
        validate_key(key)
        with _translate(self._where("HeadObject", key)):
            resp = self._client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        size = int(resp["ContentLength"])
        value = resp.get("ChecksumSHA256")
        if not value or resp.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT" or "-" in value:
            return None, size
        return _hex(value), size

    def abort_multipart(self, key: str, upload_id: str) -> None:
        validate_key(key)
        try:
            with _translate(self._where("AbortMultipartUpload", key)):
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except UploadNotFound:
            return

    # --- presigned URLs --------------------------------------------------------------------

    def _presign(self, method: str, params: dict[str, Any], expires_s: int | None) -> str:
        lifetime = clamp_expiry(expires_s, self.presign_expiry_s)
        with _translate(self._where(f"presign {method}", params.get("Key"))):
            return self._presigner.generate_presigned_url(
                ClientMethod=method, Params={"Bucket": self.bucket, **params}, ExpiresIn=lifetime
            )

    def presign_put(self, key: str, *, expires_s: int | None = None) -> str:
        validate_key(key)
        return self._presign("put_object", {"Key": key}, expires_s)

    def presign_put_checksummed(
        self, key: str, sha256: str, *, expires_s: int | None = None
    ) -> str:
        validate_key(key)
        validate_sha256(sha256)
        b64 = base64.b64encode(bytes.fromhex(sha256)).decode()
        return self._presign("put_object", {"Key": key, "ChecksumSHA256": b64}, expires_s)

    def presign_get(self, key: str, *, expires_s: int | None = None) -> str:
        validate_key(key)
        return self._presign("get_object", {"Key": key}, expires_s)

    def presign_upload_part(
        self, key: str, upload_id: str, part_number: int, *, expires_s: int | None = None
    ) -> str:
        validate_key(key)
        check_part_number(part_number)
        params = {"Key": key, "UploadId": upload_id, "PartNumber": part_number}
        return self._presign("upload_part", params, expires_s)
