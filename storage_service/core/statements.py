"""Parse signed statements received as JSON objects, mapping failures to reason codes."""

from __future__ import annotations

import json
from typing import Any

from crypto.canonical import canonical_json
from crypto.errors import CryptoError, StatementError
from crypto.statements import SignedStatement, parse_signed
from storage_service.core.errors import ApiError, Reason


def parse_statement(obj: dict[str, Any], what: str) -> SignedStatement:
    """The wire form of ``obj`` (RFC 8785) parsed strictly; signature NOT yet checked."""
    try:
        return parse_signed(canonical_json(obj))
    except (StatementError, CryptoError, ValueError, TypeError) as exc:
        raise ApiError(Reason.STATEMENT_INVALID, f"{what}: {exc}") from None


def statement_json(data: bytes) -> dict[str, Any]:
    """A stored signed statement (canonical bytes) as the JSON object the API returns."""
    obj = json.loads(data)
    if not isinstance(obj, dict):  # pragma: no cover - stored statements are objects
        raise ValueError("stored statement is not an object")
    return obj
