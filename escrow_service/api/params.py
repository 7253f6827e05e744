"""Checks of query parameters that FastAPI's validation does not express."""

from __future__ import annotations

from escrow_service.core.errors import Reason, Refusal

#: Largest index or size a query may name: log indexes are stored as signed 64-bit integers
#: (a larger value overflows the database driver: it was a 500 on SQLite).
MAX_INDEX = 2**63 - 1


def check_index(name: str, value: int, *, low: int = 0) -> None:
    if not low <= value <= MAX_INDEX:
        raise Refusal(Reason.INVALID_RANGE, f"{name} must be between {low} and 2^63-1")
