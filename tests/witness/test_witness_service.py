"""The witness service (a real `python -m witness_service` process) under attack: every refusal
of C2SP tlog-witness add-checkpoint, with its status and reason, and the cosignature it gives
when all checks pass."""

from __future__ import annotations

import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crypto.tlog.cosignature import (
    AddCheckpoint,
    append_cosignatures,
    open_cosigned_checkpoint,
    parse_cosignature_lines,
)
from crypto.tlog.note import NoteSigner
from tests.witness.support import REPO, ToyLog, WitnessProc


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WitnessProc, ToyLog]]:
    workdir = tmp_path_factory.mktemp("witness")
    log = ToyLog()
    other = ToyLog("camvault.io/custodian/other")
    w = WitnessProc("witness.test/w1", workdir, [log.vkey, other.vkey]).start()
    try:
        yield w, log
    finally:
        w.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def post(w: WitnessProc, body: bytes) -> httpx.Response:
    return httpx.post(w.url + "/add-checkpoint", content=body, timeout=10)


def refused(resp: httpx.Response, status: int, reason: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.text.startswith(reason + ":"), resp.text


def test_the_witness_follows_a_log_and_refuses_every_attack(
    world: tuple[WitnessProc, ToyLog],
) -> None:
    w, log = world
    vw = w.verifier()
    log.add(5)
    # First contact: old 0, no proof. Cosigned; the line verifies on the checkpoint.
    r = post(w, log.request(0))
    assert r.status_code == 200, r.text
    note = append_cosignatures(log.checkpoint(), parse_cosignature_lines(r.content))
    opened = open_cosigned_checkpoint(note, [log.signer.verifier], log.signer.name, [vw], 1)
    assert opened.checkpoint.size == 5 and set(opened.cosigners) == {w.name}

    # Stale old size: 409 with the witness's size, as text/x.tlog.size.
    log.add(3)
    r = post(w, log.request(0))
    assert r.status_code == 409 and r.text == "5\n"
    assert r.headers["content-type"].startswith("text/x.tlog.size")
    r = post(w, log.request(2))
    assert r.status_code == 409 and r.text == "5\n"

    # A bad consistency proof: 422.
    req = AddCheckpoint.parse(log.request(5))
    bad = AddCheckpoint(5, (bytes(32), *req.proof[1:]), req.checkpoint).to_bytes()
    refused(post(w, bad), 422, "bad_proof")
    # No proof at all from a non-zero size: 422.
    refused(post(w, AddCheckpoint(5, (), req.checkpoint).to_bytes()), 422, "bad_proof")

    # A fork: the log rewrites entry 2 and grows; the proof from ITS size 5 does not lead
    # from the root the witness cosigned.
    forked = ToyLog()
    forked.signer = log.signer
    forked.leaves = list(log.leaves)
    forked.leaves[2] = b"\x00" * 32
    refused(post(w, forked.request(5)), 422, "bad_proof")
    # A fork at the same size: another root for size 5.
    refused(post(w, forked.request(5, 5)), 409, "fork")

    # A checkpoint signed by a key the witness does not know for that origin: 403.
    impostor = NoteSigner.generate(log.signer.name)
    refused(
        post(w, AddCheckpoint(5, req.proof, log.checkpoint(8, impostor)).to_bytes()),
        403,
        "bad_signature",
    )
    # A tampered signature by the known key: 403.
    cp = bytearray(log.checkpoint(8))
    cp[-10] = ord("A") if cp[-10] != ord("A") else ord("B")
    refused(post(w, AddCheckpoint(5, req.proof, bytes(cp)).to_bytes()), 403, "bad_signature")
    # A log it does not follow: 404.
    stranger = ToyLog("camvault.io/custodian/stranger")
    stranger.add(2)
    refused(post(w, stranger.request(0)), 404, "unknown_log")
    # Rollback: old size beyond the checkpoint's size (400), and a smaller checkpoint (409).
    refused(post(w, AddCheckpoint(5, (), log.checkpoint(3)).to_bytes()), 400, "old_beyond_size")
    # Malformed bodies: 400 with a reason, never a 500.
    for body in [b"", b"old x\n\n", b"old 5\n", b"old 5\nnot base64\n\n" + log.checkpoint()]:
        refused(post(w, body), 400, "bad_request")
    refused(
        post(w, b"old 5\n\n" + b"\xff\xfe garbage\n\n\xe2\x80\x94 x AAAA\n"), 404, "unknown_log"
    )
    r = post(w, b"old 5\n\n" + b"x" * 70_000)
    assert r.status_code == 413

    # After all that, the witness still holds size 5 and the honest extension is cosigned.
    r = post(w, log.request(5))
    assert r.status_code == 200, r.text
    note = append_cosignatures(log.checkpoint(), parse_cosignature_lines(r.content))
    assert open_cosigned_checkpoint(note, [log.signer.verifier], log.signer.name, [vw], 1)
    # The same checkpoint again is cosigned again (same size, same root).
    assert post(w, log.request(8)).status_code == 200
    # Now the old checkpoint of size 5 is a rollback: 409 with 8.
    r = post(w, AddCheckpoint(5, (), log.checkpoint(5)).to_bytes())
    assert r.status_code == 409 and r.text == "8\n"

    # The refused checkpoints the log did sign are kept as evidence.
    db = sqlite3.connect(w.data_dir / "witness.db")
    reasons = [r[0] for r in db.execute("SELECT reason FROM witness_evidence ORDER BY id")]
    db.close()
    assert "fork" in reasons and "bad_proof" in reasons and "rollback" in reasons


def test_other_paths_and_methods_get_a_reason_not_a_crash(
    world: tuple[WitnessProc, ToyLog],
) -> None:
    w, _ = world
    refused(httpx.get(w.url + "/nope", timeout=10), 404, "not_found")
    refused(httpx.post(w.url + "/add-checkpoint/", content=b"x", timeout=10), 404, "not_found")
    r = httpx.get(w.url + "/add-checkpoint", timeout=10)
    refused(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "POST"
    refused(httpx.post(w.url + "/witness", content=b"{}", timeout=10), 405, "method_not_allowed")
    head = httpx.head(w.url + "/healthz", timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert httpx.get(w.url + "/healthz", timeout=10).json() == {"status": "ok"}
    # A body sent in chunks past the limit is refused as it arrives, like a declared one.
    chunks = (b"old 0\n\n" + b"x" * 16_384 for _ in range(6))
    r = httpx.post(w.url + "/add-checkpoint", content=chunks, timeout=10)
    refused(r, 413, "bad_request")


def test_two_logs_are_followed_independently(world: tuple[WitnessProc, ToyLog]) -> None:
    w, _ = world
    info = httpx.get(w.url + "/witness", timeout=10).json()
    assert info["name"] == w.name and len(info["logs"]) == 2


def test_the_key_file_is_private_and_survives_a_restart(
    world: tuple[WitnessProc, ToyLog],
) -> None:
    w, log = world
    key = w.data_dir / "witness.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = w.verifier()
    size = len(log.leaves)
    w.stop()
    w.start()
    assert w.verifier() == before
    # It remembers what it cosigned across the restart: a stale old size still gets 409.
    r = post(w, log.request(0))
    assert r.status_code == 409 and r.text == f"{size}\n"


def test_serve_witness_refuses_a_bad_log_key_in_one_line(tmp_path: Path) -> None:
    env_cmd = [
        sys.executable,
        "-c",
        "import typer, witness_service.cli as c; app = typer.Typer(); "
        "c.register_serve(app); app.command('noop')(lambda: None); app()",
        "witness",
        "--log",
        "not-a-key",
        "--data-dir",
        str(tmp_path),
    ]
    r = subprocess.run(env_cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "CAMVAULT_WITNESS_LOGS" in r.stderr and "Traceback" not in r.stderr
