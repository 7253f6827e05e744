"""Prometheus metrics of a service's HTTP API (``GET /metrics``), the same for both services.

With several uvicorn workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared
by the workers: ``/metrics`` then aggregates all of them (prometheus-client multiprocess
mode). Labels never carry identifiers of sites, cameras, recordings or keys: the route
template, never the path.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("camvault_http_requests_total", "HTTP requests", ["method", "route", "status"])
REFUSALS = Counter("camvault_http_refusals_total", "Refused requests by reason code", ["code"])
LATENCY = Histogram(
    "camvault_http_request_seconds", "Time to the response's first byte", ["method", "route"]
)
WITNESS_ROUNDS = Histogram(
    "camvault_witness_round_seconds",
    "Cosigning rounds of the custodian's log, from start to quorum (or to giving up)",
    ["outcome"],
    buckets=(0.001, 0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.05, 0.1, 0.5, 1, 5, 10),
)


def render() -> tuple[bytes, str]:
    """The metrics page and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
