"""The attack matrix in docs/THREAT_MODEL.md is the generated one of the current attacks:
exactly the ids and threats registered by tests/security/adversaries/ (so a table that no
longer matches the tests fails CI, `make threat-table` regenerates it), each row a refusal,
and the totals add up. The renderer itself is checked on a small run."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.security.matrix import register_marker, registered

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "THREAT_MODEL.md"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "threat_table", REPO / "scripts" / "threat_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _section(text: str, script: ModuleType) -> str:
    assert text.count(script.BEGIN) == 1 and text.count(script.END) == 1, "markers missing"
    return text.split(script.BEGIN, 1)[1].split(script.END, 1)[0]


def _rows(section: str) -> list[list[str]]:
    out = []
    lines = section.splitlines()
    start = lines.index(_script().HEADER) + 2
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        out.append(cells)
    return out


def test_the_committed_table_is_the_registered_attacks_all_refused(
    pytestconfig: pytest.Config,
) -> None:
    register_marker(pytestconfig)
    script = _script()
    rows = _rows(_section(DOC.read_text(), script))
    attacks = registered()
    assert len(attacks) >= 100
    table = {r[1]: (r[0], r[2]) for r in rows}
    assert len(table) == len(rows), "an attack id appears twice in the table"
    assert table == {a.attack_id: (a.adversary, a.threat) for a in attacks.values()}
    for _, attack_id, _, test, result in rows:
        assert result == f"refused: `{attacks[attack_id].reason}`", (attack_id, result)
        assert test.startswith("`test_") and "::test_" in test, (attack_id, test)
    section = _section(DOC.read_text(), script)
    assert f"- attacks tried: {len(rows)} " in section
    assert f"- refused for the declared reason: {len(rows)} " in section
    assert "- accepted wrongly or not refused as declared: 0\n" in section


def test_the_renderer_counts_and_flags_what_was_not_refused() -> None:
    script = _script()
    rows = [
        {
            "adversary": "network attacker",
            "attack_id": "NET-X1",
            "threat": "a | pipe",
            "reason": "replayed_request",
            "test": "tests/security/adversaries/test_network.py::test_x[NET-X1]",
            "outcome": "passed",
        },
        {
            "adversary": "network attacker",
            "attack_id": "NET-X2",
            "threat": "b",
            "reason": "signature_invalid",
            "test": "tests/security/adversaries/test_network.py::test_y",
            "outcome": "failed",
        },
    ]
    section = script.render(rows)
    assert "- attacks tried: 2 (network attacker 2)" in section
    assert "- refused for the declared reason: 1 (`replayed_request` 1)" in section
    assert "- accepted wrongly or not refused as declared: 1" in section
    parsed = _rows(section)
    assert parsed[0][:3] == ["network attacker", "NET-X1", "a | pipe"]
    assert parsed[0][4] == "refused: `replayed_request`"
    assert parsed[1][4].startswith("**NOT REFUSED AS DECLARED** (failed")
    doc = "# Threat model\n\ntext\n"
    once = script.rewrite(doc, section)
    assert script.rewrite(once, section) == once  # idempotent, markers kept
    assert script.rewrite(once, "new\n").count("new\n") == 1
