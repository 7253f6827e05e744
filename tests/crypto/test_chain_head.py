"""The ChainHead statement (crypto/statements/bodies.py; docs/CHAIN_HEADS.md): its rules, its
round trip, and the vectors tests/vectors/gen_statements.py wrote for both implementations."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import SignatureError, StatementError
from crypto.statements import (
    MAX_HEAD_INTERVAL_S,
    ChainHead,
    Manifest,
    parse_signed,
    sign_statement,
    verify,
)

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "statements.json").read_text("utf-8")
)
H = hashlib.sha256(b"manifest").digest()


def head(**changes: object) -> ChainHead:
    fields: dict[str, object] = {
        "site_id": "site-1",
        "camera_id": "cam-front",
        "sequence": 3,
        "manifest_sha256": H,
        "issued_at_ms": 1_700_000_000_000,
        "interval_s": 60,
    }
    fields.update(changes)
    return ChainHead(**fields)  # type: ignore[arg-type]


def test_round_trip_and_domain() -> None:
    key = Ed25519SigningKey.generate()
    signed = sign_statement(head(), key)
    assert signed.statement_type == "camvault/v1/chain-head"
    parsed = parse_signed(signed.encode())
    assert verify(parsed, key.public_key, ChainHead) == head()
    idle = head(sequence=None, manifest_sha256=None)
    assert parse_signed(sign_statement(idle, key).encode()).unverified_statement == idle


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"sequence": None}, "null exactly when sequence is null"),
        ({"manifest_sha256": None}, "null exactly when sequence is null"),
        ({"interval_s": 0}, "chain-head.interval_s: must be between 1 and 86400"),
        ({"interval_s": MAX_HEAD_INTERVAL_S + 1}, "chain-head.interval_s"),
        ({"sequence": -1}, "chain-head.sequence"),
        ({"sequence": True}, "chain-head.sequence: must be an integer"),
        ({"manifest_sha256": b"short"}, "chain-head.manifest_sha256: must be 32 bytes"),
        ({"camera_id": "has space"}, "chain-head.camera_id"),
    ],
)
def test_refused_bodies(changes: dict[str, object], fragment: str) -> None:
    with pytest.raises(StatementError, match=fragment):
        head(**changes)


def test_another_key_or_type_is_refused() -> None:
    camera, other = Ed25519SigningKey.generate(), Ed25519SigningKey.generate()
    forged = parse_signed(sign_statement(head(), other).encode())
    with pytest.raises(SignatureError):
        verify(forged, camera.public_key, ChainHead)
    with pytest.raises(StatementError, match="expected camvault/v1/manifest"):
        verify(parse_signed(sign_statement(head(), camera).encode()), camera.public_key, Manifest)


def test_vectors_cover_the_head() -> None:
    names = {v["name"] for v in VECTORS["valid"] if v["type"] == "camvault/v1/chain-head"}
    assert names == {"chain-head/idle", "chain-head/seq-1"}
    seq1 = next(v for v in VECTORS["valid"] if v["name"] == "chain-head/seq-1")
    m1 = next(v for v in VECTORS["valid"] if v["name"] == "manifest/seq-1")
    # the head names the statement hash of the manifest it is the head of
    assert seq1["body"]["manifest_sha256"] == m1["statement_hash"]
    refused = [v for v in VECTORS["invalid"] if v["name"].startswith("chain-head")]
    assert len(refused) == 4
    for v in refused:
        with pytest.raises(StatementError, match=v["fragment"]):
            parse_signed(v["encoded"].encode("utf-8"))
