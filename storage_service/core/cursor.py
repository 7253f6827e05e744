"""Keyset pagination of the lists that are newest first: rows ordered by a time column then
the row id, both descending, and an opaque cursor ``<time_ms>:<row id>`` (URL-safe base64,
no padding) that says where the previous page ended. Anything not of that shape is refused
with ``invalid_cursor``."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.sql.expression import SelectOfScalar

from storage_service.core.errors import ApiError, Reason

Row = TypeVar("Row")

#: Row ids of integer primary keys.
INT_ID = re.compile(r"[0-9]{1,19}")
#: Row ids that are 128-bit hex strings (alarms).
HEX_ID = re.compile(r"[0-9a-f]{32}")


class Keyset(Generic[Row]):
    """The pagination of the table of ``model`` by its attributes ``time`` then ``row_id``
    (whose text matches ``id_pattern``; integer ids are compared as integers)."""

    def __init__(
        self, model: type[Row], time: str, row_id: str, id_pattern: re.Pattern[str] = INT_ID
    ) -> None:
        self._names = (time, row_id)
        self.time = col(getattr(model, time))
        self.row_id = col(getattr(model, row_id))
        self._cursor = re.compile(rf"([0-9]{{1,16}}):({id_pattern.pattern})")
        self._int_ids = id_pattern is INT_ID

    def encode(self, row: Row) -> str:
        text = ":".join(str(getattr(row, name)) for name in self._names)
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def decode(self, cursor: str) -> tuple[int, Any]:
        """(time, row id) of a cursor made by :meth:`encode`."""
        try:
            text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise ApiError(
                Reason.INVALID_CURSOR, "cursor is not one this service returned"
            ) from None
        m = self._cursor.fullmatch(text)
        if m is None:
            raise ApiError(Reason.INVALID_CURSOR, "cursor is not one this service returned")
        return int(m.group(1)), int(m.group(2)) if self._int_ids else m.group(2)

    def select(
        self, stmt: SelectOfScalar[Row], after: tuple[int, Any] | None
    ) -> SelectOfScalar[Row]:
        """``stmt`` newest first, restricted to the rows after ``after`` (a decoded cursor)."""
        if after is not None:
            t, rid = after
            stmt = stmt.where(sa.or_(self.time < t, sa.and_(self.time == t, self.row_id < rid)))
        return stmt.order_by(self.time.desc(), self.row_id.desc())

    def page(self, rows: Sequence[Row], limit: int) -> tuple[list[Row], str | None]:
        """The first ``limit`` of ``rows`` (fetched with ``limit + 1``) and the next cursor,
        None on the last page."""
        more = len(rows) > limit
        page = list(rows[:limit])
        return page, self.encode(page[-1]) if more and page else None
