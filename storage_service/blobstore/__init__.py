"""Object storage of the storage service: one interface, an S3 and a local-directory store.

See docs/BLOBSTORE.md. Use :func:`open_blobstore` to get the configured store.
"""

from storage_service.blobstore.base import (
    AuthenticationError,
    BlobReader,
    BlobStore,
    BlobStoreError,
    BucketNotFound,
    ChecksumMismatch,
    CompletedPart,
    InvalidKey,
    InvalidMultipart,
    InvalidRange,
    KeyConflict,
    ObjectInfo,
    ObjectNotFound,
    PresignedURLRefused,
    StoredPart,
    StoreUnavailable,
    UploadNotFound,
    validate_key,
)
from storage_service.blobstore.factory import open_blobstore
from storage_service.blobstore.local import LocalBlobStore, PresignedGrant
from storage_service.blobstore.s3 import S3BlobStore

__all__ = [
    "AuthenticationError",
    "BlobReader",
    "BlobStore",
    "BlobStoreError",
    "BucketNotFound",
    "ChecksumMismatch",
    "CompletedPart",
    "InvalidKey",
    "InvalidMultipart",
    "InvalidRange",
    "KeyConflict",
    "LocalBlobStore",
    "ObjectInfo",
    "ObjectNotFound",
    "PresignedGrant",
    "PresignedURLRefused",
    "S3BlobStore",
    "StoreUnavailable",
    "StoredPart",
    "UploadNotFound",
    "open_blobstore",
    "validate_key",
]
