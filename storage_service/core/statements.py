"""Signed statements received as JSON objects: parsed strictly and checked, each failure a
reason code (a bad signature ``statement_signature_invalid``, anything else wrong with the
statement the caller's ``invalid`` code)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from crypto.canonical import canonical_json
from crypto.errors import CryptoError, SignatureError, StatementError
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


@contextmanager
def statement_refusals(what: str, invalid: Reason = Reason.STATEMENT_INVALID) -> Iterator[None]:
    """Checking the statement ``what`` inside: a bad signature is refused as
    ``statement_signature_invalid``, any other statement error as ``invalid``."""
    try:
        yield
    except SignatureError as exc:
        raise ApiError(Reason.STATEMENT_SIGNATURE_INVALID, f"{what}: {exc}") from None
    except StatementError as exc:
        raise ApiError(invalid, f"{what}: {exc}") from None
