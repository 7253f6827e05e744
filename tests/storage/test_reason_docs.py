"""docs/API.md lists the reason codes of the storage service by HTTP status; the list is the
Reason enum's (storage_service.core.errors), not a hand-kept copy."""

from __future__ import annotations

import re
from pathlib import Path

from storage_service.core.errors import STATUS, Reason, reason_table

API_MD = Path(__file__).resolve().parents[2] / "docs" / "API.md"
ROW = re.compile(r"^\| (\d{3}) \| (.+) \|$")


def documented_codes() -> dict[str, int]:
    """The ``| status | codes |`` table of section 2, as code -> status."""
    section = API_MD.read_text().split("## 2. Errors", 1)[1].split("\n## ", 1)[0]
    out: dict[str, int] = {}
    for line in section.splitlines():
        m = ROW.match(line)
        if m is None:
            continue
        for code in re.findall(r"`([a-z_]+)`", m.group(2)):
            assert code not in out, f"{code} is listed twice"
            out[code] = int(m.group(1))
    return out


def test_docs_list_every_reason_with_its_status() -> None:
    assert documented_codes() == {str(r): STATUS[r] for r in Reason}


def test_docs_table_is_the_rendered_one() -> None:
    assert reason_table() in API_MD.read_text(), (
        "docs/API.md section 2 is stale: paste `.venv/bin/python -m storage_service.core.errors`"
    )


def test_every_reason_has_a_status() -> None:
    assert set(STATUS) == set(Reason)


def test_http_signature_reasons_are_reason_codes() -> None:
    """The API answers crypto.httpsig's refusals with their ``reason`` as the code."""
    source = (API_MD.parents[1] / "crypto" / "httpsig.py").read_text()
    reasons = set(re.findall(r'HttpSignatureError\(\s*"([a-z_]+)"', source))
    assert reasons
    assert reasons <= {str(r) for r in Reason}
