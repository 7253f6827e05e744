"""Public API of camvault's age v1 implementation (C2SP age spec).

Header and payload are separable (DESIGN.md): the header lives in the database, the payload
in the object store, and an exported recording is ``header || payload``.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from crypto.errors import HeaderError
from crypto.format import FileKey, Header, Stanza, compute_header_mac, parse_header

__all__ = [
    "FileKey",
    "Header",
    "Identity",
    "Recipient",
    "Stanza",
    "header_mac",
    "verify_header_mac",
]


@runtime_checkable
class Recipient(Protocol):
    """Wraps a file key into one or more stanzas (C2SP age, "Recipient stanza")."""

    def wrap(self, file_key: FileKey) -> list[Stanza]: ...


@runtime_checkable
class Identity(Protocol):
    """Unwraps the file key from the stanzas addressed to it.

    Raises IncorrectIdentityError when no stanza is for this identity (the caller tries the
    next identity); any other CryptoError is fatal for the file.
    """

    def unwrap(self, stanzas: Sequence[Stanza]) -> FileKey: ...


def header_mac(file_key: FileKey, header_without_mac: bytes) -> bytes:
    """HMAC-SHA-256 keyed by HKDF-SHA-256(file key, "", "header") over the header up to "---"."""
    return compute_header_mac(file_key, header_without_mac)


def verify_header_mac(header_bytes: bytes, file_key: FileKey) -> Header:
    """Parse a complete header (including its MAC line) and check its MAC under ``file_key``.

    Raises HeaderError if the header is malformed or the MAC does not match.
    """
    header = parse_header(header_bytes)
    _check_mac(header, file_key)
    return header


def _check_mac(header: Header, file_key: FileKey) -> None:
    expected = header_mac(file_key, header.encode_without_mac())
    if not hmac.compare_digest(expected, header.mac):
        raise HeaderError("header MAC mismatch: wrong file key or modified header")
