"""The local-directory object store (embedded default).

Layout under the root directory ``<blob_dir>``::

    <key segments as directories>/<last segment>   one regular file per object
    .camvault/presign.key                          32-byte HMAC key of the presigned URLs
    .camvault/uploads/<upload id>/meta.json        a multipart upload in progress
    .camvault/uploads/<upload id>/part-NNNNN       its parts
    <any directory>/.camvault-tmp-<random>         a write in progress (never listed)

:mod:`.fs` opens every path component by component with ``O_NOFOLLOW`` and writes atomically
(temporary file, fsync, rename, fsync of the directory); :mod:`.multipart` keeps uploads in
progress; :mod:`.presign` signs and checks the presigned URLs; :mod:`.store` is the
:class:`LocalBlobStore` over the three.
"""

from storage_service.blobstore.local.fs import XATTR_SHA256
from storage_service.blobstore.local.presign import PresignedGrant
from storage_service.blobstore.local.store import LocalBlobStore

__all__ = ["XATTR_SHA256", "LocalBlobStore", "PresignedGrant"]
