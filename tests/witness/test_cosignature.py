"""crypto.tlog.cosignature against the Go reference (filippo.io/torchwood CosignatureSigner,
tests/vectors/go_cosignature_vectors/vectors.json) and its refusals."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from crypto.errors import KeyFormatError
from crypto.tlog.cosignature import (
    AddCheckpoint,
    CosignatureSigner,
    CosignatureVerifier,
    QuorumError,
    WitnessRequestError,
    append_cosignatures,
    cosignature_key_id,
    cosignature_message,
    open_cosigned_checkpoint,
    parse_cosignature_lines,
)
from crypto.tlog.note import (
    Checkpoint,
    CheckpointError,
    InvalidNoteSignatureError,
    NoteSigner,
    NoteVerifier,
    sign_checkpoint,
)

GO = json.loads(
    (
        Path(__file__).resolve().parents[1] / "vectors" / "go_cosignature_vectors" / "vectors.json"
    ).read_text(encoding="utf-8")
)
LOG = NoteVerifier.from_text(GO["log_verifier_key"])
ORIGIN = LOG.name
WITNESSES = {w["name"]: w for w in GO["witnesses"]}


def _signer(name: str) -> CosignatureSigner:
    return CosignatureSigner(name, bytes.fromhex(WITNESSES[name]["seed_hex"]))


def test_go_vectors_were_generated_by_torchwood() -> None:
    assert "filippo.io/torchwood" in GO["provenance"]
    assert len(GO["notes"]) == 4 and len(GO["witnesses"]) == 3


@pytest.mark.parametrize("w", GO["witnesses"], ids=lambda w: w["name"])
def test_key_id_and_vkey_match_go(w: dict[str, str]) -> None:
    signer = _signer(w["name"])
    assert signer.verifier.public_key.hex() == w["public_hex"]
    assert f"{cosignature_key_id(w['name'], bytes.fromhex(w['public_hex'])):08x}" == w["key_id_hex"]
    assert signer.verifier.to_text() == w["verifier_key"]
    assert CosignatureVerifier.from_text(w["verifier_key"]) == signer.verifier
    assert CosignatureSigner.from_text(signer.to_text()).verifier == signer.verifier
    assert "seed" not in repr(signer) or "<redacted>" in repr(signer)


@pytest.mark.parametrize("n", GO["notes"], ids=lambda n: n["description"])
def test_python_reproduces_and_verifies_go_cosignatures(n: dict) -> None:  # type: ignore[type-arg]
    signed = n["signed"].encode()
    witnesses = [CosignatureVerifier.from_text(w["verifier_key"]) for w in GO["witnesses"]]
    opened = open_cosigned_checkpoint(signed, [LOG], ORIGIN, witnesses, len(n["cosignatures"]))
    assert opened.checkpoint.to_text() == n["text"]
    for c in n["cosignatures"]:
        assert opened.cosigners[c["name"]] == c["timestamp"]
        # Same key, same time, same message: Ed25519 gives the same bytes as Go's.
        assert _signer(c["name"]).cosignature_line(n["text"], c["timestamp"]) == c["line"]
        raw = base64.b64decode(c["line"].split(" ")[2])
        assert raw[:4].hex() == c["key_id_hex"]
        assert int.from_bytes(raw[4:12], "big") == c["timestamp"]
    # Rebuilding the whole note: the log's signature then the cosignature lines.
    log_signer = NoteSigner.from_text(GO["log_signer_key"])
    note = sign_checkpoint(Checkpoint.from_text(n["text"]), log_signer)
    lines = parse_cosignature_lines("".join(c["line"] for c in n["cosignatures"]).encode())
    assert append_cosignatures(note, lines) == signed


def test_signed_message_bytes() -> None:
    text = GO["notes"][0]["text"]
    assert cosignature_message(text, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n" + text.encode()
    )
    with pytest.raises(CheckpointError):
        cosignature_message("not a checkpoint\n", 1)
    with pytest.raises(Exception, match="2\\*\\*63"):
        cosignature_message(text, 2**63)


def _go_note(i: int) -> tuple[bytes, list[CosignatureVerifier]]:
    n = GO["notes"][i]
    return n["signed"].encode(), [
        CosignatureVerifier.from_text(w["verifier_key"]) for w in GO["witnesses"]
    ]


def test_quorum_refusals() -> None:
    signed, ws = _go_note(0)  # cosigned by w1 only
    with pytest.raises(QuorumError, match="1 of the 2"):
        open_cosigned_checkpoint(signed, [LOG], ORIGIN, ws, 2)
    # The cosignature of a witness that is not configured does not count.
    with pytest.raises(QuorumError, match="0 of the 1"):
        open_cosigned_checkpoint(signed, [LOG], ORIGIN, ws[1:], 1)
    # A dated-in-the-future cosignature does not count when a clock is given.
    ts = GO["notes"][0]["cosignatures"][0]["timestamp"]
    with pytest.raises(QuorumError):
        open_cosigned_checkpoint(signed, [LOG], ORIGIN, ws, 1, now_s=ts - 3600)
    with pytest.raises(QuorumError, match="not between"):
        open_cosigned_checkpoint(signed, [LOG], ORIGIN, ws, 4)


def test_a_tampered_cosignature_refuses_the_note() -> None:
    signed, ws = _go_note(0)
    head, line = signed.rsplit(b"\n", 2)[0], signed.rsplit(b"\n", 2)[1]
    raw = bytearray(base64.b64decode(line.split(b" ")[2]))
    raw[5] ^= 1  # the timestamp: the signed message changes
    bad = head + b"\n" + line.rsplit(b" ", 1)[0] + b" " + base64.b64encode(bytes(raw)) + b"\n"
    with pytest.raises(InvalidNoteSignatureError):
        open_cosigned_checkpoint(bad, [LOG], ORIGIN, ws, 1)


def test_a_cosignature_moved_to_another_checkpoint_fails() -> None:
    _, ws = _go_note(0)
    log_signer = NoteSigner.from_text(GO["log_signer_key"])
    other = Checkpoint(ORIGIN, 14, bytes(32))
    note = sign_checkpoint(other, log_signer)
    line = GO["notes"][0]["cosignatures"][0]["line"].encode()
    with pytest.raises(InvalidNoteSignatureError):
        open_cosigned_checkpoint(note + line, [LOG], ORIGIN, ws, 1)


def test_witnesses_alone_are_not_the_log() -> None:
    w1 = _signer("witness.example/w1")
    text = GO["notes"][0]["text"]
    other_log = NoteSigner.generate(ORIGIN)
    note = sign_checkpoint(Checkpoint.from_text(text), other_log)
    forged = append_cosignatures(note, [w1.cosign(text, 5)])
    with pytest.raises(Exception, match=r"no valid signature|not signed by the log"):
        open_cosigned_checkpoint(forged, [LOG], ORIGIN, [w1.verifier], 1)


def test_key_text_refusals() -> None:
    good = GO["witnesses"][0]["verifier_key"]
    name, kid, b64 = good.split("+", 2)
    with pytest.raises(KeyFormatError, match="does not match"):
        CosignatureVerifier.from_text(f"{name}x+{kid}+{b64}")
    # An Ed25519 note key (type 0x01) is not a cosignature key.
    raw = base64.b64decode(b64)
    with pytest.raises(KeyFormatError, match="0x04"):
        ed = base64.b64encode(bytes([1]) + raw[1:]).decode()
        CosignatureVerifier.from_text(f"{name}+{kid}+{ed}")
    with pytest.raises(KeyFormatError):
        CosignatureSigner.from_text(good)


def test_add_checkpoint_round_trip_and_refusals() -> None:
    note = GO["notes"][0]["signed"].encode()
    req = AddCheckpoint(5, (bytes(32), b"\x01" * 32), note)
    body = req.to_bytes()
    assert body.startswith(b"old 5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
    assert AddCheckpoint.parse(body) == req
    for bad, why in [
        (b"old 05\n\n" + note, "canonical"),
        (b"old -1\n\n" + note, "canonical"),
        (b"new 1\n\n" + note, "old <size>"),
        (b"old 1\n" + note, "base64"),  # the note's lines read as proof lines
        (b"old 1\n", "empty line"),
        (b"old 1\nAAAA\n\n" + note, "32-byte"),
        (b"old 0\n" + base64.b64encode(bytes(32)) + b"\n\n" + note, "empty when"),
        (b"old 1\n" + (base64.b64encode(bytes(32)) + b"\n") * 64 + b"\n" + note, "63"),
        (b"old 99999999999999999999\n\n" + note, "64 bits"),
    ]:
        with pytest.raises(WitnessRequestError, match=why):
            AddCheckpoint.parse(bad)
    for bad_lines in [b"", b"\n", b"- x\n", b"\xe2\x80\x94 w AAAA\n"]:
        with pytest.raises(WitnessRequestError):
            parse_cosignature_lines(bad_lines)
