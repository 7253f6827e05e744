"""Shamir t-of-n secret sharing over GF(2^8), byte by byte.

Construction (Shamir, "How to share a secret", CACM 22(11), 1979), applied independently to
every byte of the secret:

- field: GF(2^8) with the AES reduction polynomial x^8 + x^4 + x^3 + x + 1 (0x11B),
  FIPS-197 section 4; addition is XOR;
- for each secret byte s, a polynomial f(X) = s + a_1 X + ... + a_{t-1} X^{t-1} whose
  coefficients a_k are independent uniformly random bytes (a zero leading coefficient is
  allowed on purpose: forcing a_{t-1} != 0 would make t-1 shares leak a little about s);
- share i (1 <= i <= n) is the point (x = i, y = f(i)) of every byte's polynomial; x = 0 is
  never used, it is where the secret lives;
- combining evaluates the Lagrange interpolation polynomial of the given points at X = 0.

Side channels. Secret bytes are only ever multiplied, never used as a table index or a branch
condition: :func:`_gf_mul` is the shift-and-add ("Russian peasant") multiplication with the
conditional XORs replaced by masks, and inversion (only needed for the public x-coordinates)
is a fixed square-and-multiply chain computing a^254. Log/exp tables would be faster but
index memory with secret bytes (a cache-timing channel). CPython gives no hard constant-time
guarantee (small ints are objects), so this is "no secret-dependent control flow or memory
access", the best a pure-Python implementation can state.

Limits. With fewer than t shares the math does not fail: Lagrange interpolation of t-1
points simply yields an unrelated value. A :class:`Share` therefore records its threshold so
:func:`combine` can refuse too few shares, and the escrow layer checks the reconstructed file
key against the age header MAC, which detects any wrong or missing share.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence

from crypto.errors import ShareError

#: Version byte of the share encoding produced by :meth:`Share.to_bytes`.
SHARE_VERSION = 1
#: Largest number of shares: x-coordinates are the non-zero field elements 1..255.
MAX_SHARES = 255
_HEADER_SIZE = 3  # version || threshold || x


def _gf_mul(a: int, b: int) -> int:
    """Multiply a and b in GF(2^8) mod 0x11B without branches or table lookups.

    FIPS-197 section 4.2.1 (xtime): eight rounds of "if the low bit of b is set add a;
    multiply a by x, reducing by 0x1B when the top bit falls out", with both ifs turned
    into masks (``-bit & value`` is ``value`` when bit is 1 and 0 when bit is 0).
    """
    p = 0
    for _ in range(8):
        p ^= -(b & 1) & a
        carry = -(a >> 7) & 0x1B
        a = ((a << 1) & 0xFF) ^ carry
        b >>= 1
    return p


def _gf_inv(a: int) -> int:
    """Inverse in GF(2^8) as a^254 (a^255 = 1 for a != 0); maps 0 to 0.

    The exponent is fixed, so the chain of squarings and multiplications does not depend
    on ``a``. Callers only invert non-zero values (differences of distinct x-coordinates).
    """
    # 254 = 0b11111110: a^254 = a^2 * a^4 * a^8 * a^16 * a^32 * a^64 * a^128.
    result = 1
    square = a
    for _ in range(7):
        square = _gf_mul(square, square)
        result = _gf_mul(result, square)
    return result


class Share:
    """One share: the x-coordinate, the threshold it was split with, and the y bytes.

    Encoding (:meth:`to_bytes`): ``version (1 byte, = 1) || threshold (1 byte) || x (1 byte)
    || y (one byte per secret byte)``. The repr never shows ``y``.
    """

    __slots__ = ("_threshold", "_x", "_y")

    def __init__(self, x: int, threshold: int, y: bytes) -> None:
        if not isinstance(x, int) or isinstance(x, bool) or not 1 <= x <= MAX_SHARES:
            raise ShareError("share x-coordinate must be between 1 and 255 (0 is the secret)")
        if (
            not isinstance(threshold, int)
            or isinstance(threshold, bool)
            or not 1 <= threshold <= MAX_SHARES
        ):
            raise ShareError("share threshold must be between 1 and 255")
        if not isinstance(y, bytes) or len(y) == 0:
            raise ShareError("share value must be non-empty bytes")
        self._x = x
        self._threshold = threshold
        self._y = y

    @property
    def x(self) -> int:
        return self._x

    @property
    def threshold(self) -> int:
        return self._threshold

    @property
    def y(self) -> bytes:
        """The share value. Secret-like: any t shares reveal the secret."""
        return self._y

    def to_bytes(self) -> bytes:
        return bytes((SHARE_VERSION, self._threshold, self._x)) + self._y

    @classmethod
    def from_bytes(cls, data: bytes) -> Share:
        if not isinstance(data, bytes) or len(data) <= _HEADER_SIZE:
            raise ShareError("share encoding too short")
        if data[0] != SHARE_VERSION:
            raise ShareError(f"unknown share encoding version {data[0]}")
        return cls(x=data[2], threshold=data[1], y=data[_HEADER_SIZE:])

    def __repr__(self) -> str:
        return f"Share(x={self._x}, threshold={self._threshold}, y=<redacted {len(self._y)} bytes>)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Share):
            return NotImplemented
        return (
            self._x == other._x
            and self._threshold == other._threshold
            and hmac.compare_digest(self._y, other._y)
        )

    def __hash__(self) -> int:
        return hash((self._x, self._threshold, self._y))


def _check_parameters(secret: bytes, threshold: int, shares: int) -> None:
    if not isinstance(secret, bytes) or len(secret) == 0:
        raise ShareError("secret must be non-empty bytes")
    for value, what in ((threshold, "threshold"), (shares, "number of shares")):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ShareError(f"{what} must be an integer")
    if not 1 <= threshold <= shares <= MAX_SHARES:
        raise ShareError("need 1 <= threshold <= number of shares <= 255")


def split(secret: bytes, threshold: int, shares: int) -> list[Share]:
    """Split ``secret`` into ``shares`` shares, any ``threshold`` of which recover it.

    Share i has x-coordinate i (1..shares). Coefficients come from :mod:`secrets`.
    """
    _check_parameters(secret, threshold, shares)
    coefficients = secrets.token_bytes((threshold - 1) * len(secret))
    return _split_from_coefficients(secret, threshold, shares, coefficients)


def _split_from_coefficients(
    secret: bytes, threshold: int, shares: int, coefficients: bytes
) -> list[Share]:
    """Deterministic :func:`split` for known-answer tests.

    ``coefficients`` holds (threshold - 1) * len(secret) bytes: for secret byte j, the
    coefficients a_1 .. a_{t-1} are ``coefficients[j*(t-1) : (j+1)*(t-1)]``.
    """
    _check_parameters(secret, threshold, shares)
    degree = threshold - 1
    if not isinstance(coefficients, bytes) or len(coefficients) != degree * len(secret):
        raise ShareError("need exactly (threshold - 1) * len(secret) coefficient bytes")
    ys = [bytearray(len(secret)) for _ in range(shares)]
    for j, s in enumerate(secret):
        coeffs = coefficients[j * degree : (j + 1) * degree]
        for i in range(shares):
            x = i + 1
            # Horner: f(x) = (...(a_{t-1} x + a_{t-2}) x + ... + a_1) x + s
            acc = 0
            for a in reversed(coeffs):
                acc = _gf_mul(acc ^ a, x)
            ys[i][j] = acc ^ s
    return [Share(x=i + 1, threshold=threshold, y=bytes(ys[i])) for i in range(shares)]


def combine(shares: Sequence[Share]) -> bytes:
    """Recover the secret from at least ``threshold`` shares (Lagrange interpolation at 0).

    Refuses: no shares, shares of different thresholds or lengths, duplicate x-coordinates,
    fewer shares than the recorded threshold. All given shares are used; if more than
    ``threshold`` are given and one is inconsistent, the result is wrong (the caller's
    integrity check, e.g. the age header MAC, detects it).
    """
    shares = list(shares)
    if not shares:
        raise ShareError("no shares given")
    if not all(isinstance(s, Share) for s in shares):
        raise ShareError("combine expects Share objects")
    threshold = shares[0].threshold
    if any(s.threshold != threshold for s in shares):
        raise ShareError("shares were split with different thresholds")
    length = len(shares[0].y)
    if any(len(s.y) != length for s in shares):
        raise ShareError("shares have different lengths")
    xs = [s.x for s in shares]
    if len(set(xs)) != len(xs):
        raise ShareError("duplicate share x-coordinate")
    if len(shares) < threshold:
        raise ShareError(
            f"too few shares: {len(shares)} given, threshold is {threshold} "
            "(fewer shares would interpolate to an unrelated value)"
        )
    # Lagrange basis at 0: l_i(0) = prod_{j != i} x_j / (x_j - x_i); in GF(2^8) minus is XOR.
    # Only the public x-coordinates are inverted.
    basis = []
    for i, xi in enumerate(xs):
        num, den = 1, 1
        for j, xj in enumerate(xs):
            if j != i:
                num = _gf_mul(num, xj)
                den = _gf_mul(den, xj ^ xi)
        basis.append(_gf_mul(num, _gf_inv(den)))
    out = bytearray(length)
    for share, li in zip(shares, basis, strict=True):
        y = share.y
        for k in range(length):
            out[k] ^= _gf_mul(y[k], li)
    return bytes(out)
