"""age headers received from clients: base64, bounded size, age v1 grammar."""

from __future__ import annotations

import base64
import binascii

from crypto.age.format import MAX_STANZAS, TooManyStanzasError, parse_header
from crypto.errors import HeaderError
from storage_service.core.errors import ApiError, Reason


def decode_header(text: str, max_bytes: int) -> bytes:
    """Decode a standard-base64 age header and check its grammar (C2SP age, "Header"); its
    MAC cannot be checked here (no file key on the storage side)."""
    if len(text) > (max_bytes * 4) // 3 + 4:
        raise ApiError(Reason.HEADER_TOO_LARGE, f"age header larger than {max_bytes} bytes")
    try:
        header = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(Reason.HEADER_MALFORMED, "header is not standard base64") from None
    if len(header) > max_bytes:
        raise ApiError(Reason.HEADER_TOO_LARGE, f"age header larger than {max_bytes} bytes")
    try:
        parse_header(header)
    except TooManyStanzasError:
        # A DoS limit, not a grammar error: refused at stanza MAX_STANZAS + 1 (docs/FORMAT.md).
        raise ApiError(
            Reason.HEADER_TOO_MANY_STANZAS, f"age header has more than {MAX_STANZAS} stanzas"
        ) from None
    except HeaderError as exc:
        raise ApiError(Reason.HEADER_MALFORMED, f"header is not an age v1 header: {exc}") from None
    return header
