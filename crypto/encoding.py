"""Base64 (RFC 4648) in the three spellings camvault's formats use, with one strict decoder.

- unpadded standard base64: age stanzas, arguments and the header MAC (C2SP age spec,
  "Conventions used in this document");
- unpadded base64url (section 5): Ed25519 keys and signatures of signed statements;
- padded standard base64: signed notes and checkpoints (C2SP signed-note), HTTP structured
  field byte sequences (RFC 8941), ASCII armor lines.

Decoding accepts only the text that encoding the result produces: no foreign characters, no
missing or extra padding, no whitespace, and zero unused trailing bits (RFC 4648 section 3.5),
so every byte string has exactly one text form. Failures raise :class:`Base64Error` (a
``ValueError``); callers turn it into the error class of their context.
"""

from __future__ import annotations

import base64
import binascii

_DIGITS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_STANDARD = _DIGITS + b"+/"
_URLSAFE = _DIGITS + b"-_"


class Base64Error(ValueError):
    """The text is not base64 of the expected spelling."""


class NonCanonicalBase64Error(Base64Error):
    """Well-formed base64 with non-zero unused trailing bits: another text of the same bytes."""


def b64encode(data: bytes) -> str:
    """Standard base64 without ``=`` padding."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 4648 section 5)."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64encode_padded(data: bytes) -> str:
    """Standard base64 with ``=`` padding."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str | bytes) -> bytes:
    """Strictly decode unpadded standard base64."""
    return _decode(text, _STANDARD, urlsafe=False, padded=False)


def b64url_decode(text: str | bytes) -> bytes:
    """Strictly decode unpadded base64url."""
    return _decode(text, _URLSAFE, urlsafe=True, padded=False)


def b64decode_padded(text: str | bytes) -> bytes:
    """Strictly decode padded standard base64."""
    return _decode(text, _STANDARD, urlsafe=False, padded=True)


def _decode(text: object, alphabet: bytes, *, urlsafe: bool, padded: bool) -> bytes:
    if isinstance(text, str):
        raw = text.encode("ascii", "replace")
    elif isinstance(text, bytes):
        raw = text
    else:
        raise Base64Error("not a base64 string")
    digits = raw.rstrip(b"=") if padded else raw
    # Deleting the alphabet leaves nothing (a third of a regular expression's time on the
    # 1.5 KB arguments of hybrid stanzas).
    if digits.translate(None, alphabet):
        raise Base64Error("invalid base64 character or padding")
    tail = len(digits) % 4
    if tail == 1 or (padded and len(raw) - len(digits) != -tail % 4):
        raise Base64Error("invalid base64 length")
    try:
        data = base64.b64decode(
            digits + b"=" * (-tail % 4), altchars=b"-_" if urlsafe else None, validate=True
        )
    except binascii.Error as exc:  # pragma: no cover - alphabet and length are checked above
        raise Base64Error("invalid base64") from exc
    # Only the last, partial group has unused bits: it is canonical iff encoding its bytes
    # gives it back (every group of 4 characters is exactly 3 bytes).
    if tail:
        last = data[-(tail - 1) :]
        encoded = base64.urlsafe_b64encode(last) if urlsafe else base64.b64encode(last)
        if encoded.rstrip(b"=") != digits[-tail:]:
            raise NonCanonicalBase64Error("non-canonical base64")
    return data
