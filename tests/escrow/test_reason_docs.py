"""docs/ESCROW.md's reason-code table lists exactly the Reason enum, with each HTTP status."""

from __future__ import annotations

import re
from pathlib import Path

from escrow_service.api.errors import http_status
from escrow_service.core.errors import Reason

DOC = Path(__file__).resolve().parents[2] / "docs" / "ESCROW.md"


def documented_codes() -> list[tuple[str, int]]:
    """(code, status) of every code in the table under "## Reason codes", in table order."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Reason codes\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    out: list[tuple[str, int]] = []
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        status = int(cells[1])
        out.extend((code, status) for code in re.findall(r"`([a-z_]+)`", cells[0]))
    return out


def test_the_table_lists_every_reason_once() -> None:
    codes = [code for code, _ in documented_codes()]
    assert len(codes) == len(set(codes)), "a code is listed twice"
    assert set(codes) == {r.value for r in Reason}


def test_the_table_gives_each_reason_its_http_status() -> None:
    assert {code: status for code, status in documented_codes()} == {
        r.value: http_status(r) for r in Reason
    }
