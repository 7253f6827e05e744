"""Whether MinIO healed a node that was down: every object of the bucket has its metadata
(``xl.meta``) and as many erasure shards (``part.N``) on the returned node's drive as on a
node that stayed up. MinIO writes with a drive missing when a write quorum (3 of 4 here)
is up; the returned drive gets its shards from MinIO's healing: its own (the queue of
recent partial writes, the background scanner: minutes) or, as an operator does after
bringing a node back, a heal of the bucket asked through MinIO's admin API
(:func:`heal_bucket`, the request ``mc admin heal -r`` makes; ``mc`` itself is AGPL).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.cluster import Cluster


@dataclass
class Heal:
    objects: int  # on the reference node
    missing: list[str]  # objects not (fully) on the returned node

    @property
    def complete(self) -> bool:
        return not self.missing


def _shards(drive: Path, bucket: str) -> dict[str, int]:
    """Object name -> number of part files under it, for every xl.meta in the bucket."""
    root = drive / bucket
    out: dict[str, int] = {}
    for meta in root.rglob("xl.meta"):
        obj = meta.parent
        out[str(obj.relative_to(root))] = sum(1 for _ in obj.rglob("part.*"))
    return out


def heal_state(cluster: Cluster, returned: int, reference: int) -> Heal:
    """``returned``, ``reference``: 0-based node numbers (one drive per node)."""
    want = _shards(cluster.minio.drive_dirs(reference)[0], cluster.bucket)
    have = _shards(cluster.minio.drive_dirs(returned)[0], cluster.bucket)
    missing = [k for k, n in want.items() if have.get(k, -1) < n]
    return Heal(len(want), missing)


def heal(cluster: Cluster, returned: int, reference: int, timeout: float) -> tuple[Heal, int]:
    """Ask MinIO to heal the bucket until ``returned`` holds every object ``reference`` does
    (a heal asked before the other nodes see the returned drive again finds it "not found"
    and heals nothing: asked again, a little later); (the final state, heals asked)."""
    deadline = time.monotonic() + timeout
    rounds = 0
    while True:
        state = heal_state(cluster, returned, reference)
        if state.complete or time.monotonic() > deadline:
            return state, rounds
        heal_bucket(cluster, node=reference, timeout=max(1.0, deadline - time.monotonic()))
        rounds += 1
        state = heal_state(cluster, returned, reference)
        if state.complete:
            return state, rounds
        time.sleep(2.0)


def _admin(cluster: Cluster, node: int, path: str, query: str, body: bytes) -> Any:
    """One signed (SigV4, as any S3 request) call of MinIO's admin API on ``node``."""
    m = cluster.minio
    url = f"{m.endpoints[node]}/minio/admin/v3/{path}" + (f"?{query}" if query else "")
    req = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()},
    )
    SigV4Auth(Credentials(m.access_key, m.secret_key), "s3", m.region).add_auth(req)
    resp = httpx.post(url, content=body, headers=dict(req.headers.items()), timeout=30)
    if resp.status_code != 200:
        raise RuntimeError(f"MinIO admin {path}: HTTP {resp.status_code} {resp.text[:300]}")
    return resp.json()


def heal_bucket(cluster: Cluster, node: int = 1, timeout: float = 120.0) -> dict[str, Any]:
    """Heal every object of the cluster's bucket (a normal scan: missing shards rebuilt)
    and wait for MinIO to report the sequence finished; its last status."""
    opts = {"recursive": True, "dryRun": False, "remove": False, "scanMode": 1}
    path = f"heal/{cluster.bucket}"
    started = _admin(cluster, node, path, "", json.dumps(opts).encode())
    token = started["clientToken"]
    deadline = time.monotonic() + timeout
    while True:
        query = f"clientToken={quote(token, safe='')}"
        status: dict[str, Any] = _admin(cluster, node, path, query, b"")
        if status.get("Summary", status.get("summary")) in ("finished", "stopped", "failed"):
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"MinIO heal still {status.get('Summary')} after {timeout} s")
        time.sleep(0.5)
