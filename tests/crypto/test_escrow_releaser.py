"""Tests of crypto.escrow.ShareReleaser, the custodian's batch form of open + re-seal.

It must be indistinguishable from ``open_escrow_stanza`` followed by ``seal_share_to_session``:
the same bytes for the same ephemeral secret (the release vectors too), and the same refusal
(exception type and message) for every attack the single-stanza functions refuse.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Callable
from functools import partial
from pathlib import Path

import nacl.bindings
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import escrow
from crypto.age.format import FileKey, Stanza, parse_header
from crypto.age.x25519 import X25519Identity
from crypto.encoding import b64encode
from crypto.errors import EscrowError
from crypto.escrow import (
    CustodianKey,
    EscrowRecipients,
    NotThisCustodianError,
    SessionKey,
    ShareReleaser,
    open_escrow_stanza,
    open_released_share,
)
from crypto.escrow.release import _seal_share_to_session_from_parts
from crypto.escrow.shamir import Share, _split_from_coefficients
from crypto.escrow.stanza import stanza_ad
from crypto.escrow.wrap import seal as escrow_seal
from crypto.metadata import RecordingKind, RecordingMetadata

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "escrow.json").read_text())
LOW_ORDER_POINTS = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
]
META = RecordingMetadata(
    "site-1", "cam-1", "rec-0001", RecordingKind.SEGMENT, 1_700_000_000_000, 1_700_000_010_000
)


@pytest.fixture(scope="module")
def custodians() -> list[CustodianKey]:
    return [CustodianKey.generate() for _ in range(3)]


@pytest.fixture()
def stanzas(custodians: list[CustodianKey]) -> list[Stanza]:
    file_key = FileKey(secrets.token_bytes(16))
    return EscrowRecipients([c.public_key() for c in custodians], 2, META).wrap(file_key)


def _outcome(call: Callable[[], object]) -> tuple[str, str] | object:
    """The result of ``call``, or (exception type, message) if it raised."""
    try:
        return call()
    except EscrowError as exc:
        return type(exc).__name__, str(exc)


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def test_release_equals_open_then_seal(
    custodians: list[CustodianKey], stanzas: list[Stanza]
) -> None:
    session = SessionKey.generate()
    ephemeral = secrets.token_bytes(32)
    releaser = ShareReleaser(custodians[0], session.public_key(), "rel-1", ephemeral=ephemeral)
    share = releaser.open(stanzas[0], META)
    assert share == open_escrow_stanza(stanzas[0], custodians[0], META)
    nonce = secrets.token_bytes(16)
    sealed = releaser._seal_with(share, META, nonce)
    assert sealed == _seal_share_to_session_from_parts(
        share, session.public_key(), META, "rel-1", ephemeral, nonce
    )
    assert open_released_share(releaser.seal(share, META), session, META, release_id="rel-1") == (
        share
    )
    # One ephemeral key per release, fresh random bytes (so a key of its own) per share.
    a, b = releaser.seal(share, META), releaser.seal(share, META)
    assert a[:32] == b[:32] and a[32:48] != b[32:48] and a[48:] != b[48:]
    other = ShareReleaser(custodians[0], session.public_key(), "rel-1").seal(share, META)
    assert other[:32] != a[:32]


def test_one_opener_opens_a_whole_release(
    custodians: list[CustodianKey], stanzas: list[Stanza]
) -> None:
    """The operator's ReleaseOpener: one X25519 per ephemeral key, each share its own key;
    a share whose random bytes were swapped for another's does not open."""
    session = SessionKey.generate()
    releaser = ShareReleaser(custodians[0], session.public_key(), "rel-9")
    share = releaser.open(stanzas[0], META)
    metas = [dataclasses.replace(META, recording_id=f"rec-{i:04d}") for i in range(5)]
    sealed = [releaser.seal(share, m) for m in metas]
    opener = escrow.ReleaseOpener(session, "rel-9")
    assert [opener.open(s, m) for s, m in zip(sealed, metas, strict=True)] == [share] * 5
    swapped = sealed[0][:32] + sealed[1][32:48] + sealed[0][48:]
    with pytest.raises(EscrowError, match="released share does not open"):
        opener.open(swapped, metas[0])
    with pytest.raises(EscrowError, match="released share does not open"):
        escrow.ReleaseOpener(session, "rel-10").open(sealed[0], metas[0])
    assert "rel-9" not in repr(opener) and session.secret_bytes().hex() not in repr(opener)


@settings(max_examples=30, deadline=None)
@given(
    session_pk=st.binary(min_size=32, max_size=32),
    ephemeral=st.binary(min_size=32, max_size=32),
    nonce=st.binary(min_size=16, max_size=16),
)
def test_seal_matches_pynacl_for_any_session_key(
    session_pk: bytes, ephemeral: bytes, nonce: bytes
) -> None:
    """Any 32 bytes, high bit and non-canonical points included: the batch path (HKDF
    Extract once, Expand per share) and the single one agree, or both refuse."""
    share = Share(1, 2, bytes(range(16)))
    custodian = CustodianKey(bytes(range(32)))
    want = _outcome(
        lambda: _seal_share_to_session_from_parts(share, session_pk, META, "r", ephemeral, nonce)
    )
    got = _outcome(
        lambda: ShareReleaser(custodian, session_pk, "r", ephemeral=ephemeral)._seal_with(
            share, META, nonce
        )
    )
    assert got == want


@pytest.mark.parametrize("vector", VECTORS["release"], ids=lambda v: v["name"])
def test_release_vectors(vector: dict) -> None:  # type: ignore[type-arg]
    metadata = RecordingMetadata.from_json(vector["metadata"])
    session = SessionKey(bytes.fromhex(vector["session_secret_key"]))
    releaser = ShareReleaser(
        CustodianKey.generate(),
        session.public_key(),
        vector["release_id"],
        ephemeral=bytes.fromhex(vector["ephemeral_secret_key"]),
    )
    share = Share.from_bytes(bytes.fromhex(vector["share"]))
    sealed = releaser._seal_with(share, metadata, bytes.fromhex(vector["nonce"]))
    assert sealed.hex() == vector["sealed"]


@pytest.mark.parametrize("vector", VECTORS["escrow"], ids=lambda v: v["name"])
def test_escrow_vectors_open(vector: dict) -> None:  # type: ignore[type-arg]
    metadata = RecordingMetadata.from_json(vector["metadata"])
    header = parse_header(vector["header"].encode())
    opened: list[str] = []
    for secret in vector["custodian_secret_keys"]:
        key = CustodianKey(bytes.fromhex(secret))
        releaser = ShareReleaser(key, SessionKey.generate().public_key(), "r")
        for stanza in escrow.escrow_stanzas(header.stanzas):
            want = _outcome(partial(open_escrow_stanza, stanza, key, metadata))
            assert _outcome(partial(releaser.open, stanza, metadata)) == want
            if isinstance(want, Share):
                opened.append(want.to_bytes().hex())
    assert opened == vector["shares"]


def _mutations(stanza: Stanza, other: Stanza) -> list[Stanza]:
    a, b = stanza.args, stanza.body
    out = [Stanza(stanza.type, a, _flip(b, i)) for i in (0, 18, 19, 34)]
    out += [Stanza(stanza.type, (*a[:4], b64encode(p)), b) for p in LOW_ORDER_POINTS]
    out += [
        Stanza(stanza.type, (*a[:4], other.args[4]), b),  # replaced ephemeral key
        Stanza(stanza.type, (a[0], "2", *a[2:]), b),  # tampered index
        Stanza(stanza.type, (a[0], a[1], "3", a[3], a[4]), b),  # tampered threshold
        Stanza(stanza.type, a[:4], b),  # malformed: 4 arguments
        Stanza(stanza.type, (a[0], "01", *a[2:]), b),  # malformed index
        Stanza(stanza.type, (*a[:4], a[4][:-1] + "!"), b),  # non-canonical base64
        Stanza(stanza.type, a, b[:-1]),  # short body
        other,  # addressed to another custodian
        X25519Identity.generate().recipient().wrap(FileKey(bytes(16)))[0],  # not escrow
    ]
    return out


def test_every_refusal_of_open_is_the_same(
    custodians: list[CustodianKey], stanzas: list[Stanza]
) -> None:
    releaser = ShareReleaser(custodians[0], SessionKey.generate().public_key(), "r")
    others = [
        META,
        dataclasses.replace(META, recording_id="rec-0002"),
        dataclasses.replace(META, end_ms=META.end_ms + 1),
    ]
    for metadata in others:
        for bad in _mutations(stanzas[0], stanzas[1]):
            want = _outcome(partial(open_escrow_stanza, bad, custodians[0], metadata))
            got = _outcome(partial(releaser.open, bad, metadata))
            assert isinstance(want, tuple)  # every mutation is refused ...
            assert got == want  # ... with the same exception and message
    with pytest.raises(NotThisCustodianError):
        releaser.open(stanzas[1], META)


def test_share_disagreeing_with_its_stanza_is_refused(custodians: list[CustodianKey]) -> None:
    custodian = custodians[0]
    share = _split_from_coefficients(bytes(16), 2, 3, bytes(range(16)))[1]
    ephemeral = bytes(range(32))
    info = escrow.EscrowStanzaInfo(
        custodian.key_id(), 1, 2, 3, nacl.bindings.crypto_scalarmult_base(ephemeral)
    )
    body = escrow_seal(
        escrow.ESCROW_LABEL,
        custodian.public_key().data,
        ephemeral,
        info.ephemeral_public_key,
        share.to_bytes(),
        stanza_ad(META, info.args()),
    )
    stanza = Stanza("camvault-escrow", info.args(), body)
    releaser = ShareReleaser(custodian, SessionKey.generate().public_key(), "r")
    with pytest.raises(EscrowError, match="disagrees with its stanza"):
        releaser.open(stanza, META)


@pytest.mark.parametrize("release_id", ["", "has space", "x" * 129, "caf\u00e9"])
def test_bad_release_ids_are_refused_up_front(
    custodians: list[CustodianKey], release_id: str
) -> None:
    with pytest.raises(EscrowError, match="release id must be"):
        ShareReleaser(custodians[0], SessionKey.generate().public_key(), release_id)


def test_bad_arguments_are_refused(custodians: list[CustodianKey], stanzas: list[Stanza]) -> None:
    session = SessionKey.generate().public_key()
    with pytest.raises(EscrowError, match="session public key must be 32 bytes"):
        ShareReleaser(custodians[0], session[:31], "r")
    with pytest.raises(EscrowError, match="custodian_key must be a CustodianKey"):
        ShareReleaser(SessionKey.generate(), session, "r")  # type: ignore[arg-type]
    releaser = ShareReleaser(custodians[0], session, "r")
    with pytest.raises(EscrowError, match="metadata must be a RecordingMetadata"):
        releaser.open(stanzas[0], META.to_json())  # type: ignore[arg-type]
    with pytest.raises(EscrowError, match="only a file-key share"):
        releaser.seal(Share(1, 2, b"short"), META)
    with pytest.raises(EscrowError, match="metadata must be a RecordingMetadata"):
        releaser.seal(Share(1, 2, bytes(16)), None)  # type: ignore[arg-type]
    for point in LOW_ORDER_POINTS:
        low = ShareReleaser(custodians[0], point, "r")
        with pytest.raises(EscrowError, match="low-order point"):
            low.seal(Share(1, 2, bytes(16)), META)


def test_repr_does_not_show_keys(custodians: list[CustodianKey]) -> None:
    releaser = ShareReleaser(custodians[0], SessionKey.generate().public_key(), "r")
    assert custodians[0].secret_bytes().hex() not in repr(releaser)
