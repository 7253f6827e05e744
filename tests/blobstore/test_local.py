"""Local-directory store specifics: path safety, atomic writes, layout, presign verification."""

from __future__ import annotations

import io
import os
import socket
import stat
import time
from pathlib import Path

import httpx
import pytest

from storage_service.blobstore import (
    BlobStoreError,
    ChecksumMismatch,
    CompletedPart,
    InvalidKey,
    KeyConflict,
    LocalBlobStore,
    ObjectNotFound,
    PresignedURLRefused,
    UploadNotFound,
    open_blobstore,
)
from storage_service.blobstore import local as local_mod
from storage_service.blobstore.local_http import LocalBlobHTTPServer
from storage_service.core.settings import Settings
from tests.blobstore.streams import FailingStream, SourceError

SECRET = b"root:outside-the-store\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "objects"


@pytest.fixture
def store(root: Path) -> LocalBlobStore:
    return LocalBlobStore(root, presign_base_url="http://127.0.0.1:9/blobs")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    d = tmp_path / "outside"
    d.mkdir()
    (d / "passwd").write_bytes(SECRET)
    return d


def all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def read(store: LocalBlobStore, key: str) -> bytes:
    with store.get(key) as r:
        return r.read()


# --- path safety ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["../../etc/passwd", "../outside/passwd", "/etc/passwd", "a/../../outside/passwd", ".."],
)
def test_traversal_keys_refused(store: LocalBlobStore, outside: Path, key: str) -> None:
    with pytest.raises(InvalidKey):
        store.get(key)
    with pytest.raises(InvalidKey):
        store.put(key, io.BytesIO(b"pwned"))
    with pytest.raises(InvalidKey):
        store.delete(key)
    assert (outside / "passwd").read_bytes() == SECRET


def test_internal_files_are_not_reachable_as_keys(store: LocalBlobStore, root: Path) -> None:
    store.presign_get("k")  # creates .camvault/presign.key
    assert (root / ".camvault" / "presign.key").is_file()
    for key in (".camvault/presign.key", ".camvault"):
        with pytest.raises(InvalidKey, match="reserved"):
            store.get(key)
        with pytest.raises(InvalidKey, match="reserved"):
            store.delete(key)
    assert list(store.list_objects()) == []
    assert (root / ".camvault" / "presign.key").is_file()


def test_symlinked_directory_does_not_escape(
    store: LocalBlobStore, root: Path, outside: Path
) -> None:
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidKey, match="symbolic link"):
        store.get("link/passwd")
    with pytest.raises(InvalidKey, match="symbolic link"):
        store.head("link/passwd")
    with pytest.raises(InvalidKey, match="symbolic link"):
        store.put("link/planted", io.BytesIO(b"pwned"))
    with pytest.raises(InvalidKey, match="symbolic link"):
        store.delete("link/passwd")
    with pytest.raises(InvalidKey, match="symbolic link"):
        store.put("link/deeper/planted", io.BytesIO(b"pwned"))
    assert sorted(p.name for p in outside.iterdir()) == ["passwd"]
    assert (outside / "passwd").read_bytes() == SECRET
    assert list(store.list_objects()) == []  # listing does not follow it either
    assert list(store.list_objects("link/")) == []


def test_symlinked_file_does_not_escape(store: LocalBlobStore, root: Path, outside: Path) -> None:
    (root / "cam").mkdir()
    (root / "cam" / "f").symlink_to(outside / "passwd")
    with pytest.raises(InvalidKey, match="symbolic link"):
        store.get("cam/f")
    with pytest.raises(InvalidKey, match="symbolic link"):
        store.head("cam/f")
    assert list(store.list_objects()) == []
    # Overwriting replaces the link itself (rename), it never writes through it.
    store.put("cam/f", io.BytesIO(b"new object"))
    assert (outside / "passwd").read_bytes() == SECRET
    assert read(store, "cam/f") == b"new object"
    (root / "cam" / "g").symlink_to(outside / "passwd")
    store.delete("cam/g")  # removes the link, not its target
    assert not (root / "cam" / "g").is_symlink()
    assert (outside / "passwd").read_bytes() == SECRET


def test_fifo_and_directories_are_not_objects(store: LocalBlobStore, root: Path) -> None:
    (root / "d" / "sub").mkdir(parents=True)
    os.mkfifo(root / "d" / "fifo")
    with pytest.raises(ObjectNotFound):
        store.get("d/fifo")  # does not block on the FIFO
    with pytest.raises(ObjectNotFound):
        store.head("d/sub")
    store.delete("d/sub")  # a directory is not an object: no-op
    assert (root / "d" / "sub").is_dir()
    assert list(store.list_objects()) == []


def test_foreign_file_names_are_not_listed(store: LocalBlobStore, root: Path) -> None:
    store.put("ok", io.BytesIO(b"1"))
    (root / "bad\nname").write_bytes(b"x")
    (root / "bad\\name").write_bytes(b"x")
    assert [o.key for o in store.list_objects()] == ["ok"]


def test_key_conflicts(store: LocalBlobStore, root: Path) -> None:
    store.put("a", io.BytesIO(b"file"))
    with pytest.raises(KeyConflict, match="not a directory"):
        store.put("a/b", io.BytesIO(b"x"))
    with pytest.raises(ObjectNotFound):
        store.get("a/b")
    store.delete("a/b")
    store.put("x/y", io.BytesIO(b"x"))
    with pytest.raises(KeyConflict, match="directory of other objects"):
        store.put("x", io.BytesIO(b"x"))
    assert all_files(root) == ["a", "x/y"]  # no temp file left behind
    # deleting the last object below x removes the empty directories: x is free again
    store.delete("x/y")
    assert not (root / "x").exists()
    store.put("x", io.BytesIO(b"now a file"))
    assert read(store, "x") == b"now a file"


def test_delete_prunes_only_empty_directories(store: LocalBlobStore, root: Path) -> None:
    store.put("s/c1/r1", io.BytesIO(b"1"))
    store.put("s/c2/r2", io.BytesIO(b"2"))
    store.delete("s/c1/r1")
    assert not (root / "s" / "c1").exists()
    assert (root / "s" / "c2" / "r2").is_file()
    assert root.is_dir()


# --- atomic writes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc", [SourceError("source stream broke"), KeyboardInterrupt()], ids=["error", "interrupt"]
)
def test_interrupted_put_leaves_nothing(
    store: LocalBlobStore, root: Path, exc: BaseException
) -> None:
    store.put("cam/r", io.BytesIO(b"old"))
    with pytest.raises(type(exc)):
        store.put("cam/r", FailingStream(3 * 1024 * 1024 + 5, exc))
    with pytest.raises(type(exc)):
        store.put("cam/new", FailingStream(10, exc))
    assert all_files(root) == ["cam/r"]  # no partial object, no temporary file
    assert read(store, "cam/r") == b"old"


def test_checksum_mismatch_leaves_nothing(store: LocalBlobStore, root: Path) -> None:
    with pytest.raises(ChecksumMismatch):
        store.put("c", io.BytesIO(b"data"), sha256="1" * 64)
    assert all_files(root) == []


def test_write_order_is_fsync_rename_fsync_dir(
    store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd: int) -> None:
        mode = os.fstat(fd).st_mode
        events.append("fsync-dir" if stat.S_ISDIR(mode) else "fsync-file")
        real_fsync(fd)

    def rename(src: str, dst: str, **kw: int) -> None:
        assert src.startswith(".camvault-tmp-")  # temp file in the destination directory
        assert kw["src_dir_fd"] == kw["dst_dir_fd"]
        events.append("rename")
        real_rename(src, dst, **kw)

    store.put("pre/existing", io.BytesIO(b"0"))
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    store.put("pre/obj", io.BytesIO(b"data"))
    assert events == ["fsync-file", "rename", "fsync-dir"]


def test_open_reader_survives_overwrite_and_delete(store: LocalBlobStore) -> None:
    store.put("k", io.BytesIO(b"A" * 3_000_000))
    reader = store.get("k")
    first = reader.read(10)
    store.put("k", io.BytesIO(b"B" * 10))
    store.delete("k")
    rest = reader.read()
    reader.close()
    assert first + rest == b"A" * 3_000_000  # a reader sees one whole version, never a mix


def test_sha256_kept_in_xattr(store: LocalBlobStore, root: Path) -> None:
    info = store.put("x", io.BytesIO(b"abc"))
    want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert info.sha256 == want
    assert os.getxattr(root / "x", local_mod.XATTR_SHA256) == want.encode()
    assert store.head("x").sha256 == want
    assert stat.S_IMODE((root / "x").stat().st_mode) == 0o600


# --- multipart state -----------------------------------------------------------------------


def test_multipart_upload_ids_cannot_traverse(store: LocalBlobStore) -> None:
    store.put("victim", io.BytesIO(b"keep"))
    for upload_id in ["../../victim", "..", "", "A" * 32, "0" * 31]:
        with pytest.raises(UploadNotFound):
            store.upload_part("k", upload_id, 1, b"x")
        with pytest.raises(UploadNotFound):
            store.complete_multipart("k", upload_id, [CompletedPart(1, "x")])
        store.abort_multipart("k", upload_id)
    assert read(store, "victim") == b"keep"


def test_multipart_state_is_cleaned_up(store: LocalBlobStore, root: Path) -> None:
    uid = store.create_multipart("m")
    etag = store.upload_part("m", uid, 1, b"part")
    assert (root / ".camvault" / "uploads" / uid / "part-00001").is_file()
    store.complete_multipart("m", uid, [CompletedPart(1, etag)])
    assert not (root / ".camvault" / "uploads" / uid).exists()
    uid2 = store.create_multipart("m2")
    store.upload_part("m2", uid2, 1, b"part")
    store.abort_multipart("m2", uid2)
    assert not (root / ".camvault" / "uploads" / uid2).exists()
    assert all_files(root) == ["m"]


def test_multipart_announced_sha256_is_verified(store: LocalBlobStore) -> None:
    uid = store.create_multipart("v", sha256="2" * 64)
    etag = store.upload_part("v", uid, 1, b"not matching")
    with pytest.raises(ChecksumMismatch):
        store.complete_multipart("v", uid, [CompletedPart(1, etag)])
    assert not store.exists("v")


# --- presigned URLs ------------------------------------------------------------------------


def query_of(url: str) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(url).query))


def test_presign_verify_grants(store: LocalBlobStore) -> None:
    url = store.presign_get("cam/r1.age", expires_s=60)
    assert url.startswith("http://127.0.0.1:9/blobs/cam/r1.age?")
    q = query_of(url)
    grant = store.verify_presigned("GET", "cam/r1.age", q)
    assert (grant.method, grant.key, grant.upload_id) == ("GET", "cam/r1.age", None)
    assert store.verify_presigned("HEAD", "cam/r1.age", q).method == "GET"
    lists = {k: [v] for k, v in q.items()}  # parse_qs form
    assert store.verify_presigned("GET", "cam/r1.age", lists).key == "cam/r1.age"


def refused(reason: str) -> pytest.RaisesExc[PresignedURLRefused]:
    return pytest.raises(PresignedURLRefused, check=lambda e: e.reason == reason)


def test_presign_verify_refusals(store: LocalBlobStore) -> None:
    q = query_of(store.presign_get("k", expires_s=60))
    with refused("signature"):
        store.verify_presigned("GET", "other", q)
    with refused("signature"):
        store.verify_presigned("PUT", "k", q)
    with refused("signature"):
        store.verify_presigned("GET", "k", {**q, "expires": str(int(q["expires"]) + 3600)})
    with refused("signature"):
        store.verify_presigned("GET", "k", {**q, "sig": q["sig"][:-1]})
    with refused("signature"):
        store.verify_presigned("GET", "k", {**q, "sig": "é" * 43})
    with refused("expired"):
        store.verify_presigned("GET", "k", q, now=int(q["expires"]) + 1)
    with refused("malformed"):
        store.verify_presigned("GET", "k", {"sig": q["sig"]})
    with refused("malformed"):
        store.verify_presigned("GET", "k", {**q, "expires": "-5"})
    with refused("malformed"):
        store.verify_presigned("GET", "k", {**q, "extra": "1"})
    with refused("malformed"):
        store.verify_presigned("GET", "k", {"sig": [q["sig"], q["sig"]], "expires": q["expires"]})
    with refused("malformed"):
        store.verify_presigned("DELETE", "k", q)
    with refused("malformed"):
        store.verify_presigned("GET", "../k", q)
    # another store (another key) does not accept this store's URLs
    other = LocalBlobStore(store.root.parent / "other", presign_key=b"k" * 32)
    with refused("signature"):
        other.verify_presigned("GET", "k", q)


def test_presign_part_urls_are_bound_to_their_part(store: LocalBlobStore) -> None:
    uid = store.create_multipart("up")
    q = query_of(store.presign_upload_part("up", uid, 2))
    assert store.verify_presigned("PUT", "up", q).part_number == 2
    with refused("signature"):
        store.verify_presigned("PUT", "up", {**q, "partNumber": "3"})
    whole = {k: v for k, v in q.items() if k not in ("uploadId", "partNumber")}
    with refused("signature"):
        store.verify_presigned("PUT", "up", whole)  # not a whole-object PUT
    with refused("malformed"):
        store.verify_presigned("GET", "up", q)
    with pytest.raises(UploadNotFound):
        store.presign_upload_part("up", "0" * 32, 1)


def test_presign_expiry_is_capped(root: Path) -> None:
    store = LocalBlobStore(root, presign_base_url="http://h/blobs", presign_expiry_s=300)
    q = query_of(store.presign_put("k", expires_s=10**6))
    grant = store.verify_presigned("PUT", "k", q)
    assert grant.expires <= time.time() + 301


def test_presign_key_file(root: Path) -> None:
    a = LocalBlobStore(root, presign_base_url="http://h/blobs")
    url = a.presign_get("k")
    key_file = root / ".camvault" / "presign.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_bytes()) == 32
    b = LocalBlobStore(root)  # another process on the same directory
    assert b.verify_presigned("GET", "k", query_of(url)).key == "k"
    assert "redacted" in repr(a._key())
    assert key_file.read_bytes().hex() not in repr(a) + repr(a._key())
    assert [p.name for p in (root / ".camvault").iterdir()] == ["presign.key"]


def test_presign_needs_base_url(root: Path) -> None:
    with pytest.raises(BlobStoreError, match="presign_base_url"):
        LocalBlobStore(root).presign_get("k")


def test_http_server_refusals(root: Path) -> None:
    store = LocalBlobStore(root)
    with LocalBlobHTTPServer(store) as server:
        assert store.presign_base_url == server.base_url
        store.put("k", io.BytesIO(b"0123456789"))
        url = store.presign_get("k")
        assert httpx.head(url).headers["Content-Length"] == "10"
        assert httpx.get(url, headers={"Range": "bytes=20-"}).status_code == 416
        assert httpx.get(url, headers={"Range": "bytes=5-1"}).status_code == 416
        assert httpx.get(url.split("?")[0]).status_code == 403
        assert httpx.get(server.base_url.replace("/blobs", "/other/k")).status_code == 404
        resp = httpx.get(tamper_path(url, "%2E%2E/k"))
        assert resp.status_code == 403 and b"malformed" in resp.content
        put = store.presign_put("k")
        # a body shorter than its Content-Length (client gone) never becomes an object
        target = put.split("/blobs/", 1)[1]
        host, port = server.base_url.split("//")[1].split("/")[0].split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(
                f"PUT /blobs/{target} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n".encode()
                + b"short"
            )
            sock.shutdown(socket.SHUT_WR)  # the client is gone mid-body
            sock.settimeout(10)
            # the server closes once it has given up on the body and removed its temp file:
            # wait for that, not for the directory, which can be read before the server has
            # even created the file
            while sock.recv(4096):
                pass
        assert read(store, "k") == b"0123456789"
        assert all_files(root) == [".camvault/presign.key", "k"]


def tamper_path(url: str, new_key: str) -> str:
    base, _, query = url.partition("?")
    return base.rsplit("/", 1)[0] + "/" + new_key + "?" + query


# --- factory -------------------------------------------------------------------------------


def test_factory_local(tmp_path: Path) -> None:
    settings = Settings(blobstore="local", data_dir=tmp_path / "data", presign_expiry_s=60)
    store = open_blobstore(settings, presign_base_url="https://vault.example/blobs")
    assert isinstance(store, LocalBlobStore)
    assert store.root == (tmp_path / "data" / "objects").absolute()
    assert store.presign_expiry_s == 60
    assert store.presign_get("a/b").startswith("https://vault.example/blobs/a/b?expires=")
    store.put("a/b", io.BytesIO(b"x"))
    assert (tmp_path / "data" / "objects" / "a" / "b").read_bytes() == b"x"


def test_source_error_type_is_kept(store: LocalBlobStore) -> None:
    with pytest.raises(SourceError, match="broke"):
        store.put("z", FailingStream(0))


def test_disk_full_is_a_store_error_and_leaves_nothing(
    store: LocalBlobStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put("k", io.BytesIO(b"old"))

    def full(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(BlobStoreError, match="No space left"):
        store.put("k", io.BytesIO(b"new data"))
    monkeypatch.undo()
    assert all_files(root) == ["k"]
    assert read(store, "k") == b"old"
