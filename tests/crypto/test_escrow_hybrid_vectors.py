"""Hybrid escrow stanzas (camvault-escrow-mlkem768x25519): the committed vectors open, and
every tampering (either half of enc, the body, the metadata, the key) is refused."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from crypto.age.format import FileKey, Stanza, encode_stanza
from crypto.age.mlkem import MLKEM_CIPHERTEXT_SIZE
from crypto.encoding import b64decode, b64encode
from crypto.errors import EscrowError, KeyFormatError, StatementError
from crypto.escrow import (
    HYBRID_STANZA_TYPE,
    CustodianKey,
    EscrowRecipients,
    HybridCustodianKey,
    HybridCustodianPublicKey,
    MalformedStanzaError,
    NoHybridKeyError,
    NotThisCustodianError,
    SessionKey,
    ShareReleaser,
    combine,
    open_escrow_stanza,
    parse_escrow_stanza,
)
from crypto.escrow.stanza import hybrid_info
from crypto.metadata import RecordingMetadata
from crypto.statements import Custodian

DOC = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "escrow_hybrid.json").read_text()
)
VECTOR: dict[str, Any] = DOC["escrow_hybrid"][0]
META = RecordingMetadata.from_json(VECTOR["metadata"])
KEYS = [HybridCustodianKey(bytes.fromhex(s)) for s in VECTOR["custodian_seeds"]]
STANZAS = [Stanza(s["type"], tuple(s["args"]), b64decode(s["body"])) for s in VECTOR["stanzas"]]


def test_vectors_open_to_their_shares_and_combine() -> None:
    shares = [open_escrow_stanza(s, k, META) for s, k in zip(STANZAS, KEYS, strict=True)]
    assert [s.to_bytes().hex() for s in shares] == VECTOR["shares"]
    assert combine(shares[1:]).hex() == VECTOR["file_key"]
    assert [encode_stanza(s).decode() for s in STANZAS] == VECTOR["stanza_text"]
    assert [hybrid_info(META, s.args).hex() for s in STANZAS] == VECTOR["hpke_info"]


def test_vector_keys_text_forms_and_ids() -> None:
    for k, sk, pk, kid in zip(
        KEYS,
        VECTOR["custodian_secret_keys"],
        VECTOR["custodian_public_keys"],
        VECTOR["key_ids"],
        strict=True,
    ):
        assert k.to_text() == sk and HybridCustodianKey.from_text(sk).key_id() == kid
        assert (
            k.public_key().to_text() == pk
            and HybridCustodianPublicKey.from_text(pk).key_id() == kid
        )
        assert pk.startswith("camvault-custodian-pq1") and "redacted" in repr(k)
    with pytest.raises(KeyFormatError):  # an age1pq1 recipient is not a custodian key
        HybridCustodianPublicKey.from_text("age1pq1" + VECTOR["custodian_public_keys"][0][22:])


def _enc_flip(offset: int) -> Any:
    def change(s: Stanza) -> Stanza:
        enc = bytearray(b64decode(s.args[4]))
        enc[offset] ^= 0x01
        return Stanza(s.type, (*s.args[:4], b64encode(bytes(enc))), s.body)

    return change


@pytest.mark.parametrize(
    "change",
    [
        _enc_flip(0),  # ML-KEM ciphertext: implicit rejection, another shared secret
        _enc_flip(MLKEM_CIPHERTEXT_SIZE - 1),
        _enc_flip(MLKEM_CIPHERTEXT_SIZE),  # X25519 half
        lambda s: Stanza(s.type, s.args, bytes([s.body[0] ^ 1]) + s.body[1:]),
        lambda s: Stanza(s.type, (s.args[0], s.args[1], "3", *s.args[3:]), s.body),  # threshold
    ],
    ids=["mlkem-first", "mlkem-last", "x25519", "body", "threshold"],
)
def test_tampered_stanza_does_not_open(change: Any) -> None:
    bad = change(STANZAS[0])
    with pytest.raises(EscrowError, match="does not open"):
        open_escrow_stanza(bad, KEYS[0], META)
    with pytest.raises(EscrowError, match="does not open"):
        ShareReleaser(
            CustodianKey.generate(), SessionKey.generate().public_key(), "r1", KEYS[0]
        ).open(bad, META)
    assert open_escrow_stanza(STANZAS[0], KEYS[0], META).x == 1  # control


def test_other_metadata_does_not_open() -> None:
    other = RecordingMetadata.from_json({**VECTOR["metadata"], "recording_id": "rec-pq-0002"})
    with pytest.raises(EscrowError, match="does not open"):
        open_escrow_stanza(STANZAS[0], KEYS[0], other)


def test_low_order_x25519_half_is_malformed() -> None:
    enc = b64decode(STANZAS[0].args[4])[:MLKEM_CIPHERTEXT_SIZE] + bytes(32)
    bad = Stanza(STANZAS[0].type, (*STANZAS[0].args[:4], b64encode(enc)), STANZAS[0].body)
    with pytest.raises(MalformedStanzaError, match="low-order"):
        open_escrow_stanza(bad, KEYS[0], META)


def test_wrong_key_and_missing_hybrid_key() -> None:
    with pytest.raises(NotThisCustodianError):
        open_escrow_stanza(STANZAS[0], KEYS[1], META)
    x = CustodianKey.generate()
    with pytest.raises(NoHybridKeyError):
        open_escrow_stanza(STANZAS[0], x, META)
    with pytest.raises(NoHybridKeyError):
        ShareReleaser(x, SessionKey.generate().public_key(), "r1").open(STANZAS[0], META)


def test_malformed_hybrid_stanzas() -> None:
    s = STANZAS[0]
    with pytest.raises(EscrowError, match="enc: must encode 1120 bytes"):
        parse_escrow_stanza(Stanza(s.type, (*s.args[:4], b64encode(os.urandom(32))), s.body))
    with pytest.raises(EscrowError, match="body must be 35 bytes"):
        parse_escrow_stanza(Stanza(s.type, s.args, s.body + b"\x00"))


def test_mixed_set_round_trip_and_releaser() -> None:
    x = CustodianKey.generate()
    recipients = EscrowRecipients([KEYS[0].public_key(), x.public_key()], 2, META)
    fk = FileKey(os.urandom(16))
    stanzas = recipients.wrap(fk)
    assert [s.type for s in stanzas] == [HYBRID_STANZA_TYPE, "camvault-escrow"]
    session = SessionKey.generate()
    rel = ShareReleaser(x, session.public_key(), "rel-1", KEYS[0])
    assert combine([rel.open(stanzas[0], META), rel.open(stanzas[1], META)]) == fk.data


def test_site_keys_custodian_member_is_optional_and_strict() -> None:
    x = CustodianKey.generate().public_key()
    from crypto.ed25519 import Ed25519SigningKey

    log = Ed25519SigningKey.generate().public_key
    old = Custodian("c1", x, log, None)
    assert "hybrid_escrow_key" not in old.to_json()  # old SiteKeys keep their bytes
    assert Custodian.from_json(old.to_json()) == old
    new = Custodian("c1", x, log, None, KEYS[0].public_key())
    assert Custodian.from_json(new.to_json()) == new and new.sealing_key() == KEYS[0].public_key()
    with pytest.raises(StatementError, match="leave it out instead of null"):
        Custodian.from_json({**old.to_json(), "hybrid_escrow_key": None})
    with pytest.raises(StatementError, match="hybrid_escrow_key"):
        Custodian.from_json({**old.to_json(), "hybrid_escrow_key": str(x.to_text())})
