"""age v1 header format (C2SP age spec, "Header" section): stanzas, header encode/parse.

Owned by the age-format work; the types below are the shared contract other crypto modules
(escrow stanzas) build on.
"""

from __future__ import annotations

from dataclasses import dataclass

FILE_KEY_SIZE = 16


@dataclass(frozen=True, slots=True)
class Stanza:
    """One recipient stanza: ``-> type arg1 arg2 ...`` followed by a base64 body."""

    type: str
    args: tuple[str, ...]
    body: bytes


class FileKey:
    """The 16-byte age file key. Its repr never shows the key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != FILE_KEY_SIZE:
            raise ValueError("file key must be 16 bytes")
        self._key = key

    @property
    def data(self) -> bytes:
        return self._key

    def __repr__(self) -> str:
        return "FileKey(<redacted>)"

    def __eq__(self, other: object) -> bool:
        import hmac

        return isinstance(other, FileKey) and hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self._key)
