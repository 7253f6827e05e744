"""What the load run measured: per endpoint, the count of requests, their outcomes and the
latency percentiles; the refusals the run expects (and nothing else) and every error.

A latency is the time from handing the request to httpx until the whole answer was read,
on the harness's clock: it includes waiting for a free connection of the client's pool and
for the harness's own event loop, which shares the machine's cores with the services.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


def percentile(sorted_ms: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_ms:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(sorted_ms)))
    return sorted_ms[rank - 1]


@dataclass
class Failure:
    """One request or check that went wrong (kept for the report, at most a few per kind)."""

    endpoint: str
    what: str  # "HTTP 500 internal", "ReadTimeout", "plaintext differs", ...


@dataclass
class Stats:
    """Latencies and outcomes, by endpoint label (``"storage POST .../commit"``)."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    expected: Counter[str] = field(default_factory=Counter)  # "endpoint: status reason"
    errors: Counter[str] = field(default_factory=Counter)  # "endpoint: what"
    transport: Counter[str] = field(default_factory=Counter)  # "endpoint: exception name"
    examples: list[Failure] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)  # run facts (segments, alarms...)

    @contextmanager
    def timed(self, endpoint: str) -> Iterator[None]:
        """Time the block as one request to ``endpoint`` (its outcome is recorded apart)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.latencies[endpoint].append((time.perf_counter() - t0) * 1000)

    def outcome(self, endpoint: str, status: str) -> None:
        self.statuses[endpoint][status] += 1

    def refusal(self, endpoint: str, status: int, reason: str) -> None:
        """A refusal the run expects (the harness asserts these are the only ones)."""
        self.expected[f"{endpoint}: {status} {reason}"] += 1

    def error(self, endpoint: str, what: str) -> None:
        key = f"{endpoint}: {what}"
        self.errors[key] += 1
        if self.errors[key] <= 3:
            self.examples.append(Failure(endpoint, what))

    def reclassify(self, endpoint: str, status: int, reason: str) -> None:
        """A refusal recorded as an error turned out to be expected (what made it right,
        e.g. an access period that ended while the request waited, is known only after)."""
        key = f"{endpoint}: HTTP {status} {reason}"
        self.errors[key] -= 1
        if self.errors[key] <= 0:
            del self.errors[key]
            self.examples = [e for e in self.examples if f"{e.endpoint}: {e.what}" != key]
        self.refusal(endpoint, status, reason)

    def transport_error(self, endpoint: str, what: str) -> None:
        """The connection failed under a request (closed by the server, reset): the step is
        retried by the simulated client, as a real one does; counted apart from the answers
        (a service that crashed would show here, and in the verification)."""
        self.transport[f"{endpoint}: {what}"] += 1

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def table(self) -> list[dict[str, Any]]:
        rows = []
        for endpoint in sorted(self.latencies):
            ms = sorted(self.latencies[endpoint])
            rows.append(
                {
                    "endpoint": endpoint,
                    "count": len(ms),
                    "statuses": dict(sorted(self.statuses[endpoint].items())),
                    "p50_ms": round(percentile(ms, 50), 1),
                    "p90_ms": round(percentile(ms, 90), 1),
                    "p99_ms": round(percentile(ms, 99), 1),
                    "max_ms": round(ms[-1], 1) if ms else 0.0,
                }
            )
        return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    head = "| endpoint | requests | statuses | p50 ms | p90 ms | p99 ms | max ms |"
    lines = [head, "|---|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        statuses = ", ".join(f"{k}: {v}" for k, v in r["statuses"].items())
        lines.append(
            f"| {r['endpoint']} | {r['count']} | {statuses} | {r['p50_ms']} | {r['p90_ms']} "
            f"| {r['p99_ms']} | {r['max_ms']} |"
        )
    return "\n".join(lines)
