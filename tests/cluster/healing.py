"""Whether MinIO healed a node that was down: every object of the bucket has its metadata
(``xl.meta``) and as many erasure shards (``part.N``) on the returned node's drive as on a
node that stayed up. MinIO writes with a drive missing when a write quorum (3 of 4 here)
is up; the returned drive gets its shards from MinIO's healing: its own (the queue of
recent partial writes, the background scanner: minutes) or, as an operator does after
bringing a node back, a heal of the bucket asked through MinIO's admin API
(:func:`heal_bucket`: `camvault admin s3-heal`, the request ``mc admin heal -r`` makes;
``mc`` itself is AGPL).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.cluster import Cluster

CAMVAULT = str(Path(sys.executable).with_name("camvault"))


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


def heal_bucket(cluster: Cluster, node: int = 1, timeout: float = 120.0) -> dict[str, Any]:
    """Heal every object of the cluster's bucket through node ``node`` with the product's
    own command, as an operator does after bringing a node back (`camvault admin s3-heal`:
    MinIO's admin heal API, what ``mc admin heal -r`` sends); its JSON report."""
    m = cluster.minio
    env = {
        **os.environ,
        "CAMVAULT_S3_ENDPOINT": m.endpoints[node],
        "CAMVAULT_S3_REGION": m.region,
        "CAMVAULT_S3_BUCKET": cluster.bucket,
        "CAMVAULT_S3_ADMIN_ACCESS_KEY": m.access_key,
        "CAMVAULT_S3_ADMIN_SECRET_KEY": m.secret_key,
    }
    done = subprocess.run(
        [CAMVAULT, "admin", "s3-heal", "--json", "--timeout", str(max(1, int(timeout)))],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout + 60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"camvault admin s3-heal: exit {done.returncode}: {done.stderr.strip()}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report
