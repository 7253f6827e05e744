"""The transfer path in bounded memory, and nothing unverified left behind, on PostgreSQL +
MinIO with the real programs:

* a 512 MiB recording goes up through the camera's seal + ``Uploader`` (presigned parts,
  four at a time, commit) and down through ``camvault customer download`` (decrypted as it
  streams), each in its own process: the peak RSS of each stays under a bound far below the
  recording's size (a regression to holding the payload in memory, RSS ~ size, fails it;
  the bound is generous so that machine noise cannot). A property, not a speed: the speed
  is a ``make bench`` row (bench/transfer.py).
* a recording whose stored payload was altered after some plaintext was already written:
  the download refuses it (``payload_mismatch``) and leaves neither the final file nor the
  temporary ``.part`` it decrypted into; an honest recording beside it downloads.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from clients.common import signed_from_json
from common.time import now_ms
from tests.clients.customer_world import Customer, World, running_world, setup_customer
from tests.storage.support import CAMVAULT, REPO
from tests.support.services import MinioServer, PostgresServer

MIB = 1024 * 1024
SIZE = 512 * MIB
#: Peak RSS allowed to either process (a Python process with the camera's or the
#: customer's imports is 40-60 MiB; buffering the payload would add SIZE).
BOUND_MIB = 128
GNU_TIME = "/usr/bin/time"


@pytest.fixture(scope="module")
def world(minio: MinioServer, postgres: PostgresServer) -> Iterator[World]:
    workdir = Path(tempfile.mkdtemp(prefix="camvault-transfer-"))
    try:
        with running_world(workdir, postgres=postgres, minio=minio) as w:
            yield w
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _peak_rss_mib(argv: list[str], env: dict[str, str] | None = None) -> float:
    """Run ``argv`` to completion; its peak RSS in MiB (GNU time's %M)."""
    if not os.access(GNU_TIME, os.X_OK):
        pytest.fail("GNU time (/usr/bin/time) is missing: make tools installs it")
    with tempfile.NamedTemporaryFile("r") as rss:
        proc = subprocess.run(
            [GNU_TIME, "-f", "%M", "-o", rss.name, *argv],
            capture_output=True,
            env={**os.environ, **(env or {})},
            cwd=REPO,
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
        return int(rss.read().split()[-1]) / 1024


def _random_file(path: Path, size: int) -> str:
    sha = hashlib.sha256()
    with path.open("wb") as f:
        for _ in range(size // (8 * MIB)):
            block = os.urandom(8 * MIB)
            sha.update(block)
            f.write(block)
    return sha.hexdigest()


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(8 * MIB):
            sha.update(block)
    return sha.hexdigest()


def _camera_ctx(c: Customer, work: Path) -> Path:
    """What the camera's role of bench/transfer.py needs: the camera's key and the site's
    signed SiteKeys, as the camera fetched them."""
    with c.camera.client as client:
        r = client.get(f"/v1/sites/{c.site_id}")
        assert r.status_code == 200, r.text
        site_keys = signed_from_json(r.json()["site_keys"])
    ctx = work / "ctx.json"
    ctx.write_text(
        json.dumps(
            {
                "url": c.world.storage.url,
                "work": str(work),
                "site_id": c.site_id,
                "camera_id": c.camera.camera_id,
                "camera_key": c.camera.key.to_text(),
                "site_keys": site_keys.encode().decode(),
            }
        )
    )
    ctx.chmod(0o600)
    return ctx


@pytest.mark.slow
def test_512_mib_up_and_down_in_bounded_memory(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    plain = tmp_path / "plain.bin"
    digest = _random_file(plain, SIZE)
    rid = f"rec-big-{now_ms()}"
    ctx = _camera_ctx(c, tmp_path)
    up = [sys.executable, "-m", "bench.transfer", "--role", "camvault-up", "--ctx", str(ctx)]
    up_mib = _peak_rss_mib([*up, "--file", str(plain), "--name", rid])
    plain.unlink()  # disk: the payload now lives in MinIO only
    assert not list((tmp_path / "outbox").glob("*.age"))  # uploaded, committed, removed

    out = tmp_path / "dl"
    down = [str(CAMVAULT), "customer", "download", "--out", str(out)]
    down_mib = _peak_rss_mib([*down, "--camera", "cam-front", "--recording", rid], c.env)
    got = out / "cam-front" / f"{rid}.ts"
    assert got.stat().st_size == SIZE and _sha256(got) == digest
    assert up_mib < BOUND_MIB, f"camera upload peaked at {up_mib:.0f} MiB"
    assert down_mib < BOUND_MIB, f"customer download peaked at {down_mib:.0f} MiB"


def _alter_stored_payload(c: Customer, rid: str, at: int) -> None:
    """The storage operator (or anyone with the bucket's keys) flips a bit of the stored
    payload at ``at`` (a negative index counts from the end)."""
    engine = c.world.storage.engine()
    try:
        with engine.begin() as conn:
            key = conn.execute(
                sa.text("SELECT object_key FROM recordings WHERE site_id=:s AND recording_id=:r"),
                {"s": c.site_id, "r": rid},
            ).scalar_one()
    finally:
        engine.dispose()
    store = c.world.storage.store()
    with store.get(key) as reader:
        data = bytearray(reader.read())
    data[at] ^= 0x01
    store.delete(key)
    store.put(key, io.BytesIO(bytes(data)))


def test_a_payload_altered_mid_stream_leaves_no_file(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    t0 = now_ms() - 60_000
    # 3 MiB: many age chunks, so the decryptor writes plaintext before the flip is reached
    bad = c.camera.record(t0, plaintext=os.urandom(3 * MIB))
    good = c.camera.record(t0 + 2000, plaintext=os.urandom(3 * MIB))
    _alter_stored_payload(c, bad, -100)
    out = tmp_path / "dl"
    r = c.run("download", "--out", out, "--camera", "cam-front", "--recording", bad, code=1)
    assert "payload_mismatch" in r.output, r.output
    assert "Traceback" not in r.output
    assert sorted(p.name for p in (out / "cam-front").iterdir()) == []  # no .part, no .ts
    # control: the honest recording beside it downloads, under its final name only
    c.run("download", "--out", out, "--camera", "cam-front", "--recording", good)
    files = sorted((out / "cam-front").iterdir())
    assert [p.name for p in files] == [f"{good}.ts"]
    assert files[0].read_bytes() == c.camera.plaintexts[good]
    # and the stored payload of the bad one is still served as it is (not the service's
    # fault to fix): the download is refused again, whatever was left from last time
    (out / "cam-front" / f"{bad}.part").write_bytes(b"stale")
    c.run("download", "--out", out, "--camera", "cam-front", "--recording", bad, code=1)
    assert not (out / "cam-front" / f"{bad}.part").exists()
    assert not (out / "cam-front" / f"{bad}.ts").exists()
