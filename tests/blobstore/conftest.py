"""Fixtures of the blob-store tests: the same store interface over a local directory (with its
presigned-URL HTTP server) and over the session's real MinIO (one bucket per module)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from storage_service.blobstore import BlobStore, LocalBlobStore, S3BlobStore
from storage_service.blobstore.local_http import LocalBlobHTTPServer
from tests.support.services import MinioServer


@dataclass
class Backend:
    name: str
    store: BlobStore


def unique_bucket(tag: str = "bs") -> str:
    return f"{tag}-{uuid.uuid4().hex[:16]}"


def s3_store(server: MinioServer, bucket: str, **kwargs: object) -> S3BlobStore:
    params: dict[str, object] = {
        "bucket": bucket,
        "endpoint_url": server.endpoint,
        "region": server.region,
        "access_key": server.access_key,
        "secret_key": SecretStr(server.secret_key),
    }
    params.update(kwargs)
    return S3BlobStore(**params)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=["local", "s3"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    if request.param == "local":
        root = tmp_path_factory.mktemp("blobs")
        store = LocalBlobStore(root)
        with LocalBlobHTTPServer(store):
            yield Backend("local", store)
        shutil.rmtree(root, ignore_errors=True)
    else:
        minio: MinioServer = request.getfixturevalue("minio")
        s3 = s3_store(minio, unique_bucket())
        s3.ensure_bucket()
        yield Backend("s3", s3)


@pytest.fixture
def store(backend: Backend) -> BlobStore:
    return backend.store


@pytest.fixture
def ns() -> str:
    """A key prefix of this test alone (stores are shared by a module)."""
    return uuid.uuid4().hex
