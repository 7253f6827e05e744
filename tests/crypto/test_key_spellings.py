"""Attacks from the crypto review: one key in two spellings, low-order keys, huge integers.

X25519 masks bit 255 and reduces mod 2^255-19 (RFC 7748 section 5), so distinct byte strings
can name one key. If a custodian set accepted two spellings of custodian A's key, A alone
would hold two shares and open a t=2 recording by itself.
"""

from __future__ import annotations

import dataclasses

import pytest

from crypto import escrow, statements
from crypto.age.x25519 import X25519Recipient, generate_identity, normalized_public_key
from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import KeyFormatError, StatementError

P = 2**255 - 19

# Low-order points of Curve25519 (the Montgomery u-coordinates of order 1, 2, 4, 8 points,
# as listed by cr.yp.to/ecdh.html and used in age's test suite).
LOW_ORDER = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    (P - 1).to_bytes(32, "little"),
]


def _high_bit(key: bytes) -> bytes:
    return key[:31] + bytes([key[31] | 0x80])


def test_custodian_key_with_high_bit_set_is_refused() -> None:
    real = escrow.CustodianKey.generate().public_key().data
    with pytest.raises(KeyFormatError, match="non-canonical X25519 public key"):
        escrow.CustodianPublicKey(_high_bit(real))


def test_custodian_key_not_reduced_mod_p_is_refused() -> None:
    # 2^255 - 19 + 2 names the same field element as 2, which is a canonical spelling.
    with pytest.raises(KeyFormatError, match="non-canonical"):
        escrow.CustodianPublicKey((P + 2).to_bytes(32, "little"))


@pytest.mark.parametrize("point", LOW_ORDER, ids=lambda p: p.hex()[:8])
def test_low_order_custodian_key_is_refused(point: bytes) -> None:
    with pytest.raises(KeyFormatError, match=r"low-order point|non-canonical"):
        escrow.CustodianPublicKey(point)


def test_escrow_recipients_cannot_hold_one_custodian_twice_in_another_spelling() -> None:
    a = escrow.CustodianKey.generate().public_key()
    with pytest.raises(KeyFormatError):
        escrow.CustodianPublicKey(_high_bit(a.data))
    # The accepted spelling is unique, so the duplicate check on canonical bytes is sound.
    assert normalized_public_key(a.data) == int.from_bytes(a.data, "little")


def test_site_keys_refuse_a_custodian_key_listed_as_recipient_in_another_spelling() -> None:
    site_key = Ed25519SigningKey.generate()
    custodians = [escrow.CustodianKey.generate().public_key() for _ in range(3)]
    disguised = X25519Recipient(_high_bit(custodians[0].data))
    good = statements.SiteKeys(
        site_id="site-1",
        version=1,
        customer_key=site_key.public_key,
        recipients=(generate_identity().recipient(),),
        custodians=tuple(
            statements.Custodian(f"c{i}", k, Ed25519SigningKey.generate().public_key, None)
            for i, k in enumerate(custodians)
        ),
        threshold=2,
        issued_at_ms=1,
    )
    with pytest.raises(StatementError, match="also listed in recipients"):
        dataclasses.replace(good, recipients=(*good.recipients, disguised))


def test_statement_with_a_huge_integer_is_a_statement_error_not_a_crash() -> None:
    with pytest.raises(StatementError, match="exact IEEE-754 range"):
        statements.parse_signed(b'{"body":' + b"9" * 5000 + b"}")
