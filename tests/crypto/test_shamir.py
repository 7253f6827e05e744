"""Tests of crypto.escrow.shamir: field arithmetic, split/combine properties, secrecy, refusals."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import ShareError
from crypto.escrow.shamir import (
    Share,
    _gf_inv,
    _gf_mul,
    _split_from_coefficients,
    combine,
    split,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "escrow.json"
ALL_PAIRS = [(t, n) for n in range(1, 17) for t in range(1, n + 1)]
byte = st.integers(min_value=0, max_value=255)


# --- reference field arithmetic (slow, different algorithm) ----------------------------------


def _ref_mul(a: int, b: int) -> int:
    """Carry-less product, then reduction by long division by 0x11B."""
    product = 0
    for bit in range(8):
        if (b >> bit) & 1:
            product ^= a << bit
    for bit in range(14, 7, -1):
        if (product >> bit) & 1:
            product ^= 0x11B << (bit - 8)
    return product


def test_mul_matches_reference_on_the_whole_table() -> None:
    for a in range(256):
        for b in range(256):
            assert _gf_mul(a, b) == _ref_mul(a, b), (a, b)


def test_mul_known_answers_from_fips_197() -> None:
    # FIPS-197 section 4.2 and 4.2.1 worked examples; {53} and {ca} are inverses (5.1.1).
    assert _gf_mul(0x57, 0x83) == 0xC1
    assert _gf_mul(0x57, 0x13) == 0xFE
    assert [_gf_mul(0x57, 1 << k) for k in range(1, 5)] == [0xAE, 0x47, 0x8E, 0x07]
    assert _gf_mul(0x53, 0xCA) == 0x01
    assert _gf_inv(0x53) == 0xCA


def test_inverse_of_every_nonzero_element() -> None:
    assert _gf_inv(0) == 0
    seen = set()
    for a in range(1, 256):
        inv = _gf_inv(a)
        assert _gf_mul(a, inv) == 1
        seen.add(inv)
    assert seen == set(range(1, 256))


@given(byte, byte, byte)
def test_field_axioms(a: int, b: int, c: int) -> None:
    assert _gf_mul(a, b) == _gf_mul(b, a)
    assert _gf_mul(_gf_mul(a, b), c) == _gf_mul(a, _gf_mul(b, c))
    assert _gf_mul(a, b ^ c) == _gf_mul(a, b) ^ _gf_mul(a, c)
    assert _gf_mul(a, 1) == a
    assert _gf_mul(a, 0) == 0


# --- split / combine ----------------------------------------------------------------------------


@pytest.mark.parametrize(("t", "n"), ALL_PAIRS, ids=[f"{t}of{n}" for t, n in ALL_PAIRS])
@settings(max_examples=6, deadline=None)
@given(secret=st.binary(min_size=1, max_size=24), data=st.data())
def test_any_t_subset_recovers_the_secret(
    t: int, n: int, secret: bytes, data: st.DataObject
) -> None:
    shares = split(secret, t, n)
    assert [s.x for s in shares] == list(range(1, n + 1))
    assert all(s.threshold == t and len(s.y) == len(secret) for s in shares)
    order = data.draw(st.permutations(shares))
    k = data.draw(st.integers(min_value=t, max_value=n))
    assert combine(order[:k]) == secret


@settings(max_examples=30, deadline=None)
@given(secret=st.binary(min_size=1, max_size=16), data=st.data())
def test_every_t_subset_of_a_small_split_recovers(secret: bytes, data: st.DataObject) -> None:
    t, n = 3, 5
    coefficients = data.draw(st.binary(min_size=2 * len(secret), max_size=2 * len(secret)))
    shares = _split_from_coefficients(secret, t, n, coefficients)
    for subset in itertools.combinations(shares, t):
        assert combine(subset) == secret


def test_threshold_one_shares_are_the_secret() -> None:
    shares = split(b"\x01\x02\x03", 1, 4)
    assert all(s.y == b"\x01\x02\x03" for s in shares)


def test_known_answer_two_of_three() -> None:
    # f(X) = 0x00 + 0x57 X: shares are 0x57 * x, i.e. FIPS-197's xtime examples.
    shares = _split_from_coefficients(b"\x00", 2, 3, b"\x57")
    assert [s.to_bytes().hex() for s in shares] == ["01020157", "010202ae", "010203f9"]
    assert combine(shares[1:]) == b"\x00"


def test_known_answer_vectors_from_json() -> None:
    vectors = json.loads(VECTORS.read_text())["shamir"]
    assert vectors
    for v in vectors:
        secret = bytes.fromhex(v["secret"])
        shares = _split_from_coefficients(
            secret, v["threshold"], v["shares"], bytes.fromhex(v["coefficients"])
        )
        assert [s.to_bytes().hex() for s in shares] == v["share_bytes"]
        parsed = [Share.from_bytes(bytes.fromhex(h)) for h in v["share_bytes"]]
        assert combine(parsed[-v["threshold"] :]) == secret


# --- t-1 shares carry no information -------------------------------------------------------------


def _poly_mul_linear(poly: list[int], root: int) -> list[int]:
    """poly(X) * (X + root) in GF(2^8)[X], coefficients lowest degree first."""
    out = [0] * (len(poly) + 1)
    for k, c in enumerate(poly):
        out[k + 1] ^= c
        out[k] ^= _gf_mul(c, root)
    return out


def _poly_through(points: list[tuple[int, int]]) -> list[int]:
    """Coefficients of the unique polynomial of degree < len(points) through the points."""
    result = [0] * len(points)
    for i, (xi, yi) in enumerate(points):
        basis = [1]
        denominator = 1
        for j, (xj, _) in enumerate(points):
            if j != i:
                basis = _poly_mul_linear(basis, xj)
                denominator = _gf_mul(denominator, xi ^ xj)
        scale = _gf_mul(yi, _gf_inv(denominator))
        for k, c in enumerate(basis):
            result[k] ^= _gf_mul(c, scale)
    return result


def test_one_share_of_two_is_compatible_with_every_secret_byte() -> None:
    # Exhaustive for t = 2: for each observed share value y at x = 3, every secret byte s
    # is produced by exactly one coefficient a (y = s + a*3), so y says nothing about s.
    for y in (0x00, 0x5A, 0xFF):
        counts = [0] * 256
        for s in range(256):
            for a in range(256):
                if s ^ _gf_mul(a, 3) == y:
                    counts[s] += 1
        assert counts == [1] * 256


@pytest.mark.parametrize("t", [2, 3, 4, 5])
def test_t_minus_one_shares_are_consistent_with_every_secret(t: int) -> None:
    n = t + 2
    secret = b"\xa7"
    coefficients = bytes(range(0x31, 0x31 + t - 1))
    shares = _split_from_coefficients(secret, t, n, coefficients)
    observed = shares[1:t]  # any t-1 shares: here x = 2..t
    points = [(s.x, s.y[0]) for s in observed]
    explanations = set()
    for candidate in range(256):
        poly = _poly_through([(0, candidate), *points])
        assert poly[0] == candidate
        # The coefficient vector that explains the observed shares with this secret:
        alt = _split_from_coefficients(bytes([candidate]), t, n, bytes(poly[1:]))
        assert [alt[s.x - 1] for s in observed] == observed
        explanations.add(bytes(poly[1:]))
    # 256 secrets, 256 distinct coefficient vectors: uniform coefficients => uniform secret.
    assert len(explanations) == 256


# --- encoding and repr ---------------------------------------------------------------------------


def test_share_encoding_round_trip_and_layout() -> None:
    share = Share(x=7, threshold=3, y=b"\x10\x20")
    assert share.to_bytes() == b"\x01\x03\x07\x10\x20"
    assert Share.from_bytes(share.to_bytes()) == share


def test_share_repr_is_redacted() -> None:
    share = Share(x=2, threshold=2, y=bytes.fromhex("deadbeefcafe"))
    text = repr(share)
    assert "redacted" in text
    assert "dead" not in text.lower()
    assert "x=2" in text


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "t", "n", "fragment"),
    [
        (b"", 2, 3, "non-empty"),
        (b"k", 0, 3, "1 <= threshold"),
        (b"k", 4, 3, "1 <= threshold"),
        (b"k", 2, 256, "<= 255"),
        (b"k", True, 3, "integer"),
        ("k", 2, 3, "non-empty bytes"),
    ],
)
def test_split_refuses_bad_parameters(secret: bytes, t: int, n: int, fragment: str) -> None:
    with pytest.raises(ShareError, match=fragment):
        split(secret, t, n)


def test_split_from_coefficients_refuses_wrong_coefficient_length() -> None:
    with pytest.raises(ShareError, match="coefficient bytes"):
        _split_from_coefficients(b"ab", 2, 3, b"\x01")


def test_combine_refuses_too_few_shares() -> None:
    shares = split(b"0123456789abcdef", 3, 5)
    with pytest.raises(ShareError, match="too few shares: 2 given, threshold is 3"):
        combine(shares[:2])


def test_too_few_shares_are_refused_by_the_recorded_threshold_not_by_the_math() -> None:
    # Relabelling two shares as 2-of-n shares makes the math "succeed" with a wrong value:
    # only the recorded threshold (and, in escrow, the header MAC) catches it.
    secret = b"0123456789abcdef"
    shares = _split_from_coefficients(secret, 3, 5, bytes(range(1, 33)))
    forged = [Share(x=s.x, threshold=2, y=s.y) for s in shares[:2]]
    assert combine(forged) != secret


def test_combine_refuses_duplicate_x() -> None:
    shares = split(b"secret", 2, 3)
    with pytest.raises(ShareError, match="duplicate share x-coordinate"):
        combine([shares[0], shares[0]])


def test_combine_refuses_mismatched_lengths() -> None:
    a = split(b"secret", 2, 3)
    b = split(b"secret!", 2, 3)
    with pytest.raises(ShareError, match="different lengths"):
        combine([a[0], b[1]])


def test_combine_refuses_mixed_thresholds() -> None:
    a = split(b"secret", 2, 3)
    b = split(b"secret", 3, 3)
    with pytest.raises(ShareError, match="different thresholds"):
        combine([a[0], b[1], b[2]])


def test_combine_refuses_no_shares_and_non_shares() -> None:
    with pytest.raises(ShareError, match="no shares"):
        combine([])
    with pytest.raises(ShareError, match="Share objects"):
        combine([b"\x01\x02\x01\x00"])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("x", "t", "y", "fragment"),
    [
        (0, 2, b"\x01", "0 is the secret"),
        (256, 2, b"\x01", "between 1 and 255"),
        (1, 0, b"\x01", "threshold must be between"),
        (1, 2, b"", "non-empty"),
    ],
)
def test_share_refuses_bad_fields(x: int, t: int, y: bytes, fragment: str) -> None:
    with pytest.raises(ShareError, match=fragment):
        Share(x=x, threshold=t, y=y)


@pytest.mark.parametrize(
    ("encoded", "fragment"),
    [
        (b"", "too short"),
        (b"\x01\x02\x03", "too short"),
        (b"\x02\x02\x01\xaa", "unknown share encoding version 2"),
        (b"\x01\x02\x00\xaa", "0 is the secret"),
        (b"\x01\x00\x01\xaa", "threshold must be between"),
    ],
)
def test_share_from_bytes_refuses_malformed(encoded: bytes, fragment: str) -> None:
    with pytest.raises(ShareError, match=fragment):
        Share.from_bytes(encoded)
