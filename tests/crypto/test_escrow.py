"""Tests of crypto.escrow: camvault-escrow stanzas, release re-sealing, header-MAC combine.

Every refusal is attacked and the test asserts the exception type and the reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import secrets
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import nacl.bindings
import pyrage
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import age, escrow
from crypto.age.format import (
    FileKey,
    Stanza,
    compute_header_mac,
    encode_header,
    encode_header_without_mac,
    encode_stanza,
    parse_header,
)
from crypto.age.stream import decrypt_payload
from crypto.age.x25519 import X25519Identity, format_identity_file
from crypto.encoding import b64decode, b64encode
from crypto.errors import (
    EscrowError,
    HeaderError,
    IncorrectIdentityError,
    KeyFormatError,
    ShareError,
)
from crypto.escrow import (
    CustodianKey,
    CustodianPublicKey,
    EscrowRecipients,
    NotThisCustodianError,
    SessionKey,
    build_recipient_set,
    combine_file_key,
    escrow_stanzas,
    open_escrow_stanza,
    open_released_share,
    parse_escrow_stanza,
    seal_share_to_session,
)
from crypto.escrow.release import _seal_share_to_session_from_parts
from crypto.escrow.shamir import Share, _split_from_coefficients
from crypto.escrow.stanza import stanza_ad
from crypto.escrow.wrap import seal as escrow_seal
from crypto.metadata import RecordingKind, RecordingMetadata

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "escrow.json").read_text())
NOT_OPEN = "does not open"

# Low-order points of Curve25519 (RFC 7748 section 6.1 / libsodium's blocklist): X25519 with
# any of them gives the all-zero shared secret.
LOW_ORDER_POINTS = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
]


def _metadata(recording_id: str = "rec-0001", **changes: object) -> RecordingMetadata:
    base = RecordingMetadata(
        site_id="site-1",
        camera_id="cam-1",
        recording_id=recording_id,
        kind=RecordingKind.SEGMENT,
        start_ms=1_700_000_000_000,
        end_ms=1_700_000_010_000,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _header(stanzas: list[Stanza], file_key: FileKey) -> bytes:
    return encode_header(stanzas, compute_header_mac(file_key, encode_header_without_mac(stanzas)))


@pytest.fixture(scope="module")
def custodians() -> list[CustodianKey]:
    return [CustodianKey.generate() for _ in range(3)]


@dataclasses.dataclass
class Recording:
    metadata: RecordingMetadata
    file_key: FileKey
    stanzas: list[Stanza]
    header: bytes


def _record(custodians: list[CustodianKey], metadata: RecordingMetadata, t: int = 2) -> Recording:
    file_key = FileKey(secrets.token_bytes(16))
    recipients = EscrowRecipients([c.public_key() for c in custodians], t, metadata)
    stanzas = recipients.wrap(file_key)
    return Recording(metadata, file_key, stanzas, _header(stanzas, file_key))


@pytest.fixture()
def rec(custodians: list[CustodianKey]) -> Recording:
    return _record(custodians, _metadata())


def _open_all(rec: Recording, custodians: list[CustodianKey]) -> list[Share]:
    return [
        open_escrow_stanza(s, c, rec.metadata) for s, c in zip(rec.stanzas, custodians, strict=True)
    ]


# --- layout and round trips ----------------------------------------------------------------------


def test_wrap_writes_one_stanza_per_custodian(
    rec: Recording, custodians: list[CustodianKey]
) -> None:
    assert len(rec.stanzas) == 3
    for i, (stanza, custodian) in enumerate(zip(rec.stanzas, custodians, strict=True), start=1):
        assert stanza.type == "camvault-escrow"
        key_id, index, threshold, count, ephemeral = stanza.args
        assert key_id == custodian.public_key().key_id()
        assert (index, threshold, count) == (str(i), "2", "3")
        assert len(b64decode(ephemeral)) == 32
        assert len(stanza.body) == 19 + 16  # share encoding + Poly1305 tag
        info = parse_escrow_stanza(stanza)
        assert (info.index, info.threshold, info.count) == (i, 2, 3)
    # Fresh ephemeral keys per stanza: never reused.
    assert len({s.args[4] for s in rec.stanzas}) == 3


def test_each_custodian_opens_its_share_and_any_two_reconstruct(
    rec: Recording, custodians: list[CustodianKey]
) -> None:
    shares = _open_all(rec, custodians)
    assert [(s.x, s.threshold) for s in shares] == [(1, 2), (2, 2), (3, 2)]
    for pair in ([0, 1], [0, 2], [1, 2], [2, 0]):
        assert combine_file_key([shares[i] for i in pair], rec.header) == rec.file_key
    assert combine_file_key(shares, rec.header) == rec.file_key


@settings(max_examples=25, deadline=None)
@given(data=st.data(), file_key=st.binary(min_size=16, max_size=16))
def test_any_t_of_n_through_the_stanza_layer(data: st.DataObject, file_key: bytes) -> None:
    n = data.draw(st.integers(min_value=2, max_value=16), label="n")
    t = data.draw(st.integers(min_value=2, max_value=n), label="t")
    seed = data.draw(st.binary(min_size=1, max_size=8), label="key seed")
    keys = [CustodianKey(hashlib.sha256(seed + bytes([i])).digest()) for i in range(n)]
    metadata = _metadata()
    fk = FileKey(file_key)
    stanzas = EscrowRecipients([k.public_key() for k in keys], t, metadata).wrap(fk)
    header = _header(stanzas, fk)
    chosen = data.draw(st.permutations(range(n)))[: data.draw(st.integers(t, n))]
    shares = [open_escrow_stanza(stanzas[i], keys[i], metadata) for i in chosen]
    assert combine_file_key(shares, header) == fk
    with pytest.raises(ShareError, match="too few shares"):
        combine_file_key(shares[: t - 1], header)


def test_release_round_trip(rec: Recording, custodians: list[CustodianKey]) -> None:
    session = SessionKey.generate()
    released = []
    for stanza, custodian in list(zip(rec.stanzas, custodians, strict=True))[1:]:
        share = open_escrow_stanza(stanza, custodian, rec.metadata)
        sealed = seal_share_to_session(
            share, session.public_key(), rec.metadata, release_id="rel-42"
        )
        assert len(sealed) == 32 + 16 + 19 + 16  # e_pk, random bytes, share, tag
        released.append(open_released_share(sealed, session, rec.metadata, release_id="rel-42"))
    assert combine_file_key(released, rec.header) == rec.file_key


def test_escrow_stanzas_filters_a_header(rec: Recording) -> None:
    customer = X25519Identity.generate().recipient().wrap(rec.file_key)
    grease = Stanza("some-other-type", ("x",), b"")
    mixed = [customer[0], rec.stanzas[0], grease, rec.stanzas[1], rec.stanzas[2]]
    assert escrow_stanzas(mixed) == rec.stanzas
    assert escrow_stanzas(customer) == []


# --- too few / foreign shares --------------------------------------------------------------------


def test_t_minus_one_shares_are_refused(rec: Recording, custodians: list[CustodianKey]) -> None:
    shares = _open_all(rec, custodians)
    with pytest.raises(ShareError, match="too few shares: 1 given, threshold is 2"):
        combine_file_key(shares[:1], rec.header)


def test_t_minus_one_shares_relabelled_fail_the_header_mac(
    custodians: list[CustodianKey],
) -> None:
    # 3-of-3: two shares relabelled as a 2-of-n split pass the threshold check; the math then
    # yields some 16-byte value, and only the header MAC shows that it is not the file key.
    rec = _record(custodians, _metadata(), t=3)
    shares = _open_all(rec, custodians)[:2]
    forged = [Share(x=s.x, threshold=2, y=s.y) for s in shares]
    with pytest.raises(EscrowError, match="shares do not reconstruct this recording's file key"):
        combine_file_key(forged, rec.header)


def test_shares_of_two_recordings_do_not_combine(custodians: list[CustodianKey]) -> None:
    a = _record(custodians, _metadata("rec-a"))
    b = _record(custodians, _metadata("rec-b"))
    share_a = open_escrow_stanza(a.stanzas[0], custodians[0], a.metadata)
    share_b = open_escrow_stanza(b.stanzas[1], custodians[1], b.metadata)
    for header in (a.header, b.header):
        with pytest.raises(EscrowError, match="do not reconstruct this recording's file key"):
            combine_file_key([share_a, share_b], header)


def test_stanza_moved_to_another_recording_opens_only_with_its_own_metadata(
    custodians: list[CustodianKey],
) -> None:
    a = _record(custodians, _metadata("rec-a"))
    b = _record(custodians, _metadata("rec-b"))
    # The storage side transplants a's stanza into b's header and claims b's metadata.
    with pytest.raises(EscrowError, match=NOT_OPEN):
        open_escrow_stanza(a.stanzas[0], custodians[0], b.metadata)
    # With its true metadata it opens, but its share does not belong to b's file key.
    share_a = open_escrow_stanza(a.stanzas[0], custodians[0], a.metadata)
    share_b = open_escrow_stanza(b.stanzas[1], custodians[1], b.metadata)
    with pytest.raises(EscrowError, match="do not reconstruct"):
        combine_file_key([share_a, share_b], b.header)


def test_combine_refuses_a_malformed_header(rec: Recording, custodians: list[CustodianKey]) -> None:
    shares = _open_all(rec, custodians)
    with pytest.raises(HeaderError, match="parsing age header"):
        combine_file_key(shares, b"not an age header\n")


def test_combine_refuses_shares_of_a_non_file_key_secret(rec: Recording) -> None:
    shares = _split_from_coefficients(b"0123456789", 2, 3, bytes(10))
    with pytest.raises(EscrowError, match="16-byte file key"):
        combine_file_key(shares[:2], rec.header)


# --- metadata binding ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"site_id": "site-2"},
        {"camera_id": "cam-2"},
        {"recording_id": "rec-0002"},
        {"kind": RecordingKind.LIVE},
        {"start_ms": 1_699_999_999_999},
        {"end_ms": 1_700_000_010_001},
    ],
    ids=lambda c: next(iter(c)),
)
def test_altered_metadata_does_not_open(
    rec: Recording, custodians: list[CustodianKey], changes: dict[str, object]
) -> None:
    other = dataclasses.replace(rec.metadata, **changes)  # type: ignore[arg-type]
    for stanza, custodian in zip(rec.stanzas, custodians, strict=True):
        with pytest.raises(EscrowError, match=NOT_OPEN):
            open_escrow_stanza(stanza, custodian, other)


# --- wrong key, tampering ------------------------------------------------------------------------


def test_wrong_custodian_key_is_incorrect_identity(
    rec: Recording, custodians: list[CustodianKey]
) -> None:
    with pytest.raises(NotThisCustodianError, match="another custodian key") as info:
        open_escrow_stanza(rec.stanzas[0], custodians[1], rec.metadata)
    assert isinstance(info.value, IncorrectIdentityError)
    assert isinstance(info.value, EscrowError)
    stranger = CustodianKey.generate()
    with pytest.raises(NotThisCustodianError, match="another custodian key"):
        open_escrow_stanza(rec.stanzas[0], stranger, rec.metadata)


def test_key_id_forged_to_the_wrong_custodian_does_not_open(
    rec: Recording, custodians: list[CustodianKey]
) -> None:
    stanza = rec.stanzas[0]
    forged = Stanza(
        stanza.type, (custodians[1].public_key().key_id(), *stanza.args[1:]), stanza.body
    )
    with pytest.raises(EscrowError, match=NOT_OPEN):
        open_escrow_stanza(forged, custodians[1], rec.metadata)


def test_non_escrow_stanza_is_not_for_this_custodian(
    rec: Recording, custodians: list[CustodianKey]
) -> None:
    x25519 = X25519Identity.generate().recipient().wrap(rec.file_key)[0]
    with pytest.raises(NotThisCustodianError, match="not a camvault-escrow stanza"):
        open_escrow_stanza(x25519, custodians[0], rec.metadata)


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


@pytest.mark.parametrize("index", [0, 18, 19, 34])
def test_tampered_body_does_not_open(
    rec: Recording, custodians: list[CustodianKey], index: int
) -> None:
    stanza = rec.stanzas[0]
    tampered = Stanza(stanza.type, stanza.args, _flip(stanza.body, index))
    with pytest.raises(EscrowError, match=NOT_OPEN):
        open_escrow_stanza(tampered, custodians[0], rec.metadata)


@pytest.mark.parametrize(
    ("position", "value"),
    [(1, "2"), (2, "3"), (3, "4")],
    ids=["index", "threshold", "count"],
)
def test_tampered_args_do_not_open(
    rec: Recording, custodians: list[CustodianKey], position: int, value: str
) -> None:
    stanza = rec.stanzas[0]
    args = list(stanza.args)
    args[position] = value
    with pytest.raises(EscrowError, match=NOT_OPEN):
        open_escrow_stanza(
            Stanza(stanza.type, tuple(args), stanza.body), custodians[0], rec.metadata
        )


def test_replaced_ephemeral_key_does_not_open(
    rec: Recording, custodians: list[CustodianKey]
) -> None:
    stanza = rec.stanzas[0]
    other = rec.stanzas[1].args[4]
    tampered = Stanza(stanza.type, (*stanza.args[:4], other), stanza.body)
    with pytest.raises(EscrowError, match=NOT_OPEN):
        open_escrow_stanza(tampered, custodians[0], rec.metadata)


@pytest.mark.parametrize("point", LOW_ORDER_POINTS, ids=["zero", "one", "order8"])
def test_low_order_ephemeral_key_is_refused(
    rec: Recording, custodians: list[CustodianKey], point: bytes
) -> None:
    stanza = rec.stanzas[0]
    tampered = Stanza(stanza.type, (*stanza.args[:4], b64encode(point)), stanza.body)
    with pytest.raises(EscrowError, match="low-order point"):
        open_escrow_stanza(tampered, custodians[0], rec.metadata)


@pytest.mark.parametrize("point", LOW_ORDER_POINTS, ids=["zero", "one", "order8"])
def test_low_order_custodian_key_is_refused_before_any_wrapping(point: bytes) -> None:
    # Refused when the key is built, so a signed site configuration cannot carry it.
    with pytest.raises(KeyFormatError, match="low-order point"):
        CustodianPublicKey(point)


def test_share_disagreeing_with_its_stanza_is_refused(custodians: list[CustodianKey]) -> None:
    # Only a broken or malicious writer could produce this (the AD covers the arguments):
    # a correctly sealed body whose share is share 2 while the stanza says index 1.
    metadata = _metadata()
    custodian = custodians[0]
    share = _split_from_coefficients(bytes(16), 2, 3, bytes(range(16)))[1]
    ephemeral = bytes(range(32))
    info = escrow.EscrowStanzaInfo(
        custodian.public_key().key_id(), 1, 2, 3, nacl.bindings.crypto_scalarmult_base(ephemeral)
    )
    body = escrow_seal(
        escrow.ESCROW_LABEL,
        custodian.public_key().data,
        ephemeral,
        info.ephemeral_public_key,
        share.to_bytes(),
        stanza_ad(metadata, info.args()),
    )
    stanza = Stanza("camvault-escrow", info.args(), body)
    with pytest.raises(EscrowError, match="disagrees with its stanza"):
        open_escrow_stanza(stanza, custodian, metadata)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda a, b: (a[:4], b), "expected 5 arguments"),
        (lambda a, b: ((*a, "extra"), b), "expected 5 arguments"),
        (lambda a, b: (("AAAAAAAA", *a[1:]), b), "key id: must encode 4 bytes"),
        (lambda a, b: (("DkCidw==", *a[1:]), b), "key id: not canonical"),
        (lambda a, b: ((a[0], "01", *a[2:]), b), "index must be a decimal"),
        (lambda a, b: ((a[0], "0", *a[2:]), b), "index must be a decimal"),
        (lambda a, b: ((a[0], "4", *a[2:]), b), "index must be between 1 and count"),
        (lambda a, b: ((a[0], a[1], "1", *a[3:]), b), "2 <= threshold"),
        (lambda a, b: ((a[0], a[1], "4", *a[3:]), b), "2 <= threshold"),
        (lambda a, b: ((*a[:3], "17", a[4]), b), "<= 16"),
        (lambda a, b: ((*a[:3], "+3", a[4]), b), "count must be a decimal"),
        (lambda a, b: ((*a[:4], a[4] + "A"), b), "ephemeral key"),
        (lambda a, b: ((*a[:4], a[4][:-1] + "!"), b), "ephemeral key: not canonical"),
        (lambda a, b: (a, b[:-1]), "body must be 35 bytes"),
        (lambda a, b: (a, b + b"\x00"), "body must be 35 bytes"),
    ],
)
def test_malformed_stanzas_are_refused(
    rec: Recording, custodians: list[CustodianKey], mutate: object, fragment: str
) -> None:
    stanza = rec.stanzas[0]
    args, body = mutate(stanza.args, stanza.body)  # type: ignore[operator]
    bad = Stanza(stanza.type, tuple(args), body)
    with pytest.raises(EscrowError, match=fragment):
        parse_escrow_stanza(bad)
    with pytest.raises(EscrowError, match=fragment):
        open_escrow_stanza(bad, custodians[0], rec.metadata)


# --- release re-sealing --------------------------------------------------------------------------


@pytest.fixture()
def released(rec: Recording, custodians: list[CustodianKey]) -> tuple[bytes, SessionKey]:
    session = SessionKey.generate()
    share = open_escrow_stanza(rec.stanzas[0], custodians[0], rec.metadata)
    sealed = seal_share_to_session(share, session.public_key(), rec.metadata, release_id="rel-1")
    return sealed, session


def test_released_share_with_wrong_session_key_does_not_open(
    rec: Recording, released: tuple[bytes, SessionKey]
) -> None:
    sealed, _ = released
    with pytest.raises(EscrowError, match=f"released share {NOT_OPEN}"):
        open_released_share(sealed, SessionKey.generate(), rec.metadata, release_id="rel-1")


@pytest.mark.parametrize(
    "changes",
    [{"site_id": "site-2"}, {"recording_id": "rec-9"}, {"end_ms": 1_700_000_010_001}],
    ids=lambda c: next(iter(c)),
)
def test_released_share_with_other_metadata_does_not_open(
    rec: Recording, released: tuple[bytes, SessionKey], changes: dict[str, object]
) -> None:
    sealed, session = released
    other = dataclasses.replace(rec.metadata, **changes)  # type: ignore[arg-type]
    with pytest.raises(EscrowError, match=NOT_OPEN):
        open_released_share(sealed, session, other, release_id="rel-1")


def test_released_share_with_other_release_id_does_not_open(
    rec: Recording, released: tuple[bytes, SessionKey]
) -> None:
    sealed, session = released
    with pytest.raises(EscrowError, match=NOT_OPEN):
        open_released_share(sealed, session, rec.metadata, release_id="rel-2")


@pytest.mark.parametrize("index", [0, 31, 32, 47, 48, 66, 82])
def test_tampered_released_share_does_not_open(
    rec: Recording, released: tuple[bytes, SessionKey], index: int
) -> None:
    sealed, session = released
    with pytest.raises(EscrowError, match=NOT_OPEN):
        open_released_share(_flip(sealed, index), session, rec.metadata, release_id="rel-1")


@pytest.mark.parametrize("size", [0, 67, 82, 84])
def test_released_share_of_wrong_length_is_refused(
    rec: Recording, released: tuple[bytes, SessionKey], size: int
) -> None:
    sealed, session = released
    bad = (sealed + b"\x00")[:size]
    with pytest.raises(EscrowError, match="must be 83 bytes"):
        open_released_share(bad, session, rec.metadata, release_id="rel-1")


@pytest.mark.parametrize("release_id", ["", "has space", "x" * 129, "caf\u00e9"])
def test_bad_release_ids_are_refused(
    rec: Recording, custodians: list[CustodianKey], release_id: str
) -> None:
    share = open_escrow_stanza(rec.stanzas[0], custodians[0], rec.metadata)
    with pytest.raises(EscrowError, match="release id must be"):
        seal_share_to_session(
            share, SessionKey.generate().public_key(), rec.metadata, release_id=release_id
        )


def test_release_refuses_non_file_key_shares_and_bad_session_keys(rec: Recording) -> None:
    session = SessionKey.generate().public_key()
    with pytest.raises(EscrowError, match="only a file-key share"):
        seal_share_to_session(Share(1, 2, b"short"), session, rec.metadata, release_id="r")
    with pytest.raises(EscrowError, match="session public key must be 32 bytes"):
        seal_share_to_session(Share(1, 2, bytes(16)), session[:31], rec.metadata, release_id="r")
    with pytest.raises(EscrowError, match="low-order point"):
        seal_share_to_session(Share(1, 2, bytes(16)), bytes(32), rec.metadata, release_id="r")


# --- construction refusals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "threshold", "fragment"),
    [
        (3, 1, "2 <= threshold"),
        (3, 4, "2 <= threshold"),
        (1, 1, "2 <= threshold"),
        (17, 2, "<= 16"),
        (3, True, "must be an integer"),
    ],
)
def test_escrow_set_size_is_checked(count: int, threshold: int, fragment: str) -> None:
    keys = [CustodianKey.generate().public_key() for _ in range(count)]
    with pytest.raises(EscrowError, match=fragment):
        EscrowRecipients(keys, threshold, _metadata())


def test_duplicate_custodian_is_refused(custodians: list[CustodianKey]) -> None:
    keys = [custodians[0].public_key(), custodians[1].public_key(), custodians[0].public_key()]
    with pytest.raises(EscrowError, match="appears twice"):
        EscrowRecipients(keys, 2, _metadata())


def test_wrong_types_are_refused(custodians: list[CustodianKey]) -> None:
    keys = [c.public_key() for c in custodians]
    with pytest.raises(EscrowError, match="CustodianPublicKey"):
        EscrowRecipients([k.data for k in keys], 2, _metadata())  # type: ignore[misc]
    with pytest.raises(EscrowError, match="RecordingMetadata"):
        EscrowRecipients(keys, 2, _metadata().to_json())  # type: ignore[arg-type]
    with pytest.raises(EscrowError, match="FileKey"):
        EscrowRecipients(keys, 2, _metadata()).wrap(bytes(16))  # type: ignore[arg-type]


def test_build_recipient_set_puts_customers_first_and_requires_one(
    custodians: list[CustodianKey],
) -> None:
    customer = X25519Identity.generate().recipient()
    keys = [c.public_key() for c in custodians]
    recipients = build_recipient_set([customer], keys, 2, _metadata())
    assert recipients[0] is customer
    assert isinstance(recipients[1], EscrowRecipients)
    assert recipients[1].threshold == 2 and recipients[1].custodians == tuple(keys)
    with pytest.raises(EscrowError, match="at least one customer recipient"):
        build_recipient_set([], keys, 2, _metadata())


# --- keys ----------------------------------------------------------------------------------------


def test_key_text_round_trip_and_redaction() -> None:
    key = CustodianKey.generate()
    text = key.to_text()
    assert text.startswith("CAMVAULT-CUSTODIAN-SECRET-KEY-1")
    assert CustodianKey.from_text(text).secret_bytes() == key.secret_bytes()
    public = key.public_key().to_text()
    assert public.startswith("camvault-custodian1")
    assert CustodianPublicKey.from_text(public) == key.public_key()
    for secret in (key, SessionKey.generate()):
        assert "redacted" in repr(secret)
        assert secret.secret_bytes().hex() not in repr(secret)
        assert text[31:] not in repr(secret)


def test_key_text_refusals() -> None:
    key = CustodianKey.generate()
    public = key.public_key().to_text()
    age_recipient = str(X25519Identity.generate().recipient())
    with pytest.raises(KeyFormatError, match="not a custodian public key"):
        CustodianPublicKey.from_text(age_recipient)
    with pytest.raises(KeyFormatError, match="checksum"):
        CustodianPublicKey.from_text(public[:-1] + ("q" if public[-1] != "q" else "p"))
    with pytest.raises(KeyFormatError, match="not a custodian key"):
        CustodianKey.from_text(X25519Identity.generate().to_text())
    with pytest.raises(KeyFormatError, match="not a custodian key"):
        CustodianKey.from_text(public)
    with pytest.raises(KeyFormatError, match="32 bytes"):
        CustodianPublicKey(bytes(31))
    with pytest.raises(KeyFormatError, match="32 bytes"):
        CustodianKey(bytes(33))


# --- known-answer vectors ------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["escrow"], ids=lambda v: v["name"])
def test_escrow_vectors(vector: dict) -> None:  # type: ignore[type-arg]
    metadata = RecordingMetadata.from_json(vector["metadata"])
    assert metadata.associated_data().decode() == vector["associated_data_prefix"]
    keys = [CustodianKey(bytes.fromhex(h)) for h in vector["custodian_secret_keys"]]
    assert [k.public_key().to_text() for k in keys] == vector["custodian_public_keys"]
    file_key = FileKey(bytes.fromhex(vector["file_key"]))
    recipients = EscrowRecipients([k.public_key() for k in keys], vector["threshold"], metadata)
    stanzas = recipients._wrap_from_parts(
        file_key,
        bytes.fromhex(vector["coefficients"]),
        [bytes.fromhex(h) for h in vector["ephemeral_secret_keys"]],
    )
    assert [
        {"type": s.type, "args": list(s.args), "body": b64encode(s.body)} for s in stanzas
    ] == vector["stanzas"]
    assert [encode_stanza(s).decode() for s in stanzas] == vector["stanza_text"]
    header = vector["header"].encode()
    assert _header(stanzas, file_key) == header
    assert list(parse_header(header).stanzas) == stanzas
    shares = [open_escrow_stanza(s, k, metadata) for s, k in zip(stanzas, keys, strict=True)]
    assert [s.to_bytes().hex() for s in shares] == vector["shares"]
    t = vector["threshold"]
    assert combine_file_key(shares[-t:], header) == file_key


@pytest.mark.parametrize("vector", VECTORS["release"], ids=lambda v: v["name"])
def test_release_vectors(vector: dict) -> None:  # type: ignore[type-arg]
    metadata = RecordingMetadata.from_json(vector["metadata"])
    session = SessionKey(bytes.fromhex(vector["session_secret_key"]))
    assert session.public_key().hex() == vector["session_public_key"]
    share = Share.from_bytes(bytes.fromhex(vector["share"]))
    sealed = _seal_share_to_session_from_parts(
        share,
        session.public_key(),
        metadata,
        vector["release_id"],
        bytes.fromhex(vector["ephemeral_secret_key"]),
        bytes.fromhex(vector["nonce"]),
    )
    assert sealed.hex() == vector["sealed"]
    opened = open_released_share(sealed, session, metadata, release_id=vector["release_id"])
    assert opened == share


# --- real age files ------------------------------------------------------------------------------


def test_escrowed_recording_round_trip(custodians: list[CustodianKey], tmp_path: Path) -> None:
    customer = X25519Identity.generate()
    metadata = _metadata()
    recipients = build_recipient_set(
        [customer.recipient()], [c.public_key() for c in custodians], 2, metadata
    )
    plaintext = b"frame data " * 10_000  # > 64 KiB: two STREAM chunks
    out = io.BytesIO()
    age.encrypt(recipients, io.BytesIO(plaintext), out)
    data = out.getvalue()
    stream = io.BytesIO(data)
    header = age.read_header(stream)
    header_bytes = header.encode()
    assert data.startswith(header_bytes)
    payload = stream.read()
    assert [s.type for s in header.stanzas] == ["X25519"] + ["camvault-escrow"] * 3

    # Customer: decrypts with the X25519 identity; the escrow stanzas are skipped.
    out = io.BytesIO()
    age.decrypt([customer], io.BytesIO(data), out)
    assert out.getvalue() == plaintext
    _, file_key = age.decrypt_header([customer], header_bytes)

    # Operator: any two custodians release their shares; combine, check MAC, decrypt.
    session = SessionKey.generate()
    stanzas = escrow_stanzas(header.stanzas)
    for pair in ([0, 1], [1, 2], [0, 2]):
        released = []
        for i in pair:
            share = open_escrow_stanza(stanzas[i], custodians[i], metadata)
            sealed = seal_share_to_session(share, session.public_key(), metadata, release_id="r1")
            released.append(open_released_share(sealed, session, metadata, release_id="r1"))
        recovered = combine_file_key(released, header_bytes)
        assert recovered == file_key
        out = io.BytesIO()
        decrypt_payload(recovered, io.BytesIO(payload), out)
        assert out.getvalue() == plaintext
        with pytest.raises(ShareError, match="too few shares"):
            combine_file_key(released[:1], header_bytes)

    # The reference age CLI ignores the camvault-escrow stanzas and decrypts.
    age_cli = shutil.which("age")
    if age_cli is None:
        pytest.fail("the age CLI is required for this test (apt-get install age)")
    identity_file = tmp_path / "customer.txt"
    identity_file.write_text(format_identity_file(customer, datetime.now(UTC)))
    result = subprocess.run(
        [age_cli, "--decrypt", "--identity", str(identity_file)],
        input=data,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == plaintext
    # And so does rage (through its Python binding).
    rage_identity = pyrage.x25519.Identity.from_str(customer.to_text())
    assert pyrage.decrypt(data, [rage_identity]) == plaintext
