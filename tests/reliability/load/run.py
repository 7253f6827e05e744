"""One load run against a running world: enroll the fleet, run cameras, panels and operators
for the configured time, let the cameras drain their backlog for a while, verify every
acknowledged recording as its customer, and report.

Offered rate: cameras / 2 s segments per second. Achieved rate: recordings committed per
second while the cameras were recording. What the service could not take stays in the
cameras' backlog (their SD card): it is reported, never dropped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.clients.customer_world import World
from tests.reliability.load import camera, cpu, operators
from tests.reliability.load.fleet import SEGMENT_MS, Fleet, build_fleet
from tests.reliability.load.http import Http
from tests.reliability.load.stats import Stats, markdown_table
from tests.reliability.load.verify import CONCURRENCY as VERIFY_CONCURRENCY
from tests.reliability.load.verify import verify_fleet

ALARM_START_S = 8.0  # the first alarms come once cameras have pre-alarm segments
PROGRESS_EVERY_S = 10.0


@dataclass(frozen=True)
class Config:
    cameras: int = 40
    operators: int = 4
    seconds: float = 45.0
    per_site: int = 10
    drain_s: float = 20.0  # after the run, how long the cameras keep uploading their backlog
    storage_workers: int = 1
    alarm_every_s_per_operator: float = 8.0  # alarms per second = operators / this

    @classmethod
    def from_env(cls, **defaults: Any) -> Config:
        base = cls(**defaults)
        env = {
            "cameras": ("SOAK_CAMERAS", int),
            "operators": ("SOAK_OPERATORS", int),
            "seconds": ("SOAK_SECONDS", float),
            "per_site": ("SOAK_CAMERAS_PER_SITE", int),
            "drain_s": ("SOAK_DRAIN_SECONDS", float),
            "storage_workers": ("SOAK_STORAGE_WORKERS", int),
        }
        values = {k: conv(os.environ[var]) for k, (var, conv) in env.items() if var in os.environ}
        return cls(**{**asdict(base), **values})


def _acked(fleet: Fleet) -> int:
    return sum(len(c.acknowledged) for c in fleet.cameras)


def _backlog(fleet: Fleet) -> int:
    return sum(len(c.backlog) for c in fleet.cameras)


async def _progress(fleet: Fleet, stats: Stats, t0: float, series: list[dict[str, Any]]) -> None:
    while True:
        asked = time.monotonic()
        await asyncio.sleep(PROGRESS_EVERY_S)
        point = {
            "t_s": round(time.monotonic() - t0, 1),
            # how late the harness's event loop woke this task: the harness's own lag,
            # included in every latency it measures
            "loop_lag_s": round(time.monotonic() - asked - PROGRESS_EVERY_S, 2),
            "captured": sum(c.captured for c in fleet.cameras),
            "acknowledged": _acked(fleet),
            "backlog": _backlog(fleet),
            "errors": sum(stats.errors.values()),
        }
        series.append(point)
        print("load:", " ".join(f"{k}={v}" for k, v in point.items()), flush=True)


async def _at_stop(fleet: Fleet, stop_at: float, into: dict[str, int]) -> None:
    """What was acknowledged and backlogged when the cameras stopped recording."""
    await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
    into.update(acknowledged=_acked(fleet), backlog=_backlog(fleet))


async def _drive(
    world: World, fleet: Fleet, cfg: Config, stats: Stats, parts: dict[str, list[int]]
) -> dict[str, Any]:
    storage = world.storage.url
    # cameras, the ARC and the customers are different clients: each its own pool, so no
    # one waits behind another's requests in the harness; the cameras one pool per site,
    # a connection per camera (httpcore scans its whole pool for every request: one pool
    # of 500 connections made the harness, not the services, the bottleneck)
    sites = {s.site_id: Http(stats, connections=max(1, len(s.cameras))) for s in fleet.sites}
    arc = Http(stats, connections=4 * cfg.operators + 4)
    pool = ThreadPoolExecutor(max_workers=max(1, cfg.operators))
    cpu0 = cpu.sample(parts)
    t0 = time.monotonic()
    stop_at = t0 + cfg.seconds
    quit_at = asyncio.Event()
    series: list[dict[str, Any]] = []
    progress = asyncio.create_task(_progress(fleet, stats, t0, series))
    try:
        uploads = [
            asyncio.create_task(camera.uploader(sites[c.site.site_id], storage, c, quit_at))
            for c in fleet.cameras
        ]
        at_stop: dict[str, int] = {}
        work = [camera.capture(c, stop_at) for c in fleet.cameras]
        work.append(_at_stop(fleet, stop_at, at_stop))
        work.append(
            operators.panels(
                arc,
                storage,
                fleet,
                t0 + ALARM_START_S,
                stop_at,
                cfg.operators / cfg.alarm_every_s_per_operator,
            )
        )
        work += [
            operators.Operator(arc, storage, op, fleet, pool).run(stop_at) for op in fleet.operators
        ]
        working = asyncio.gather(*work)  # operators finish the alarm they are working
        await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
        _, pending = await asyncio.wait(uploads, timeout=cfg.drain_s)
        quit_at.set()
        for c in fleet.cameras:
            c.wake.set()
        await asyncio.gather(*pending)
        drained_s = time.monotonic() - stop_at
        await working
        cpu1 = cpu.sample(parts)
        verify_t0 = time.monotonic()
        customers = Http(stats, connections=VERIFY_CONCURRENCY)
        try:
            verified = await verify_fleet(customers, storage, fleet)
        finally:
            await customers.aclose()
        verify_s = time.monotonic() - verify_t0
    finally:
        progress.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
        for h in sites.values():
            await h.aclose()
        await arc.aclose()
    captured = sum(c.captured for c in fleet.cameras)
    return {
        "run_s": cfg.seconds,
        "drain_s": round(drained_s, 1),
        "verify_s": round(verify_s, 1),
        "offered_per_s": round(cfg.cameras * 1000 / SEGMENT_MS, 1),
        "achieved_per_s": round(at_stop["acknowledged"] / cfg.seconds, 1),
        "offered_mib_per_s": round(cfg.cameras * 1000 / SEGMENT_MS * 0.2, 1),
        "captured": captured,
        "acknowledged_during_run": at_stop["acknowledged"],
        "backlog_at_stop": at_stop["backlog"],
        "acknowledged": _acked(fleet),
        "backlog_left": _backlog(fleet),
        "acknowledged_per_camera_min": min(len(c.acknowledged) for c in fleet.cameras),
        "acknowledged_per_camera_max": max(len(c.acknowledged) for c in fleet.cameras),
        "verified": verified.verified,
        "lost": verified.lost,
        "series": series,
        "loop_lag_max_s": max((p["loop_lag_s"] for p in series), default=0.0),
        "cpu_s": {k: round(cpu1[k] - cpu0[k], 1) for k in cpu0},
    }


def run_load(
    world: World, workdir: Path, cfg: Config, servers: dict[str, list[int]] | None = None
) -> dict[str, Any]:
    """Enroll the fleet, run, verify; the whole result (see :func:`render`). ``servers``:
    root pids of PostgreSQL and MinIO, whose CPU time is reported with the services'."""
    if cfg.storage_workers != 1:
        world.storage.stop()
        world.storage.start(workers=cfg.storage_workers)
    setup_t0 = time.monotonic()
    fleet = build_fleet(world, workdir, cfg.cameras, cfg.per_site, cfg.operators)
    setup_s = time.monotonic() - setup_t0
    print(
        f"load: {len(fleet.sites)} sites, {cfg.cameras} cameras, {cfg.operators} operators "
        f"enrolled in {setup_s:.0f} s",
        flush=True,
    )
    stats = Stats()
    parts = {
        "storage": [world.storage.proc.pid] if world.storage.proc else [],
        "custodians": [c.proc.pid for c in world.custodians if c.proc],
        **(servers or {}),
    }
    outcome = asyncio.run(_drive(world, fleet, cfg, stats, parts))
    acked = max(1, outcome["acknowledged"])
    outcome["cpu_ms_per_recording"] = {
        k: round(v * 1000 / acked, 1) for k, v in outcome["cpu_s"].items()
    }
    per_rec_s = sum(outcome["cpu_s"].values()) / acked
    outcome["capacity_per_s_on_2_cores"] = round(2 / per_rec_s, 1) if per_rec_s else None
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "config": asdict(cfg),
        "machine": {"cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg()},
        "setup_s": round(setup_s, 1),
        **outcome,
        "requests": stats.requests,
        "errors": dict(stats.errors),
        "transport_errors": dict(stats.transport),
        "error_examples": [asdict(e) for e in stats.examples],
        "expected_refusals": dict(stats.expected),
        "counters": dict(stats.counters),
        "endpoints": stats.table(),
    }


def render(result: dict[str, Any]) -> str:
    """The markdown report: the run's numbers, then the endpoint table."""
    c = result["config"]
    lines = [
        f"# camvault load run {result['date']}",
        "",
        f"{c['cameras']} cameras ({c['per_site']} per site), {c['operators']} operators, "
        f"{result['run_s']} s (+{result['drain_s']} s draining the backlog), storage with "
        f"{c['storage_workers']} worker(s), {result['machine']['cpus']} CPUs shared with the "
        "harness, PostgreSQL, MinIO and three custodians.",
        "",
        f"- offered: {result['offered_per_s']} recordings/s ({result['offered_mib_per_s']} MiB/s)"
        f"; achieved while recording: {result['achieved_per_s']} recordings/s",
        f"- captured {result['captured']}, acknowledged {result['acknowledged']} "
        f"({result['acknowledged_during_run']} during the run), backlog left on the cameras "
        f"{result['backlog_left']} (at the stop: {result['backlog_at_stop']}); per camera "
        f"{result['acknowledged_per_camera_min']}..{result['acknowledged_per_camera_max']}",
        "- CPU per acknowledged recording (ms, operators' and panels' work included): "
        + ", ".join(f"{k} {v}" for k, v in result["cpu_ms_per_recording"].items())
        + f"; all of it on 2 dedicated cores: about {result['capacity_per_s_on_2_cores']} "
        "recordings/s",
        f"- harness event-loop lag (in every latency below): max {result['loop_lag_max_s']} s",
        f"- verified {result['verified']} of {result['acknowledged']} acknowledged, "
        f"lost {len(result['lost'])}",
        f"- requests {result['requests']}, errors {sum(result['errors'].values())}, transport "
        f"errors {sum(result['transport_errors'].values())}, "
        f"expected refusals {sum(result['expected_refusals'].values())} "
        f"({', '.join(f'{k} x{v}' for k, v in result['expected_refusals'].items()) or 'none'})",
        *(f"- {k}: {v}" for k, v in sorted(result["counters"].items())),
        "",
        markdown_table(result["endpoints"]),
    ]
    if result["transport_errors"]:
        lines += [
            "",
            "Transport errors (connection closed or reset under a request; the step was retried):",
            *(f"- {k} x{v}" for k, v in result["transport_errors"].items()),
        ]
    if result["errors"]:
        lines += ["", "Errors:", *(f"- {k} x{v}" for k, v in result["errors"].items())]
    if result["lost"]:
        lines += ["", "Lost:", *(f"- {x}" for x in result["lost"][:50])]
    return "\n".join(lines) + "\n"


def write(result: dict[str, Any], out_dir: Path, stem: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    js, md = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    js.write_text(json.dumps(result, indent=2) + "\n")
    md.write_text(render(result))
    return js, md
