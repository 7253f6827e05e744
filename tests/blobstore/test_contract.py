"""The blob-store contract: every test runs identically against the local store and against
two independent S3 implementations, a real MinIO and a real SeaweedFS S3 gateway (fixtures in
conftest.py). A difference in behaviour between them is a failure here."""

from __future__ import annotations

import hashlib
import io
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from storage_service.blobstore import (
    BlobStore,
    ChecksumMismatch,
    CompletedPart,
    InvalidKey,
    InvalidMultipart,
    InvalidRange,
    ObjectNotFound,
    UploadNotFound,
)
from storage_service.blobstore.base import MIN_PART_SIZE
from tests.blobstore.streams import (
    FailingStream,
    PatternStream,
    SourceError,
    pattern_bytes,
    pattern_sha256,
)

MiB = 1024 * 1024


def read_all(store: BlobStore, key: str, offset: int = 0, length: int | None = None) -> bytes:
    with store.get(key, offset=offset, length=length) as reader:
        return b"".join(reader)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- put / get -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [0, 1, 7, 65_535, 65_536, MiB + 3, 8 * MiB, 8 * MiB + 1],
    ids=lambda s: f"{s}B",
)
def test_round_trip_sizes(store: BlobStore, ns: str, size: int) -> None:
    # 8 MiB is exactly one S3 part (a one-part multipart upload); 8 MiB + 1 is two parts.
    data = pattern_bytes(size, seed=size)
    key = f"{ns}/obj-{size}.age"
    info = store.put(key, io.BytesIO(data))
    assert info.key == key
    assert info.size == size
    assert info.sha256 == sha256(data)
    assert info.etag
    assert read_all(store, key) == data
    head = store.head(key)
    assert (head.size, head.etag) == (size, info.etag)


def test_streaming_50_mib_round_trip(store: BlobStore, ns: str) -> None:
    size = 50 * MiB + 12_345
    src = PatternStream(size, seed=50)
    info = store.put(f"{ns}/big", src)
    assert src.consumed == size
    assert (info.size, info.sha256) == (size, src.hexdigest())
    digest = hashlib.sha256()
    largest = 0
    with store.get(f"{ns}/big") as reader:
        assert reader.size == size
        for chunk in reader:
            largest = max(largest, len(chunk))
            digest.update(chunk)
    assert digest.hexdigest() == src.hexdigest()
    assert 0 < largest <= MiB  # chunked, never the whole object at once
    store.delete(f"{ns}/big")


def test_reader_is_a_binary_stream(store: BlobStore, ns: str) -> None:
    data = pattern_bytes(3 * MiB + 5, seed=3)
    store.put(f"{ns}/r", io.BytesIO(data))
    with store.get(f"{ns}/r") as reader:
        assert reader.readable()
        assert reader.read(10) == data[:10]
        assert reader.read(MiB) == data[10 : 10 + MiB]
        assert reader.read() == data[10 + MiB :]
        assert reader.read(1) == b""
    assert reader.closed
    # A reader is a valid source for another put (copy between keys or stores).
    with store.get(f"{ns}/r") as reader:
        copy = store.put(f"{ns}/copy", reader)
    assert copy.sha256 == sha256(data)
    assert read_all(store, f"{ns}/copy") == data


@pytest.mark.parametrize(
    ("offset", "length"),
    [(0, None), (0, 1), (5, 10), (5, None), (999, 1), (999, None), (990, 50), (0, 0), (1000, None)],
)
def test_range_get(store: BlobStore, ns: str, offset: int, length: int | None) -> None:
    data = pattern_bytes(1000, seed=7)
    store.put(f"{ns}/range", io.BytesIO(data))
    end = None if length is None else offset + length
    want = data[offset:end]
    with store.get(f"{ns}/range", offset=offset, length=length) as reader:
        assert reader.size == len(want)
        assert b"".join(reader) == want


def test_range_get_across_parts(store: BlobStore, ns: str) -> None:
    data = pattern_bytes(9 * MiB, seed=9)
    store.put(f"{ns}/mp", io.BytesIO(data))
    offset = 8 * MiB - 100
    assert read_all(store, f"{ns}/mp", offset=offset, length=300) == data[offset : offset + 300]


def test_range_beyond_end_is_refused(store: BlobStore, ns: str) -> None:
    store.put(f"{ns}/short", io.BytesIO(b"0123456789"))
    with pytest.raises(InvalidRange, match="beyond"):
        store.get(f"{ns}/short", offset=11)
    with pytest.raises(InvalidRange, match="beyond"):
        store.get(f"{ns}/short", offset=11, length=0)
    with pytest.raises(InvalidRange, match="offset"):
        store.get(f"{ns}/short", offset=-1)
    with pytest.raises(InvalidRange, match="length"):
        store.get(f"{ns}/short", length=-5)


def test_empty_object_ranges(store: BlobStore, ns: str) -> None:
    store.put(f"{ns}/empty", io.BytesIO(b""))
    assert read_all(store, f"{ns}/empty") == b""
    assert read_all(store, f"{ns}/empty", offset=0, length=10) == b""
    with pytest.raises(InvalidRange):
        store.get(f"{ns}/empty", offset=1)


def test_overwrite_replaces_whole_object(store: BlobStore, ns: str) -> None:
    key = f"{ns}/ow"
    first = store.put(key, io.BytesIO(b"A" * 5000))
    second = store.put(key, io.BytesIO(b"bb"))
    assert read_all(store, key) == b"bb"
    head = store.head(key)
    assert head.size == 2
    assert head.etag == second.etag != first.etag
    assert [o.key for o in store.list_objects(f"{ns}/")] == [key]


def test_head(store: BlobStore, ns: str) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    info = store.put(f"{ns}/h", io.BytesIO(b"hello"))
    head = store.head(f"{ns}/h")
    assert head.key == f"{ns}/h"
    assert head.size == 5
    assert head.etag == info.etag and '"' not in head.etag
    assert head.last_modified.tzinfo is not None
    assert before < head.last_modified < datetime.now(UTC) + timedelta(minutes=5)
    assert store.exists(f"{ns}/h")


def test_announced_sha256_is_kept(store: BlobStore, ns: str) -> None:
    data = pattern_bytes(10_000, seed=1)
    store.put(f"{ns}/s", io.BytesIO(data), sha256=sha256(data))
    assert store.head(f"{ns}/s").sha256 == sha256(data)
    big = PatternStream(9 * MiB, seed=2)
    store.put(f"{ns}/s-big", big, sha256=pattern_sha256(9 * MiB, seed=2))
    assert store.head(f"{ns}/s-big").sha256 == big.hexdigest()


@pytest.mark.parametrize("size", [1000, 9 * MiB], ids=["single", "multipart"])
def test_wrong_sha256_stores_nothing_and_keeps_old(store: BlobStore, ns: str, size: int) -> None:
    key = f"{ns}/checked"
    store.put(key, io.BytesIO(b"previous"))
    with pytest.raises(ChecksumMismatch, match="nothing stored"):
        store.put(key, PatternStream(size), sha256="0" * 64)
    assert read_all(store, key) == b"previous"
    with pytest.raises(ChecksumMismatch):
        store.put(f"{ns}/new", PatternStream(size), sha256="0" * 64)
    assert not store.exists(f"{ns}/new")
    with pytest.raises(ValueError, match="64 lowercase hex"):
        store.put(f"{ns}/new", io.BytesIO(b"x"), sha256="ABC")


@pytest.mark.parametrize("fail_after", [100_000, 20 * MiB], ids=["single", "multipart"])
def test_failing_source_stores_nothing_and_keeps_old(
    store: BlobStore, ns: str, fail_after: int
) -> None:
    key = f"{ns}/interrupted"
    store.put(key, io.BytesIO(b"old content"))
    with pytest.raises(SourceError, match="broke"):
        store.put(key, FailingStream(fail_after))
    assert read_all(store, key) == b"old content"
    with pytest.raises(SourceError):
        store.put(f"{ns}/fresh", FailingStream(fail_after))
    assert not store.exists(f"{ns}/fresh")
    assert [o.key for o in store.list_objects(f"{ns}/")] == [key]


# --- missing objects, delete ---------------------------------------------------------------


def test_missing_object(store: BlobStore, ns: str) -> None:
    key = f"{ns}/nope"
    with pytest.raises(ObjectNotFound, match="nope"):
        store.get(key)
    with pytest.raises(ObjectNotFound, match="nope"):
        store.get(key, offset=3, length=0)
    with pytest.raises(ObjectNotFound, match="nope"):
        store.head(key)
    assert not store.exists(key)
    assert list(store.list_objects(f"{ns}/")) == []


def test_delete_is_idempotent(store: BlobStore, ns: str) -> None:
    key = f"{ns}/d/e/l"
    store.put(key, io.BytesIO(b"x"))
    store.put(f"{ns}/d/keep", io.BytesIO(b"y"))
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(ObjectNotFound):
        store.get(key)
    store.delete(key)  # again: no error
    store.delete(f"{ns}/never/existed")
    assert [o.key for o in store.list_objects(f"{ns}/")] == [f"{ns}/d/keep"]
    # the key can be written again
    store.put(key, io.BytesIO(b"z"))
    assert read_all(store, key) == b"z"


# --- listing -------------------------------------------------------------------------------


def test_list_by_prefix_in_byte_order(store: BlobStore, ns: str) -> None:
    names = ["a/b", "a-c", "a0", "b", "a/b-c/d", "a/bc", "é", "z/y/x", "A"]
    for name in names:
        store.put(f"{ns}/{name}", io.BytesIO(name.encode()))
    listed = [o.key for o in store.list_objects(f"{ns}/")]
    want = sorted((f"{ns}/{n}" for n in names), key=lambda k: k.encode())
    assert listed == want
    assert [o.key for o in store.list_objects(f"{ns}/a/")] == [
        f"{ns}/a/b",
        f"{ns}/a/b-c/d",
        f"{ns}/a/bc",
    ]
    # a prefix may end inside a segment
    assert [o.key for o in store.list_objects(f"{ns}/a/b")] == [
        f"{ns}/a/b",
        f"{ns}/a/b-c/d",
        f"{ns}/a/bc",
    ]
    assert [o.key for o in store.list_objects(f"{ns}/a")] == [
        f"{ns}/a-c",
        f"{ns}/a/b",
        f"{ns}/a/b-c/d",
        f"{ns}/a/bc",
        f"{ns}/a0",
    ]
    assert list(store.list_objects(f"{ns}/nothing-here")) == []
    infos = {o.key: o for o in store.list_objects(f"{ns}/")}
    assert infos[f"{ns}/a0"].size == 2
    assert infos[f"{ns}/a0"].etag == store.head(f"{ns}/a0").etag


def test_list_pages_and_start_after(store: BlobStore, ns: str) -> None:
    keys = [f"{ns}/k{i:02d}" for i in range(11)]
    for key in keys:
        store.put(key, io.BytesIO(b"."))
    assert [o.key for o in store.list_objects(f"{ns}/", page_size=2)] == keys
    assert [o.key for o in store.list_objects(f"{ns}/", start_after=keys[4])] == keys[5:]
    assert [o.key for o in store.list_objects(f"{ns}/", start_after=f"{ns}/k05x")] == keys[6:]
    it = store.list_objects(f"{ns}/", page_size=3)
    assert next(it).key == keys[0]  # lazy: a generator, not a list
    with pytest.raises(ValueError, match="page_size"):
        store.list_objects(f"{ns}/", page_size=0)
    with pytest.raises(ValueError, match="page_size"):
        store.list_objects(f"{ns}/", page_size=1001)


def test_list_beyond_one_s3_page(store: BlobStore, ns: str) -> None:
    # 1100 keys: more than S3's 1000-key page, spread over nested "directories".
    keys = [f"{ns}/p{i % 3}/obj-{i:04d}" for i in range(1100)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda k: store.put(k, io.BytesIO(b"")), keys))
    listed = [o.key for o in store.list_objects(f"{ns}/")]
    assert listed == sorted(keys)
    assert len(set(listed)) == 1100
    assert sum(1 for _ in store.list_objects(f"{ns}/p1/")) == 367


# --- multipart -----------------------------------------------------------------------------


def test_multipart_create_upload_complete(store: BlobStore, ns: str) -> None:
    key = f"{ns}/mp.age"
    p1 = pattern_bytes(MIN_PART_SIZE, seed=11)
    p2 = pattern_bytes(MIN_PART_SIZE + 17, seed=12)
    p3 = b"tail"
    whole = p1 + p2 + p3
    upload_id = store.create_multipart(key, sha256=sha256(whole))
    # parts may be uploaded in any order
    e3 = store.upload_part(key, upload_id, 3, p3)
    e1 = store.upload_part(key, upload_id, 1, p1)
    e2 = store.upload_part(key, upload_id, 2, p2)
    assert not store.exists(key)  # nothing visible before completion
    info = store.complete_multipart(
        key, upload_id, [CompletedPart(1, e1), CompletedPart(2, e2), CompletedPart(3, e3)]
    )
    assert info.size == len(whole)
    assert store.head(key).sha256 == sha256(whole)
    assert read_all(store, key) == whole
    with pytest.raises(UploadNotFound):
        store.upload_part(key, upload_id, 4, b"late")


def test_multipart_part_reupload_replaces_it(store: BlobStore, ns: str) -> None:
    key = f"{ns}/retry"
    upload_id = store.create_multipart(key)
    store.upload_part(key, upload_id, 1, b"first attempt")
    etag = store.upload_part(key, upload_id, 1, b"second")
    store.complete_multipart(key, upload_id, [CompletedPart(1, f'"{etag}"')])  # quotes ok
    assert read_all(store, key) == b"second"


def test_multipart_abort(store: BlobStore, ns: str) -> None:
    key = f"{ns}/aborted"
    upload_id = store.create_multipart(key)
    etag = store.upload_part(key, upload_id, 1, b"data")
    store.abort_multipart(key, upload_id)
    store.abort_multipart(key, upload_id)  # idempotent
    assert not store.exists(key)
    with pytest.raises(UploadNotFound):
        store.upload_part(key, upload_id, 2, b"more")
    with pytest.raises(UploadNotFound):
        store.complete_multipart(key, upload_id, [CompletedPart(1, etag)])
    assert list(store.list_objects(f"{ns}/")) == []


def test_multipart_refusals(store: BlobStore, ns: str) -> None:
    key = f"{ns}/bad"
    upload_id = store.create_multipart(key)
    small = store.upload_part(key, upload_id, 1, b"too small for a non-final part")
    last = store.upload_part(key, upload_id, 2, b"end")
    with pytest.raises(InvalidMultipart):
        store.complete_multipart(key, upload_id, [CompletedPart(1, small), CompletedPart(2, last)])
    with pytest.raises(InvalidMultipart):
        store.complete_multipart(key, upload_id, [CompletedPart(1, "0" * 32)])  # wrong ETag
    with pytest.raises(InvalidMultipart):
        store.complete_multipart(key, upload_id, [CompletedPart(5, small)])  # never uploaded
    with pytest.raises(InvalidMultipart, match="ascending"):
        store.complete_multipart(key, upload_id, [CompletedPart(2, last), CompletedPart(1, small)])
    with pytest.raises(InvalidMultipart, match="no parts"):
        store.complete_multipart(key, upload_id, [])
    with pytest.raises(InvalidMultipart, match="part number"):
        store.upload_part(key, upload_id, 0, b"x")
    with pytest.raises(InvalidMultipart, match="part number"):
        store.upload_part(key, upload_id, 10_001, b"x")
    with pytest.raises(UploadNotFound):
        store.upload_part(f"{ns}/other-key", upload_id, 1, b"x")  # the id is bound to its key
    with pytest.raises(UploadNotFound):
        store.upload_part(key, "f" * 32, 1, b"x")
    assert not store.exists(key)
    # the upload is still usable after refused completions
    store.complete_multipart(key, upload_id, [CompletedPart(1, small)])
    assert read_all(store, key) == b"too small for a non-final part"


# --- presigned URLs through a plain HTTP client ----------------------------------------------


def tamper(url: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    out = []
    for name, value in query:
        if name in ("sig", "X-Amz-Signature"):
            value = ("A" if value[0] != "A" else "B") + value[1:]
        out.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(out)))


def test_presigned_put_then_get(store: BlobStore, ns: str) -> None:
    key = f"{ns}/cam/seg 0001+é.age"  # needs quoting in the URL
    data = pattern_bytes(300_000, seed=5)
    put_url = store.presign_put(key)
    resp = httpx.put(put_url, content=data)
    assert resp.status_code == 200, resp.text
    assert resp.headers["ETag"].strip('"') == store.head(key).etag
    get_url = store.presign_get(key)
    resp = httpx.get(get_url)
    assert resp.status_code == 200
    assert resp.content == data
    resp = httpx.get(get_url, headers={"Range": "bytes=10-19"})
    assert resp.status_code == 206
    assert resp.content == data[10:20]
    # the URL for one key does not open another, nor write with a GET URL
    store.put(f"{ns}/cam/other", io.BytesIO(b"secret-ish"))
    other = get_url.replace("seg%200001%2B%C3%A9.age", "other")
    assert other != get_url
    assert httpx.get(other).status_code == 403
    assert httpx.put(get_url, content=b"overwrite").status_code == 403
    assert read_all(store, key) == data


def test_copy_is_independent_of_its_source(store: BlobStore, ns: str) -> None:
    data = pattern_bytes(300_000, seed=11)
    src, dst = f"{ns}/staging/obj", f"{ns}/final/obj"
    store.put(src, io.BytesIO(data), sha256=sha256(data))
    info = store.copy(src, dst)
    assert (info.key, info.size) == (dst, len(data))
    assert read_all(store, dst) == data
    assert store.head(dst).sha256 == sha256(data)  # the known digest travels with the copy
    # overwriting the source, directly or through a presigned URL, leaves the copy alone
    store.put(src, io.BytesIO(b"other bytes"))
    assert read_all(store, dst) == data
    assert httpx.put(store.presign_put(src), content=b"Z" * 1000).status_code == 200
    assert read_all(store, src) == b"Z" * 1000
    assert read_all(store, dst) == data
    store.delete(src)
    assert read_all(store, dst) == data
    # copying over an existing object replaces it whole
    store.put(src, io.BytesIO(b"second"))
    store.copy(src, dst)
    assert read_all(store, dst) == b"second"


def test_copy_of_missing_object(store: BlobStore, ns: str) -> None:
    with pytest.raises(ObjectNotFound, match="nope"):
        store.copy(f"{ns}/nope", f"{ns}/dst")
    assert not store.exists(f"{ns}/dst")
    with pytest.raises(InvalidKey):
        store.put(f"{ns}/src", io.BytesIO(b"x"))
        store.copy(f"{ns}/src", "../escape")


def test_presigned_tampered_signature_refused(store: BlobStore, ns: str) -> None:
    key = f"{ns}/t"
    store.put(key, io.BytesIO(b"payload"))
    resp = httpx.get(tamper(store.presign_get(key)))
    assert resp.status_code == 403
    assert b"payload" not in resp.content
    resp = httpx.put(tamper(store.presign_put(key)), content=b"evil")
    assert resp.status_code == 403
    assert read_all(store, key) == b"payload"


def test_presigned_expired_refused(store: BlobStore, ns: str) -> None:
    key = f"{ns}/exp"
    store.put(key, io.BytesIO(b"payload"))
    get_url = store.presign_get(key, expires_s=1)
    put_url = store.presign_put(key, expires_s=1)
    time.sleep(2.2)  # waits for the expiry; not a timing assertion
    resp = httpx.get(get_url)
    assert resp.status_code == 403
    assert b"payload" not in resp.content
    assert httpx.put(put_url, content=b"late").status_code == 403
    assert read_all(store, key) == b"payload"
    with pytest.raises(ValueError, match="expires_s"):
        store.presign_get(key, expires_s=0)


def test_presigned_get_missing_object(store: BlobStore, ns: str) -> None:
    assert httpx.get(store.presign_get(f"{ns}/missing")).status_code == 404


def test_presigned_multipart_parts(store: BlobStore, ns: str) -> None:
    key = f"{ns}/camera-upload.age"
    p1 = pattern_bytes(MIN_PART_SIZE, seed=21)
    p2 = b"last part"
    upload_id = store.create_multipart(key)
    etags = []
    for number, body in ((1, p1), (2, p2)):
        url = store.presign_upload_part(key, upload_id, number)
        resp = httpx.put(url, content=body, timeout=60)
        assert resp.status_code == 200, resp.text
        etags.append(resp.headers["ETag"])
    # a part URL is bound to its part: it cannot be replayed for another number
    url2 = store.presign_upload_part(key, upload_id, 2)
    assert httpx.put(url2.replace("partNumber=2", "partNumber=3"), content=b"x").status_code == 403
    store.complete_multipart(key, upload_id, [CompletedPart(i + 1, e) for i, e in enumerate(etags)])
    assert read_all(store, key) == p1 + p2


# --- invalid keys --------------------------------------------------------------------------

BAD_KEYS = [
    "",
    "/abs/path",
    "../../etc/passwd",
    "a/../../b",
    "a/./b",
    "a//b",
    "a/",
    "..",
    "back\\slash",
    "nul\x00byte",
    "new\nline",
    "del\x7f",
    "c1\x85",
    "x" * 1025,
    "é" * 513,  # 1026 bytes of UTF-8
    "s" * 256,  # one segment longer than NAME_MAX
    ".camvault/presign.key",
    "a/.camvault-tmp-0011223344556677",
    "lone\ud800surrogate",
]


@pytest.mark.parametrize("key", BAD_KEYS, ids=lambda k: repr(k)[:30])
def test_invalid_keys_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        store.put(key, io.BytesIO(b"x"))
    with pytest.raises(InvalidKey):
        store.get(key)
    with pytest.raises(InvalidKey):
        store.head(key)
    with pytest.raises(InvalidKey):
        store.exists(key)
    with pytest.raises(InvalidKey):
        store.delete(key)
    with pytest.raises(InvalidKey):
        store.presign_get(key)
    with pytest.raises(InvalidKey):
        store.presign_put(key)
    with pytest.raises(InvalidKey):
        store.create_multipart(key)


def test_valid_edge_keys(store: BlobStore, ns: str) -> None:
    for key in [f"{ns}/" + "k" * 255, f"{ns}/..a/b..", f"{ns}/.hidden", f"{ns}/sp ace/ü/🙂"]:
        store.put(key, io.BytesIO(key.encode()))
        assert read_all(store, key) == key.encode()
    assert len(list(store.list_objects(f"{ns}/"))) == 4
    long_key = "/".join(["d" * 200] * 6)[:1024]
    store.put(long_key, io.BytesIO(b"1024 bytes"))
    assert store.head(long_key).size == 10
    store.delete(long_key)


@pytest.mark.parametrize("prefix", ["/x", "a//", "../", "a/../b", "nul\x00", "a\\b"])
def test_invalid_prefixes_refused(store: BlobStore, prefix: str) -> None:
    with pytest.raises(InvalidKey):
        store.list_objects(prefix)
