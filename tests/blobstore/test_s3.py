"""S3-store specifics against real S3 servers: credentials, unreachable and failing stores,
missing buckets, upload cleanup, presign expiry cap, settings, and the 4-node erasure-coded
MinIO cluster. What does not depend on the server runs against both MinIO and SeaweedFS (the
``s3_server`` fixture), like the contract suite."""

from __future__ import annotations

import io
import traceback
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from pydantic import SecretStr

from storage_service.blobstore import (
    AuthenticationError,
    BucketNotFound,
    S3BlobStore,
    StoreUnavailable,
    open_blobstore,
)
from storage_service.core.settings import Settings
from tests.blobstore.conftest import S3Server, s3_store, unique_bucket
from tests.blobstore.streams import FailingStream, PatternStream, SourceError, pattern_bytes
from tests.support.services import MinioServer, free_port

MiB = 1024 * 1024
FAST = {"connect_timeout_s": 1.0, "read_timeout_s": 5.0, "max_attempts": 1}


def raw_client(server: S3Server) -> object:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
    )


def rendered(exc: BaseException) -> str:
    """Everything an error could leak: message, repr, args, and the whole chained traceback."""
    return "\n".join([str(exc), repr(exc), repr(exc.args), *traceback.format_exception(exc)])


@pytest.fixture(scope="module", params=["minio", "seaweedfs"])
def s3_server(request: pytest.FixtureRequest) -> S3Server:
    """Each S3 implementation of the session (MinIO, SeaweedFS's S3 gateway)."""
    server: S3Server = request.getfixturevalue(request.param)
    return server


@pytest.fixture(scope="module")
def bucket_store(s3_server: S3Server) -> S3BlobStore:
    store = s3_store(s3_server, unique_bucket("s3"))
    store.ensure_bucket()
    store.put("existing", io.BytesIO(b"payload"))
    return store


# --- credentials ---------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["secret", "access"])
def test_wrong_credentials(s3_server: S3Server, bucket_store: S3BlobStore, which: str) -> None:
    wrong_secret = "wrong-" + s3_server.secret_key[::-1]
    kwargs: dict[str, object] = {**FAST}
    if which == "secret":
        kwargs["secret_key"] = SecretStr(wrong_secret)
    else:
        kwargs["access_key"] = "no-such-access-key"
    store = s3_store(s3_server, bucket_store.bucket, **kwargs)
    code = "SignatureDoesNotMatch" if which == "secret" else "InvalidAccessKeyId"
    # A HEAD response has no body, so the S3 error code can only come from the status; MinIO
    # alone also names it in a header (x-minio-error-code).
    head_code = code if isinstance(s3_server, MinioServer) else "403"
    calls: list[tuple[Callable[[], object], str]] = [
        (lambda: store.head("existing"), head_code),
        (lambda: store.get("existing"), code),
        (lambda: store.put("new", io.BytesIO(b"x")), code),
        (lambda: list(store.list_objects()), code),
        (lambda: store.delete("existing"), code),
        (lambda: store.create_multipart("new"), code),
        (lambda: store.ensure_bucket(), head_code),  # HeadBucket
    ]
    for call, want in calls:
        with pytest.raises(AuthenticationError) as info:
            call()
        text = rendered(info.value)
        assert s3_server.secret_key not in text
        assert wrong_secret not in text
        assert want in str(info.value)
    assert s3_server.secret_key not in repr(store)
    assert bucket_store.exists("existing")  # the refused delete did nothing


def test_presigned_url_with_wrong_credentials_is_refused(
    s3_server: S3Server, bucket_store: S3BlobStore
) -> None:
    store = s3_store(s3_server, bucket_store.bucket, secret_key=SecretStr("not-the-secret-key"))
    resp = httpx.get(store.presign_get("existing"))
    assert resp.status_code == 403
    assert b"payload" not in resp.content


# --- unreachable / failing store -----------------------------------------------------------


def test_unreachable_endpoint(minio: MinioServer) -> None:
    store = s3_store(minio, "nowhere", endpoint_url=f"http://127.0.0.1:{free_port()}", **FAST)
    calls: list[Callable[[], object]] = [
        lambda: store.head("k"),
        lambda: store.get("k"),
        lambda: store.put("k", io.BytesIO(b"x")),
        lambda: store.put("k", PatternStream(9 * MiB)),
        lambda: list(store.list_objects()),
        lambda: store.delete("k"),
        lambda: store.ensure_bucket(),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable, match="unreachable") as info:
            call()
        assert minio.secret_key not in rendered(info.value)
    # presigning needs no connection
    assert store.presign_get("k").startswith(store.endpoint_url or "")


def test_store_stopped_during_streaming_get_and_put(minio_private: MinioServer) -> None:
    store = s3_store(minio_private, unique_bucket(), **FAST)
    store.ensure_bucket()
    kept = {f"kept/{i}": pattern_bytes(1000 + i, seed=i) for i in range(5)}
    for key, data in kept.items():
        store.put(key, io.BytesIO(data))
    store.put("big", PatternStream(96 * MiB, seed=1))

    # a streaming GET loses its server mid-way
    reader = store.get("big")
    assert len(reader.read(MiB)) == MiB
    minio_private.stop()
    with pytest.raises(StoreUnavailable, match="GetObject"):
        for _ in reader:
            pass
    reader.close()
    with pytest.raises(StoreUnavailable):
        store.head("big")
    minio_private.restart()

    # a streaming PUT loses its server after the first part
    class StopsServer(PatternStream):
        def read(self, n: int = -1) -> bytes:
            if self.consumed >= store.part_size:
                minio_private.stop()
            return super().read(n)

    with pytest.raises(StoreUnavailable, match="UploadPart"):
        store.put("during-outage", StopsServer(40 * MiB))
    minio_private.restart()

    # everything stored before is intact, the interrupted object does not exist
    for key, data in kept.items():
        with store.get(key) as r:
            assert r.read() == data
    assert store.head("big").size == 96 * MiB
    assert not store.exists("during-outage")


# --- buckets -------------------------------------------------------------------------------


def test_missing_bucket(s3_server: S3Server) -> None:
    store = s3_store(s3_server, unique_bucket("missing"), **FAST)
    calls: list[Callable[[], object]] = [
        lambda: store.head("k"),
        lambda: store.exists("k"),
        lambda: store.get("k"),
        lambda: store.put("k", io.BytesIO(b"x")),
        lambda: list(store.list_objects()),
        lambda: store.create_multipart("k"),
    ]
    for call in calls:
        with pytest.raises(BucketNotFound):
            call()
    store.ensure_bucket()
    store.ensure_bucket()  # idempotent
    store.put("k", io.BytesIO(b"x"))
    assert store.exists("k")


# --- multipart cleanup ---------------------------------------------------------------------


def test_failed_put_aborts_its_multipart_upload(s3_server: S3Server) -> None:
    store = s3_store(s3_server, unique_bucket())
    store.ensure_bucket()
    with pytest.raises(SourceError):
        store.put("k", FailingStream(3 * store.part_size + 5))
    client = raw_client(s3_server)
    uploads = client.list_multipart_uploads(Bucket=store.bucket)  # type: ignore[attr-defined]
    assert uploads.get("Uploads", []) == []
    assert not store.exists("k")


def test_put_part_size_boundaries(s3_server: S3Server) -> None:
    store = s3_store(s3_server, unique_bucket(), part_size=5 * MiB)
    store.ensure_bucket()
    for size in (5 * MiB - 1, 5 * MiB, 10 * MiB, 10 * MiB + 1):
        src = PatternStream(size, seed=size)
        info = store.put(f"o{size}", src)
        assert (info.size, info.sha256) == (size, src.hexdigest())
        parts = info.etag.rsplit("-", 1)[1] if "-" in info.etag else "single"
        want = {5 * MiB - 1: "single", 5 * MiB: "1", 10 * MiB: "2", 10 * MiB + 1: "3"}[size]
        assert parts == want
    with pytest.raises(ValueError, match="part_size"):
        s3_store(s3_server, "x", part_size=MiB)


# --- presign -------------------------------------------------------------------------------


def test_presign_expiry_is_capped_and_path_style(minio: MinioServer) -> None:
    store = s3_store(minio, "bkt", presign_expiry_s=120)
    url = store.presign_get("a/b c", expires_s=10**6)
    parts = urlsplit(url)
    assert parse_qs(parts.query)["X-Amz-Expires"] == ["120"]
    assert parts.path == "/bkt/a/b%20c"  # path-style addressing
    assert parse_qs(urlsplit(store.presign_put("a")).query)["X-Amz-Expires"] == ["120"]
    with pytest.raises(ValueError, match="expires_s"):
        store.presign_put("a", expires_s=-1)


def test_presigned_urls_use_the_public_endpoint(s3_server: S3Server) -> None:
    """The service reaches the store at one address; the clients at another (here the same
    server as `localhost`): presigned URLs carry the clients' one, and work there."""
    port = urlsplit(s3_server.endpoint).port
    public = f"http://localhost:{port}"
    store = s3_store(s3_server, unique_bucket("pub"), public_endpoint_url=public)
    store.ensure_bucket()
    put = store.presign_put("k")
    assert put.startswith(public + "/")
    assert httpx.put(put, content=b"payload").status_code == 200
    get = store.presign_get("k")
    assert get.startswith(public + "/") and httpx.get(get).content == b"payload"
    with store.get("k") as reader:  # the service's own calls use its endpoint
        assert reader.read() == b"payload"
    assert s3_store(s3_server, "bkt").presign_get("k").startswith(s3_server.endpoint + "/")


# --- settings ------------------------------------------------------------------------------


def test_factory_from_environment(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = unique_bucket("env")
    for name, value in s3_server.settings_env(bucket).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CAMVAULT_S3_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("CAMVAULT_PRESIGN_EXPIRY_S", "60")
    store = open_blobstore(Settings())
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.endpoint_url, store.presign_expiry_s) == (
        bucket,
        s3_server.endpoint,
        60,
    )
    store.ensure_bucket()
    store.put("hello", io.BytesIO(b"world"))
    assert httpx.get(store.presign_get("hello")).content == b"world"
    assert s3_server.secret_key not in repr(store)


# --- distributed MinIO ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[MinioServer]:
    server = MinioServer(nodes=4)
    try:
        server.start()
    except Exception as exc:
        server.close()
        pytest.fail(f"MinIO cluster could not be started: {exc}", pytrace=False)
    yield server
    server.close()


def test_erasure_coded_cluster_round_trip(cluster: MinioServer) -> None:
    store = s3_store(cluster, "cluster-blobs")
    store.ensure_bucket()
    src = PatternStream(20 * MiB + 3, seed=4)
    info = store.put("cam/seg.age", src)
    assert info.sha256 == src.hexdigest()
    # any node serves it: same deployment
    other = s3_store(cluster, "cluster-blobs", endpoint_url=cluster.endpoints[2])
    with other.get("cam/seg.age") as r:
        data = r.read()
    assert len(data) == 20 * MiB + 3
    assert data[:8] == (0).to_bytes(8, "big")
    resp = httpx.get(store.presign_get("cam/seg.age"), timeout=60)
    assert resp.status_code == 200
    assert resp.content == data
    assert [o.key for o in other.list_objects("cam/")] == ["cam/seg.age"]
    store.delete("cam/seg.age")
    assert not other.exists("cam/seg.age")
