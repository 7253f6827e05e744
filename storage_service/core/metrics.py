"""Prometheus metrics of the storage service (``GET /metrics``).

With several uvicorn workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared
by the workers: ``/metrics`` then aggregates all of them (prometheus-client multiprocess
mode). Labels never carry identifiers of sites, cameras or recordings.
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
COMMITS = Counter("camvault_recordings_committed_total", "Recordings committed")
COMMITTED_BYTES = Counter("camvault_recordings_committed_bytes_total", "Payload bytes committed")
RECORDINGS_DELETED = Counter(
    "camvault_recordings_deleted_total", "Recordings crypto-shredded", ["reason"]
)
OBJECTS_DELETED = Counter("camvault_objects_deleted_total", "Objects removed by the sweeper")
UPLOADS_EXPIRED = Counter("camvault_uploads_expired_total", "Uncommitted uploads expired")
SWEEPS = Counter("camvault_sweeps_total", "Sweeper runs", ["result"])


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
