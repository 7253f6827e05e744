"""Build the configured object store from the settings (``CAMVAULT_BLOBSTORE`` and friends)."""

from __future__ import annotations

from storage_service.blobstore.base import BlobStore
from storage_service.blobstore.local import LocalBlobStore
from storage_service.blobstore.s3 import S3BlobStore
from storage_service.core.settings import Settings, get_settings


def open_blobstore(
    settings: Settings | None = None, *, presign_base_url: str | None = None
) -> BlobStore:
    """The object store named by ``settings.blobstore``.

    ``presign_base_url`` is the public URL under which the storage service serves the local
    store's presigned ``/blobs`` requests (e.g. ``https://vault.example/blobs``); it is only
    used, and only needed for presigning, by the local store. The S3 bucket is not created
    here: call ``S3BlobStore.ensure_bucket()`` at deployment/startup time.
    """
    settings = settings if settings is not None else get_settings()
    if settings.blobstore == "s3":
        return S3BlobStore.from_settings(settings)
    if settings.blobstore == "local":
        return LocalBlobStore(
            settings.effective_blob_dir,
            presign_base_url=presign_base_url,
            presign_expiry_s=settings.presign_expiry_s,
        )
    raise ValueError(f"unknown blobstore {settings.blobstore!r}")  # pragma: no cover
