"""Fleet ingest: N cameras against the storage service on PostgreSQL + MinIO, committed
2-second segments per second against raw presigned PUTs of the same objects (issue 17).

The stack: a throwaway PostgreSQL (synchronous_commit on) and a single-node MinIO in tmpfs,
the storage service (``camvault serve storage``, one uvicorn worker: one replica) on them.
The fleet: sites of 10 cameras, each site's SiteKeys (the customer's X25519 recipient, three
custodians' escrow keys, t = 2) and device enrollments signed by its customer key and posted
with the customer's own client code (clients.api.storage). The custodians' services are not
started: ingest never calls them (their keys are generated here; the recordings carry
genuine escrow stanzas to them).

The cameras are the load harness's (tests/reliability/load: one asyncio process, a camera
records a segment every 2 s and uploads its backlog oldest first): each segment ~200 KiB,
age-encrypted under its own file key to the site's recipient and escrow set, with a signed
manifest chained to the previous one; upload request, presigned PUT, commit. For each N:

* ``raw``: the baseline, the same cameras making the same recordings (encryption and manifest
  included) and PUTting each to a URL presigned here (boto3) in another bucket: no upload
  request, no commit;
* ``camvault``: the real path, counted when the commit answers 201 (or 200).

Each phase lasts ``--seconds`` (20); the rate is taken over the phase after ``--warmup`` (8 s,
so that at 500 cameras the first full upload cycles have ended), as are the storage process
tree's CPU time (/proc, user + system), PostgreSQL's and MinIO's, and the commit latencies
(the requests that answered in that window: queueing in the service and in the harness's
event loop included). In-flight uploads at the end are given a few seconds, then cancelled;
a cancelled camera resumes the same prepared recording in its next phase (a commit that went
through is answered ``409 recording_committed``: done), so every chain stays unbroken.

Then the same camvault phases with two replicas behind HAProxy (deploy/haproxy/storage.cfg,
TLS, as tests/support/cluster.py runs it; presigned PUTs still go straight to MinIO) show how
the API scales on this machine. ``run() -> dict`` is what ``make bench`` calls (about 5 min);
``python -m bench.fleet`` runs it alone and writes docs/fleet-ingest.png.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from bench.common import REPO
from clients.api.storage import StorageApi
from clients.customer.state import CustomerState
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.escrow import CustodianKey
from crypto.siteid import site_id_for
from crypto.statements import (
    Custodian,
    DeviceEnrollment,
    DeviceKind,
    SiteKeys,
    manifest_hash,
    sign_statement,
)
from tests.reliability.load import camera, cpu
from tests.reliability.load.fleet import PROFILE, Camera, Site
from tests.reliability.load.http import Http, Refused
from tests.reliability.load.stats import Stats, percentile
from tests.storage.support import Service, make_service
from tests.support.cluster import Proxy, make_tls
from tests.support.services import MinioServer, PostgresServer

CAMERAS = (100, 300, 500)
PER_SITE = 10
GOAL_RATIO = 0.8
PLOT = REPO / "docs" / "fleet-ingest.png"
COMMIT = "storage POST .../commit"
RAW_PUT = "raw: minio PUT (presigned)"
RAW_BUCKET = "fleet-raw"
PY_SPY = Path(sys.executable).parent / "py-spy"


@dataclass
class Config:
    cameras: tuple[int, ...] = CAMERAS
    seconds: float = 20.0
    warmup_s: float = 8.0
    warmup_per_camera_s: float = 0.05  # camvault phases: the pipeline fills (see _phase)
    drain_s: float = 5.0
    two_replicas: bool = True
    profile_dir: Path | None = None  # py-spy of the storage process in each camvault phase


@dataclass
class Stack:
    storage: list[Service]
    url: str  # what the cameras call: the one replica, or the proxy
    pids: dict[str, list[int]]
    presign: Callable[[str], str]


@dataclass
class Harness:
    """The fleet and what survives between phases (a camera's unfinished recording)."""

    cameras: list[Camera]
    pending: dict[str, camera.Prepared] = field(default_factory=dict)


# --- the stack and the fleet ---------------------------------------------------------------


def _custodians() -> tuple[Custodian, ...]:
    return tuple(
        Custodian(f"c{i}", CustodianKey.generate().public_key(), _ed25519_public(), None)
        for i in (1, 2, 3)
    )


def _ed25519_public() -> Any:
    return Ed25519SigningKey.generate().public_key


def _enroll_site(url: str, root: Path, custodians: tuple[Custodian, ...], n: int) -> Site:
    """One customer: SiteKeys and its cameras' enrollments, signed and posted with the
    customer's client code (storage only: ingest never reaches the custodians)."""
    state = CustomerState.init(Path(tempfile.mkdtemp(prefix="site-", dir=root)))
    key = state.site_key()
    site_id = site_id_for(key.public_key, "fleet")
    keys = SiteKeys(
        site_id, 1, key.public_key, (state.identity().recipient(),), custodians, 2, now_ms()
    )
    site = Site(site_id, state)
    api = StorageApi.connect(url, f"customer:{site_id}", key)
    try:
        api.create_site(sign_statement(keys, key), None)
        for i in range(n):
            cam = Camera(site, f"cam-{i:02d}")
            enrollment = DeviceEnrollment(
                site_id, cam.camera_id, DeviceKind.CAMERA, "fleet-cam", cam.key.public_key,
                PROFILE, now_ms(),
            )  # fmt: skip
            api.enroll_device(site_id, sign_statement(enrollment, key))
            site.cameras.append(cam)
    finally:
        api.close()
    return site


def enroll_fleet(url: str, root: Path, cameras: int) -> list[Camera]:
    custodians = _custodians()
    counts = [min(PER_SITE, cameras - i) for i in range(0, cameras, PER_SITE)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        sites = list(pool.map(lambda n: _enroll_site(url, root, custodians, n), counts))
    return [c for s in sites for c in s.cameras]


def _presigner(minio: MinioServer) -> Callable[[str], str]:
    s3 = boto3.client(
        "s3",
        endpoint_url=minio.endpoint,
        aws_access_key_id=minio.access_key,
        aws_secret_access_key=minio.secret_key,
        region_name=minio.region,
    )
    s3.create_bucket(Bucket=RAW_BUCKET)

    def presign(key: str) -> str:
        return str(
            s3.generate_presigned_url(
                "put_object", Params={"Bucket": RAW_BUCKET, "Key": key}, ExpiresIn=900
            )
        )

    return presign


@contextlib.contextmanager
def running_stack(root: Path) -> Iterator[tuple[Stack, PostgresServer, MinioServer]]:
    """PostgreSQL, MinIO (tmpfs), one storage replica; stopped and deleted on exit."""
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    pg = PostgresServer(crash_safe=True)
    minio = MinioServer(workdir=Path(tempfile.mkdtemp(prefix="camvault-fleet-minio-", dir=shm)))
    services: list[Service] = []
    try:
        pg.start()
        minio.start()
        svc = make_service(
            root / "storage-1",
            pg.create_database("fleet"),
            minio.settings_env("fleet"),
            CAMVAULT_RATE_LIMIT_PER_S="0",  # every camera connects from 127.0.0.1
            CAMVAULT_SWEEPER_ENABLED="false",
            CAMVAULT_LOG_LEVEL="WARNING",
        )
        svc.workdir.mkdir(parents=True)
        services.append(svc.start())
        pids = {
            "storage": [svc.proc.pid] if svc.proc else [],
            "postgres": [pg.proc.pid] if pg.proc else [],
            "minio": [p.pid for p in minio.procs],
        }
        yield Stack(services, svc.url, pids, _presigner(minio)), pg, minio
    finally:
        for s in services:
            s.stop()
        minio.close()
        pg.close()


@contextlib.contextmanager
def two_replicas(stack: Stack, minio: MinioServer, root: Path) -> Iterator[Stack]:
    """Replica 1 restarted behind HAProxy (its public URL is the proxy's), a second replica
    on the same database and bucket; the cameras call the proxy (TLS)."""
    first = stack.storage[0]
    pem, ca = make_tls(root)
    minio_addr = minio.endpoint.removeprefix("http://")
    own = ("CAMVAULT_DATA_DIR", "CAMVAULT_PUBLIC_URL")
    second = make_service(
        root / "storage-2", None, None, **{k: v for k, v in first.env.items() if k not in own}
    )
    second.workdir.mkdir(parents=True)
    proxy = Proxy(root, pem, ca, [], [minio_addr] * 4)
    proxy.storage = [s.url.removeprefix("http://") for s in (first, second)]
    saved = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(ca)
    try:
        proxy.start()
        for svc in (first, second):
            svc.stop()
            svc.env["CAMVAULT_PUBLIC_URL"] = proxy.url
            svc.start()
        proxy.wait_storage()
        stack.storage.append(second)
        pids = {
            **stack.pids,
            "storage": [s.proc.pid for s in (first, second) if s.proc],
            "haproxy": [proxy.proc.pid] if proxy.proc else [],
        }
        yield Stack(stack.storage, proxy.url, pids, stack.presign)
    finally:
        proxy.stop()
        if saved is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = saved


# --- one phase -----------------------------------------------------------------------------


async def _camvault(http: Http, url: str, cam: Camera, h: Harness, done: list[float]) -> None:
    """The load harness's camera uploader, keeping its prepared recording in ``h.pending``
    (a cancelled phase leaves it there: the next phase uploads it again)."""
    while True:
        if not cam.backlog:
            cam.wake.clear()
            if cam.capture_done:
                return
            await cam.wake.wait()
            continue
        rec = h.pending.get(cam.keyid)
        try:
            if cam.keys is None:
                cam.keys = await camera.site_keys(http, url, cam)
            if rec is None:
                rec = h.pending[cam.keyid] = camera.prepare(cam, cam.keys, *cam.backlog[0])
            await camera.upload(http, url, cam, rec)
        except Refused:
            await asyncio.sleep(camera.RETRY_PAUSE_S)
            continue
        del h.pending[cam.keyid]
        cam.backlog.popleft()
        cam.acknowledged[rec.recording_id] = rec.start_ms
        cam.sequence += 1
        cam.prev = manifest_hash(rec.manifest)
        done.append(time.monotonic())


async def _raw(
    http: Http, url: str, cam: Camera, presign: Callable[[str], str], done: list[float]
) -> None:
    """The baseline camera: the same recording, PUT to a presigned URL; nothing else."""
    while True:
        if not cam.backlog:
            cam.wake.clear()
            if cam.capture_done:
                return
            await cam.wake.wait()
            continue
        rid, start = cam.backlog[0]
        try:
            if cam.keys is None:
                cam.keys = await camera.site_keys(http, url, cam)
            rec = camera.prepare(cam, cam.keys, rid, start)
            key = f"{cam.site.site_id}/{cam.camera_id}/{rid}"
            put = http.client.build_request("PUT", presign(key), content=rec.payload)
            await http.send(RAW_PUT, put, ok=(200,))
        except Refused:
            await asyncio.sleep(camera.RETRY_PAUSE_S)
            continue
        cam.backlog.popleft()
        done.append(time.monotonic())


async def _lag(into: list[float], every: float = 0.25) -> None:
    """How late the harness's event loop wakes (it is in every latency measured)."""
    while True:
        asked = time.monotonic()
        await asyncio.sleep(every)
        into.append(time.monotonic() - asked - every)


async def _phase(kind: str, stack: Stack, h: Harness, n: int, cfg: Config) -> dict[str, Any]:
    cams = h.cameras[:n]
    stats, done, lag = Stats(), list[float](), list[float]()
    for cam in cams:
        cam.backlog.clear()
        cam.capture_done, cam.wake = False, asyncio.Event()
        if kind == "camvault" and cam.keyid in h.pending:  # resume the unfinished one
            rec = h.pending[cam.keyid]
            cam.backlog.append((rec.recording_id, rec.start_ms))
    https = [Http(stats, connections=PER_SITE) for _ in range(0, n, PER_SITE)]

    def worker(i: int, cam: Camera) -> Coroutine[Any, Any, None]:
        http = https[i // PER_SITE]
        if kind == "raw":
            return _raw(http, stack.url, cam, stack.presign, done)
        return _camvault(http, stack.url, cam, h, done)

    label = COMMIT if kind == "camvault" else RAW_PUT
    t0 = time.monotonic()
    # A camera has one request outstanding: the first commits of N cameras come after the
    # service has taken N upload requests, about N x 50 ms here; measured after that.
    warmup = cfg.warmup_s + (cfg.warmup_per_camera_s * n if kind == "camvault" else 0.0)
    window_at = t0 + warmup
    stop_at = window_at + cfg.seconds - cfg.warmup_s

    def acked() -> int:  # commits answered 201 (not resumed ones answered 409 committed)
        return stats.statuses[COMMIT]["201"] if kind == "camvault" else len(done)

    tasks = [asyncio.create_task(worker(i, c)) for i, c in enumerate(cams)]
    captures = [asyncio.create_task(camera.capture(c, stop_at)) for c in cams]
    prober = asyncio.create_task(_lag(lag))
    profiler = None
    try:
        await asyncio.sleep(window_at - time.monotonic())
        cpu0, n0, l0, lag0 = (
            cpu.sample(stack.pids),
            acked(),
            len(stats.latencies[label]),
            len(lag),
        )
        if cfg.profile_dir and kind == "camvault":
            profiler = _py_spy(stack, cfg, f"{len(stack.storage)}r-{n}", stop_at)
        await asyncio.sleep(stop_at - time.monotonic())
        cpu1, n1, lat = cpu.sample(stack.pids), acked(), stats.latencies[label][l0:]
        lag_max = max(lag[lag0:], default=0.0)
        await asyncio.gather(*captures)
        for cam in cams:
            cam.wake.set()
        await asyncio.wait(tasks, timeout=cfg.drain_s)
    finally:
        for t in [*tasks, prober]:
            t.cancel()
        await asyncio.gather(*tasks, prober, return_exceptions=True)
        for http in https:
            await http.aclose()
        if profiler is not None:
            profiler.wait(timeout=60)
    window = cfg.seconds - cfg.warmup_s
    count = n1 - n0
    cpu_s = {k: cpu1[k] - cpu0[k] for k in cpu0}
    ms = sorted(lat)
    return {
        "cameras": n,
        "offered_per_s": n / 2,
        "segments_per_s": round(count / window, 1),
        "segments": count,
        "window_s": window,
        "warmup_s": round(warmup, 1),
        "p50_ms": round(percentile(ms, 50), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "cpu_s": {k: round(v, 2) for k, v in cpu_s.items()},
        "cpu_ms_per_segment": {k: round(v * 1000 / max(1, count), 1) for k, v in cpu_s.items()},
        "harness_lag_max_s": round(lag_max, 2),
        "errors": dict(stats.errors),
        "transport_errors": dict(stats.transport),
    }


def _py_spy(stack: Stack, cfg: Config, tag: str, until: float) -> subprocess.Popen[bytes]:
    """py-spy record of the (first) storage process tree until the phase ends."""
    assert cfg.profile_dir is not None
    cfg.profile_dir.mkdir(parents=True, exist_ok=True)
    seconds = max(1, int(until - time.monotonic()))
    out = cfg.profile_dir / f"storage-{tag}.txt"
    return subprocess.Popen(
        [str(PY_SPY), "record", "--gil", "--subprocesses", "--format", "raw", "-r", "50",
         "-d", str(seconds), "-o", str(out), "-p", str(stack.pids["storage"][0])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _log(kind: str, replicas: int, r: dict[str, Any]) -> None:
    cpu_ms = r["cpu_ms_per_segment"]
    print(
        f"  {replicas} replica(s), {r['cameras']:3d} cameras, {kind:8s}: "
        f"{r['segments_per_s']:6.1f} segments/s, p50/p99 {r['p50_ms']:.0f}/{r['p99_ms']:.0f} ms, "
        f"CPU ms/segment storage {cpu_ms['storage']} postgres {cpu_ms['postgres']} "
        f"minio {cpu_ms['minio']} harness {cpu_ms['harness']}, lag max {r['harness_lag_max_s']} s",
        flush=True,
    )


# --- the run -------------------------------------------------------------------------------


def run(cfg: Config | None = None) -> dict[str, Any]:
    cfg = cfg or Config()
    load_before = os.getloadavg()[0]
    begun = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="camvault-bench-fleet-"))
    out: dict[str, Any] = {"config": {**cfg.__dict__, "profile_dir": str(cfg.profile_dir)}}
    with running_stack(root) as (stack, _pg, minio):
        t = time.monotonic()
        h = Harness(enroll_fleet(stack.url, root, max(cfg.cameras)))
        out["enroll_s"] = round(time.monotonic() - t, 1)
        single: list[dict[str, Any]] = []
        for n in cfg.cameras:
            raw = asyncio.run(_phase("raw", stack, h, n, cfg))
            _log("raw", 1, raw)
            ours = asyncio.run(_phase("camvault", stack, h, n, cfg))
            _log("camvault", 1, ours)
            ours["ratio_over_raw"] = round(
                ours["segments_per_s"] / max(0.1, raw["segments_per_s"]), 2
            )
            single.append({"cameras": n, "raw": raw, "camvault": ours})
        out["one_replica"] = single
        if cfg.two_replicas:
            with two_replicas(stack, minio, root) as two:
                out["two_replicas"] = []
                for n in cfg.cameras:
                    r = asyncio.run(_phase("camvault", two, h, n, cfg))
                    _log("camvault", 2, r)
                    out["two_replicas"].append(r)
    out["acknowledged_total"] = sum(len(c.acknowledged) for c in h.cameras)
    out["setup"] = (
        "PostgreSQL (synchronous_commit on, fsync off) + single-node MinIO in tmpfs, storage "
        "with 1 uvicorn worker per replica; the cameras are one asyncio process on the same "
        f"machine; {cfg.seconds:.0f} s per phase, measured over the last "
        f"{cfg.seconds - cfg.warmup_s:.0f} s after a warm-up ({cfg.warmup_s:.0f} s, camvault "
        f"+{cfg.warmup_per_camera_s * 1000:.0f} ms per camera)"
    )
    out["goal_ratio"] = GOAL_RATIO
    out["cpus"] = len(os.sched_getaffinity(0))
    out["loadavg_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    out["seconds"] = round(time.monotonic() - begun, 1)
    out["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with contextlib.suppress(OSError):
        import shutil

        shutil.rmtree(root)
    return out


# --- report ----------------------------------------------------------------------------------


def plot(result: dict[str, Any], path: Path = PLOT) -> Path:
    """Segments/s and p99 commit latency against N, one replica (with the raw baseline) and
    two replicas behind the proxy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    one = result["one_replica"]
    two = result.get("two_replicas", [])
    ns = [r["cameras"] for r in one]
    fig, (rate, lat) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    rate.plot(ns, [r["cameras"] / 2 for r in one], ":", color="grey", label="offered (N / 2 s)")
    rate.plot(ns, [r["raw"]["segments_per_s"] for r in one], "s--", label="raw presigned PUTs")
    rate.plot(ns, [r["camvault"]["segments_per_s"] for r in one], "o-", label="camvault, 1 replica")
    lat.plot(ns, [_s(r["camvault"]) for r in one], "o-", label="commit, 1 replica")
    lat.plot(ns, [_s(r["raw"]) for r in one], "s--", label="raw PUT")
    if two:
        n2 = [r["cameras"] for r in two]
        rate.plot(n2, [r["segments_per_s"] for r in two], "^-", label="camvault, 2 replicas")
        lat.plot(n2, [_s(r) for r in two], "^-", label="commit, 2 replicas")
    rate.set(xlabel="cameras (N)", ylabel="segments per second", title="Committed segments/s")
    lat.set(xlabel="cameras (N)", ylabel="seconds", title="p99 latency (harness clock)")
    for ax in (rate, lat):
        ax.set_xticks(ns)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Fleet ingest, {result['cpus']} shared vCPUs ({result['date']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _s(phase: dict[str, Any]) -> float:
    """p99 in seconds; no point (NaN) for a phase with nothing answered in its window."""
    return phase["p99_ms"] / 1000 if phase["segments"] else float("nan")


def render(result: dict[str, Any]) -> list[str]:
    """The Markdown rows of `make bench`'s table."""
    lines = [
        "",
        f"**Fleet ingest** ({result['setup']}; load average before/after "
        f"{result['loadavg_before_after']}; plot docs/fleet-ingest.png):",
        "",
        "| cameras | raw PUTs/s | camvault commits/s | ratio (goal >= "
        f"{result['goal_ratio']}x) | commit p50 / p99 | storage CPU per commit | "
        "2 replicas: commits/s, p99 |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    two = {r["cameras"]: r for r in result.get("two_replicas", [])}
    for row in result["one_replica"]:
        raw, ours = row["raw"], row["camvault"]
        r2 = two.get(row["cameras"])
        lines.append(
            f"| {row['cameras']} | {raw['segments_per_s']} | {ours['segments_per_s']} | "
            f"{ours['ratio_over_raw']:.2f}x "
            f"({'met' if ours['ratio_over_raw'] >= result['goal_ratio'] else 'not met'}) | "
            f"{ours['p50_ms']:.0f} / {ours['p99_ms']:.0f} ms | "
            f"{ours['cpu_ms_per_segment']['storage']} ms | "
            + (f"{r2['segments_per_s']}, {r2['p99_ms']:.0f} ms |" if r2 else "- |")
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cameras", default=",".join(map(str, CAMERAS)), help="100,300,500")
    parser.add_argument("--seconds", type=float, default=Config.seconds, help="per phase (20)")
    parser.add_argument("--warmup", type=float, default=Config.warmup_s, help="not measured (8)")
    parser.add_argument("--one-replica", action="store_true", help="skip the two-replica phases")
    parser.add_argument("--profile", type=Path, help="py-spy raw profiles of storage, into DIR")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--no-plot", action="store_true", help=f"do not write {PLOT.name}")
    args = parser.parse_args(argv)
    cfg = Config(
        cameras=tuple(int(x) for x in args.cameras.split(",")),
        seconds=args.seconds,
        warmup_s=args.warmup,
        two_replicas=not args.one_replica,
        profile_dir=args.profile,
    )
    result = run(cfg)
    print(json.dumps(result, indent=2))
    print("\n".join(render(result)))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if not args.no_plot:
        print(f"wrote {plot(result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
