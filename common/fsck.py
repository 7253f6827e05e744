"""The result of a read-only consistency check (`camvault admin fsck`, `fsck-custodian`):
problems named by kind and ids, what was checked, rendered as lines or as one JSON document.
Both services' ``services/fsck.py`` return a :class:`Report`."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Problem:
    """One inconsistency: its kind, the ids of what it concerns, and what was seen."""

    kind: str
    ids: dict[str, str | int]
    detail: str


@dataclass(slots=True)
class Report:
    """What was checked (``checked``: what -> how many) and every problem found."""

    checked: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def render(self, as_json: bool) -> str:
        """One JSON document, or one line per problem followed by a summary line."""
        summary: dict[str, object] = {**self.checked, "problems": len(self.problems)}
        if as_json:
            by_kind = Counter(str(p.kind) for p in self.problems)
            summary["by_kind"] = dict(sorted(by_kind.items()))
            problems = [asdict(p) for p in self.problems]
            return json.dumps({"summary": summary, "problems": problems}, sort_keys=True)
        lines = [f"{p.kind} {_names(p.ids)}: {p.detail}" for p in self.problems]
        return "\n".join([*lines, _names(summary)])


def _names(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items())
