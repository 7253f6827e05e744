"""Prometheus metrics of the storage service beyond the HTTP ones (common/metrics.py):
recordings committed and deleted, objects swept, uploads expired, sweeper runs. Labels never
carry identifiers of sites, cameras or recordings.
"""

from __future__ import annotations

from prometheus_client import Counter

COMMITS = Counter("camvault_recordings_committed_total", "Recordings committed")
COMMITTED_BYTES = Counter("camvault_recordings_committed_bytes_total", "Payload bytes committed")
RECORDINGS_DELETED = Counter(
    "camvault_recordings_deleted_total", "Recordings crypto-shredded", ["reason"]
)
OBJECTS_DELETED = Counter("camvault_objects_deleted_total", "Objects removed by the sweeper")
UPLOADS_EXPIRED = Counter("camvault_uploads_expired_total", "Uncommitted uploads expired")
SWEEPS = Counter("camvault_sweeps_total", "Sweeper runs", ["result"])
