"""crypto.encoding: the three base64 spellings, each with exactly one text per byte string."""

from __future__ import annotations

import os

import pytest

from crypto.encoding import (
    Base64Error,
    NonCanonicalBase64Error,
    b64decode,
    b64decode_padded,
    b64encode,
    b64encode_padded,
    b64url_decode,
    b64url_encode,
)

SPELLINGS = [
    (b64encode, b64decode),
    (b64url_encode, b64url_decode),
    (b64encode_padded, b64decode_padded),
]


@pytest.mark.parametrize(("encode", "decode"), SPELLINGS)
@pytest.mark.parametrize("size", [0, 1, 2, 3, 31, 32, 33])
def test_round_trip(encode: object, decode: object, size: int) -> None:
    assert callable(encode) and callable(decode)
    data = os.urandom(size)
    text = encode(data)
    assert decode(text) == data
    assert decode(text.encode("ascii")) == data


@pytest.mark.parametrize(
    ("decode", "text", "error"),
    [
        (b64decode, "_w", Base64Error),  # base64url alphabet
        (b64decode, "/w==", Base64Error),  # padding
        (b64decode, "/x", NonCanonicalBase64Error),  # non-zero trailing bits
        (b64decode, "AAAAA", Base64Error),  # impossible length
        (b64url_decode, "/w", Base64Error),  # standard alphabet
        (b64url_decode, "_w==", Base64Error),
        (b64url_decode, "_x", NonCanonicalBase64Error),
        (b64decode_padded, "/w", Base64Error),  # padding missing
        (b64decode_padded, "/x==", NonCanonicalBase64Error),
        (b64decode_padded, "/w=", Base64Error),
        (b64decode_padded, "/w==\n", Base64Error),  # whitespace
        (b64decode_padded, "\u00e9AAA", Base64Error),  # non-ASCII
    ],
)
def test_refusals(decode: object, text: str, error: type[Exception]) -> None:
    assert callable(decode)
    with pytest.raises(error):
        decode(text)


def test_errors_are_value_errors() -> None:
    assert issubclass(NonCanonicalBase64Error, Base64Error)
    assert issubclass(Base64Error, ValueError)
    with pytest.raises(Base64Error):
        b64decode(42)  # type: ignore[arg-type]
