"""Bech32 (BIP 173) as the age spec uses it: no length limit on the data part.

C2SP age, "Conventions used in this document": a Bech32 string is all lowercase or all
uppercase, and its checksum is always computed over the lowercase form. Only the original
Bech32 checksum constant (1) is used, not Bech32m.
"""

from __future__ import annotations

from crypto.errors import KeyFormatError

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_REV = {c: i for i, c in enumerate(_CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_CHECKSUM_LEN = 6


def _polymod(values: list[int]) -> int:
    """BIP 173 checksum polynomial over GF(32)."""
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_GENERATOR):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _checksum(hrp: str, data: list[int]) -> list[int]:
    polymod = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ 1
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(_CHECKSUM_LEN)]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    """Regroup bits (BIP 173 reference ``convertbits``); strict about padding when decoding."""
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or (acc << (to_bits - bits)) & maxv:
        raise KeyFormatError("bech32: invalid padding in data part")
    return out


def encode(hrp: str, data: bytes) -> str:
    """Encode ``data`` under ``hrp``; the result has the case of ``hrp`` (all upper or lower)."""
    if not hrp or any(not 33 <= ord(c) <= 126 for c in hrp):
        raise KeyFormatError("bech32: invalid human-readable part")
    if hrp.lower() != hrp and hrp.upper() != hrp:
        raise KeyFormatError("bech32: mixed-case human-readable part")
    lower = hrp.lower()
    values = _convert_bits(data, 8, 5, pad=True)
    text = lower + "1" + "".join(_CHARSET[v] for v in values + _checksum(lower, values))
    return text.upper() if hrp.upper() == hrp and hrp.lower() != hrp else text


def decode(text: str) -> tuple[str, bytes]:
    """Decode a Bech32 string into (hrp as written, data); raises KeyFormatError."""
    if any(not 33 <= ord(c) <= 126 for c in text):
        raise KeyFormatError("bech32: invalid character")
    if text.lower() != text and text.upper() != text:
        raise KeyFormatError("bech32: mixed case")
    pos = text.rfind("1")
    if pos < 1 or pos + 1 + _CHECKSUM_LEN > len(text):
        raise KeyFormatError("bech32: missing separator or checksum")
    hrp = text[:pos]
    lower = text.lower()
    try:
        values = [_CHARSET_REV[c] for c in lower[pos + 1 :]]
    except KeyError:
        raise KeyFormatError("bech32: invalid data character") from None
    if _polymod(_hrp_expand(lower[:pos]) + values) != 1:
        raise KeyFormatError("bech32: invalid checksum")
    return hrp, bytes(_convert_bits(values[:-_CHECKSUM_LEN], 5, 8, pad=False))
