"""Run the load harness (tests/reliability/load: simulated cameras uploading, panels raising
alarms, ARC operators working them with the operator client's code) against the cluster
while a fault timeline runs in a thread beside it, then count what the service holds.

The counts of a run:

- uploaded: recordings the storage service lists as committed for the run's cameras;
- acknowledged: recordings a camera got a 201 (or 200) commit for (it then forgets them);
- verified: acknowledged recordings read back through the proxy, their payload matching
  the camera-signed manifest and decrypting as the customer to the camera's plaintext
  (tests/reliability/load/verify.py);
- lost: acknowledged recordings not verified;
- duplicated: a recording listed twice, or two recordings holding one place (sequence) in
  a camera's chain, or a payload stored twice for one recording in the bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.http import SignedClient
from tests.cluster.camera import CameraCounts, product_camera
from tests.reliability.load.fleet import Fleet, build_fleet
from tests.reliability.load.run import Config, _drive
from tests.reliability.load.stats import Stats
from tests.support.cluster import Cluster

#: The load of each scenario; CLUSTER_SECONDS makes every scenario's run longer.
SECONDS = float(os.environ.get("CLUSTER_SECONDS", "24"))
LOAD = Config(cameras=8, operators=2, seconds=SECONDS, per_site=4, drain_s=25.0)


@dataclass
class Fault:
    at_s: float  # after the load started
    what: str
    action: Callable[[], object]


@dataclass
class Run:
    name: str
    result: dict[str, Any]
    stats: Stats
    fleet: Fleet
    events: list[str] = field(default_factory=list)
    #: recordings acknowledged when each fault action had completed
    acked_after: list[int] = field(default_factory=list)
    camera: CameraCounts | None = None
    uploaded: int = 0
    duplicated: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> int:
        return int(self.result["acknowledged"])

    @property
    def verified(self) -> int:
        return int(self.result["verified"])

    def server_errors(self) -> list[str]:
        """Answers that were not a clean refusal: HTTP 500 (a traceback's status)."""
        return [k for k in self.stats.errors if "HTTP 500" in k]

    @property
    def lost(self) -> list[str]:
        return list(self.result["lost"])

    def counts(self) -> str:
        return (
            f"cluster {self.name}: uploaded {self.uploaded}, acknowledged {self.acknowledged}, "
            f"read back and verified {self.verified}, lost = {len(self.lost)}, "
            f"duplicated = {len(self.duplicated)}"
        )

    def report(self) -> str:
        r = self.result
        lines = [
            self.counts(),
            f"  captured {r['captured']}, backlog left on the cameras {r['backlog_left']}, "
            f"requests {self.stats.requests}",
            *(f"  fault: {e}" for e in self.events),
            *([f"  {self.camera.line()}"] if self.camera else []),
            *(f"  error: {k} x{v}" for k, v in sorted(self.stats.errors.items())),
            *(f"  transport: {k} x{v}" for k, v in sorted(self.stats.transport.items())),
            *(f"  {k}: {v}" for k, v in sorted(self.stats.counters.items())),
            *(f"  LOST {x}" for x in self.lost[:20]),
            *(f"  DUPLICATED {x}" for x in self.duplicated[:20]),
        ]
        return "\n".join(lines)


def _acked(fleet: Fleet) -> int:
    return sum(len(c.acknowledged) for c in fleet.cameras)


def _timeline(
    faults: list[Fault],
    t0: float,
    fleet: Fleet,
    events: list[str],
    acked_after: list[int],
    failed: list[BaseException],
) -> None:
    for f in faults:
        time.sleep(max(0.0, t0 + f.at_s - time.monotonic()))
        began = time.monotonic()
        try:
            f.action()
        except BaseException as exc:  # reported by the test, after the load
            failed.append(exc)
            events.append(f"{f.what}: FAILED {exc!r}")
            return
        acked_after.append(_acked(fleet))
        events.append(
            f"t={began - t0:.1f}s {f.what} (took {time.monotonic() - began:.1f}s; "
            f"acknowledged so far {acked_after[-1]})"
        )


def run_with_faults(
    cluster: Cluster,
    workdir: Path,
    name: str,
    faults: list[Fault],
    cfg: Config = LOAD,
    *,
    camera: bool = False,
) -> Run:
    """The load with ``faults`` at their times; with ``camera``, the product's camera
    agent (tests/cluster/camera.py) records beside the simulated fleet."""
    world = cluster.world
    fleet = build_fleet(world, workdir, cfg.cameras, cfg.per_site, cfg.operators)
    _clear_alarm_queue(world.storage.url, fleet)
    stats = Stats()
    events: list[str] = []
    acked_after: list[int] = []
    failed: list[BaseException] = []
    t0 = time.monotonic()
    thread = threading.Thread(
        target=_timeline, args=(faults, t0, fleet, events, acked_after, failed), daemon=True
    )
    thread.start()
    with contextlib.ExitStack() as stack:
        cam = (
            stack.enter_context(product_camera(world.storage.url, workdir / "cam", cfg.seconds))
            if camera
            else None
        )
        result = asyncio.run(_drive(world, fleet, cfg, stats, {}))
    thread.join(timeout=180)
    assert not thread.is_alive(), "the fault timeline did not finish"
    if failed:
        raise failed[0]
    run = Run(name, result, stats, fleet, events, acked_after, camera=cam)
    run.uploaded, run.duplicated = count_stored(cluster, fleet)
    print(run.report(), flush=True)
    return run


def _clear_alarm_queue(url: str, fleet: Fleet) -> None:
    """Acknowledge and close the alarms an earlier scenario left open (its operators stop
    when its load ends): the harness's operators work only their own fleet's alarms."""
    op = fleet.operators[0]
    with SignedClient(url, f"operator:{op.operator_id}", op.key()) as c:
        r = c.get("/v1/alarms", params={"state": "open"})
        assert r.status_code == 200, r.text
        for alarm in r.json()["items"]:
            for step in ("ack", "close"):
                done = c.post(f"/v1/alarms/{alarm['alarm_id']}/{step}")
                assert done.status_code == 200, done.text


def _listing(url: str, site_id: str, client: SignedClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 500}
    while True:
        r = client.get(f"/v1/sites/{site_id}/recordings", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        items.extend(page["items"])
        if not page.get("next_cursor"):
            return items
        params["cursor"] = page["next_cursor"]


def count_stored(cluster: Cluster, fleet: Fleet) -> tuple[int, list[str]]:
    """(committed recordings listed for the fleet's sites, the duplicates among them and
    in the bucket)."""
    url = cluster.world.storage.url
    uploaded = 0
    dups: list[str] = []
    for site in fleet.sites:
        with SignedClient(url, f"customer:{site.site_id}", site.customer_key) as c:
            items = [i for i in _listing(url, site.site_id, c) if i["status"] == "committed"]
        uploaded += len(items)
        names = Counter((i["camera_id"], i["recording_id"]) for i in items)
        seqs = Counter((i["camera_id"], int(i["sequence"])) for i in items)
        dups += [f"{site.site_id}/{c}/{r} listed {n} times" for (c, r), n in names.items() if n > 1]
        dups += [f"{site.site_id}/{c} sequence {s} x{n}" for (c, s), n in seqs.items() if n > 1]
        dups += _payload_duplicates(cluster, site.site_id, {i["recording_id"] for i in items})
    return uploaded, dups


def _payload_duplicates(cluster: Cluster, site_id: str, committed: set[str]) -> list[str]:
    """Recordings with more than one committed payload object (``.../<recording>/rec-*``)
    in the bucket. A commit attempt that lost a race deletes its own copy through the
    deletion queue (the sweeper, every 0.5 s): a copy still there after 15 s is a duplicate."""
    s3: Any = cluster.s3(2)
    deadline = time.monotonic() + 15
    while True:
        keys: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=cluster.bucket, Prefix=f"sites/{site_id}/"
        ):
            keys += [o["Key"] for o in page.get("Contents", [])]
        copies = Counter(
            tuple(k.split("/")[3:5]) for k in keys if k.rsplit("/", 1)[-1].startswith("rec-")
        )
        dups = [
            f"{site_id}/{cam}/{rid}: {n} payload copies"
            for (cam, rid), n in copies.items()
            if rid in committed and n > 1
        ]
        if not dups or time.monotonic() > deadline:
            return dups
        time.sleep(1.0)
