"""Fixtures of the blob-store tests: the same store interface over a local directory (with its
presigned-URL HTTP server), over the session's real MinIO and over a real SeaweedFS S3 gateway
(a second, independent S3 implementation), one bucket per module on each S3 server."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pytest
from pydantic import SecretStr

from storage_service.blobstore import BlobStore, LocalBlobStore, S3BlobStore
from storage_service.blobstore.local_http import LocalBlobHTTPServer
from tests.support.seaweed import SeaweedServer
from tests.support.services import ServiceError


@dataclass
class Backend:
    name: str
    store: BlobStore


def unique_bucket(tag: str = "bs") -> str:
    return f"{tag}-{uuid.uuid4().hex[:16]}"


class S3Server(Protocol):
    """What a store needs of a test S3 server (MinioServer, SeaweedServer)."""

    @property
    def endpoint(self) -> str: ...

    region: str
    access_key: str
    secret_key: str

    def settings_env(self, bucket: str = ...) -> dict[str, str]: ...


def s3_store(server: S3Server, bucket: str, **kwargs: object) -> S3BlobStore:
    params: dict[str, object] = {
        "bucket": bucket,
        "endpoint_url": server.endpoint,
        "region": server.region,
        "access_key": server.access_key,
        "secret_key": SecretStr(server.secret_key),
    }
    params.update(kwargs)
    return S3BlobStore(**params)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedServer]:
    """One SeaweedFS (master, volume, filer, S3 gateway) for the session."""
    server = SeaweedServer()
    try:
        server.start()
    except ServiceError as exc:
        server.close()
        pytest.fail(f"SeaweedFS could not be started: {exc}", pytrace=False)
    yield server
    server.close()


@pytest.fixture(scope="module", params=["local", "minio", "seaweedfs"])
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
        server: S3Server = request.getfixturevalue(request.param)
        s3 = s3_store(server, unique_bucket())
        s3.ensure_bucket()
        yield Backend(request.param, s3)


@pytest.fixture
def store(backend: Backend) -> BlobStore:
    return backend.store


@pytest.fixture
def ns() -> str:
    """A key prefix of this test alone (stores are shared by a module)."""
    return uuid.uuid4().hex
