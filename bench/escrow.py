"""Custodian release latency: one batch of 1,800 stanzas, and single releases under load.

One custodian process (uvicorn, SQLite on tmpfs-or-tmp, ``--workers 1``, a 2-process pool for
opening big batches), a site with a camera keeping an hour of pre-alarm recordings, a
registered operator. Measured from the client, HTTP included:

* ``batch``: one request carrying 1,800 escrow stanzas (an hour of 2-second segments),
  median and max of 5 requests (goal <= 250 ms);
* ``single``: 50 concurrent operators (threads), each sending 20 one-recording releases,
  p50 and p99 (goal p99 <= 20 ms on 2 cores).

Latency is taken around ``send`` (the request is built and signed before the clock starts;
its HTTP transfer and the client's reading of the response are counted). The clients share
the 2 cores with the server, and their Python (50 threads, one GIL, httpx) adds to every
measurement, most at the tail: this is inherent and left in. The client process freezes its
setup objects out of the garbage collector, so that one full collection of them (tens of ms,
every client thread paused) is not counted as server latency.

``run() -> dict`` is what ``make bench`` calls; ``python -m bench.escrow`` prints it.
``run_hybrid()`` (``--stanza both``, the ``escrow_hybrid`` row) compares X25519 and hybrid
stanzas at one custodian, a site of each kind, their batch requests alternating: a ratio of
two runs minutes apart on a shared machine measured the machine as much as the stanzas.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import REPO, stop, workdir
from common.http import SignedClient
from common.time import now_ms
from crypto import age, escrow
from crypto.age.format import parse_header
from crypto.age.x25519 import generate_identity
from crypto.ed25519 import Ed25519PublicKey, Ed25519SigningKey
from crypto.encoding import b64encode
from crypto.escrow import (
    ESCROW_STANZA_TYPE,
    HYBRID_STANZA_TYPE,
    CustodianPublicKey,
    HybridCustodianPublicKey,
    SessionKey,
)
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.siteid import site_id_for
from crypto.statements import (
    AlarmEvent,
    AlarmType,
    CameraProfile,
    Custodian,
    DeviceEnrollment,
    DeviceKind,
    OperatorRegistration,
    OperatorRole,
    SignedStatement,
    SiteKeys,
    sign_statement,
)
from tests.support.services import PostgresServer, pg_bindir

SEGMENTS = 1800
OPERATORS = 50
PER_OPERATOR = 20
#: Batch requests measured per kind of stanza (after one warm-up request).
BATCH_RUNS = 5


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(
    workdir: Path, arc: Ed25519SigningKey, workers: int, database_url: str | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    env = dict(os.environ)
    env.update(
        CAMVAULT_ESCROW_CUSTODIAN_ID="c1",
        CAMVAULT_ESCROW_DATA_DIR=str(workdir),
        CAMVAULT_ESCROW_ARC_PUBLIC_KEY=arc.public_key.to_text(),
        CAMVAULT_ESCROW_CRYPTO_WORKERS=str(workers),
    )
    if database_url:  # else SQLite in workdir
        env["CAMVAULT_ESCROW_DATABASE_URL"] = database_url
    log = (workdir / "custodian.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "escrow_service", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("custodian did not start")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(backend: str = "sqlite", fsync: bool = True, stanza: str = "x25519") -> dict[str, Any]:
    """``backend``: "sqlite" (tmpfs) or "postgres" (a throwaway server, synchronous_commit
    on; ``fsync`` on by default, as a deployment runs it; off is the tests' setting).
    ``stanza``: "x25519" or "hybrid" escrow stanzas (see :func:`_measure`)."""
    with workdir("camvault-bench-escrow-") as work, contextlib.ExitStack() as stack:
        arc = Ed25519SigningKey.generate()
        db_url, setup = None, "SQLite (tmpfs)"
        if backend == "postgres":
            pg = PostgresServer(crash_safe=True, fsync=fsync)
            stack.callback(pg.close)
            db_url = pg.start().create_database("escrow_bench")
            setup = f"PostgreSQL {_pg_version()}, synchronous_commit on, fsync {pg_fsync(fsync)}"
        proc, url = _start(work, arc, workers=2, database_url=db_url)
        try:
            out = _measure(url, arc, stanza, proc.pid)
            out["setup"] = out["setup"].replace("SQLite (tmpfs)", setup)
            out["backend"] = backend
            out["stanza"] = stanza
            return out
        finally:
            stop(proc)


#: Goal of the hybrid row: hybrid stanzas' latencies within this factor of X25519's.
HYBRID_GOAL_RATIO = 1.5


def run_hybrid() -> dict[str, Any]:
    """The ``escrow_hybrid`` row: one custodian, a site with X25519 stanzas and one with
    hybrid (ML-KEM-768 + X25519) ones, their batch releases alternating (the same machine
    state for both kinds), then each site's single releases; and the hybrid/X25519 ratios
    of the batch median and of the 1 request/s p99."""
    with workdir("camvault-bench-escrow-") as work:
        arc = Ed25519SigningKey.generate()
        proc, url = _start(work, arc, workers=2)
        try:
            both = _measure_both(url, arc, proc.pid)
        finally:
            stop(proc)
    x, h = both["x25519"], both["hybrid"]
    for kind, row in both.items():
        row["backend"], row["stanza"] = "sqlite", kind
    batch = "batch_1800", "median_ms"
    p99 = "single_50_operators_1_per_s", "p99_ms"
    return {
        "x25519": x,
        "hybrid": h,
        "ratio_batch_median": round(h[batch[0]][batch[1]] / x[batch[0]][batch[1]], 2),
        "ratio_single_p99": round(h[p99[0]][p99[1]] / x[p99[0]][p99[1]], 2),
        "goal_ratio": HYBRID_GOAL_RATIO,
    }


def render_pg(result: dict[str, Any]) -> list[str]:
    """The custodian-on-PostgreSQL rows of `make bench`'s table (the escrow row's layout)."""
    from bench.report import render_escrow

    return render_escrow(result, "Escrow custodian on PostgreSQL")


def pg_fsync(on: bool) -> str:
    return "on (WAL on the machine's disk)" if on else "off"


def _pg_version() -> str:
    return pg_bindir().parent.name


def _tree_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` and its children (the opener pool), from
    /proc; -1 without a pid or /proc."""
    if pid is None:
        return -1.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ticks = 0
        for p in (str(pid), *children):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(") ", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (proc(5))
    except (OSError, IndexError, ValueError):
        return -1.0
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class _Site:
    """A site enrolled at the custodian, its alarm, and the release items of its 1,800
    recordings (one escrow stanza each, of the site's kind)."""

    alarm: SignedStatement
    items: list[dict[str, Any]]

    def body(self, its: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "purpose": "alarm-verification",
            "justification": self.alarm.to_json(),
            "session_key": b64encode(SessionKey.generate().public_key()),
            "items": its,
        }


def _site(url: str, info: dict[str, Any], name: str, hybrid: bool) -> _Site:
    """Enrol a site whose custodian 1 is the one at ``url`` (2 others, offline), with a panel
    and a camera keeping an hour of pre-alarm recordings; ``hybrid``: every custodian lists
    an ML-KEM-768 + X25519 key (``camvault-escrow-mlkem768x25519`` stanzas)."""
    me = CustodianPublicKey.from_text(info["escrow_key"])
    others = [escrow.CustodianKey.generate().public_key() for _ in range(2)]
    pq: list[HybridCustodianPublicKey | None] = [None, None, None]
    if hybrid:
        pq = [HybridCustodianPublicKey.from_text(info["hybrid_escrow_key"])]
        pq += [escrow.HybridCustodianKey.generate().public_key() for _ in range(2)]
    customer, panel = Ed25519SigningKey.generate(), Ed25519SigningKey.generate()
    identity = generate_identity()
    site = site_id_for(customer.public_key, name)
    keys = SiteKeys(
        site,
        1,
        customer.public_key,
        (identity.recipient(),),
        (
            Custodian("c1", me, Ed25519PublicKey.from_text(info["log_key"]), url, pq[0]),
            Custodian("c2", others[0], Ed25519SigningKey.generate().public_key, None, pq[1]),
            Custodian("c3", others[1], Ed25519SigningKey.generate().public_key, None, pq[2]),
        ),
        2,
        now_ms(),
    )
    httpx.post(
        url + "/v1/sites", json={"site_keys": sign_statement(keys, customer).to_json()}
    ).raise_for_status()
    profile = CameraProfile(3600, 60, False, False)
    for dev in (
        DeviceEnrollment(site, "panel", DeviceKind.PANEL, "p", panel.public_key, None, now_ms()),
        DeviceEnrollment(
            site, "cam", DeviceKind.CAMERA, "c", customer.public_key, profile, now_ms()
        ),
    ):
        httpx.post(
            f"{url}/v1/sites/{site}/devices",
            json={"device_enrollment": sign_statement(dev, customer).to_json()},
        ).raise_for_status()
    t = now_ms() - 1_000
    alarm = sign_statement(AlarmEvent(site, "panel", "ev-bench", AlarmType.INTRUSION, t, 1), panel)
    start = t - SEGMENTS * 2_000
    items = []
    for i in range(SEGMENTS):
        meta = RecordingMetadata(
            site,
            "cam",
            f"seg-{i:04d}",
            RecordingKind.SEGMENT,
            start + 2000 * i,
            start + 2000 * (i + 1),
        )
        header, _ = age.encrypt_header(
            escrow.build_recipient_set(
                [identity.recipient()],
                [p or x for p, x in zip(pq, [me, *others], strict=True)],
                2,
                meta,
            )
        )
        kind, kid = (
            (HYBRID_STANZA_TYPE, pq[0].key_id()) if pq[0] else (ESCROW_STANZA_TYPE, me.key_id())
        )
        st = next(s for s in parse_header(header).stanzas if s.type == kind and s.args[0] == kid)
        wire: dict[str, Any] = {"args": list(st.args), "body": b64encode(st.body)}
        if hybrid:
            wire["type"] = kind  # as clients/operator/release.py sends it
        items.append({"metadata": meta.to_json(), "stanza": wire})
    return _Site(alarm, items)


def _operators(url: str, arc: Ed25519SigningKey) -> list[tuple[str, Ed25519SigningKey]]:
    ops = []
    for i in range(OPERATORS):
        k = Ed25519SigningKey.generate()
        reg = OperatorRegistration(f"op-{i}", k.public_key, OperatorRole.OPERATOR, now_ms())
        httpx.post(
            url + "/v1/operators", json={"registration": sign_statement(reg, arc).to_json()}
        ).raise_for_status()
        ops.append((f"op-{i}", k))
    return ops


def _batches(
    url: str, op: tuple[str, Ed25519SigningKey], sites: list[_Site], server_pid: int | None
) -> list[tuple[list[float], list[float]]]:
    """Per site: the latencies and the custodian's CPU of BATCH_RUNS releases of all its
    items in one request (after one warm-up request each). With several sites the requests
    alternate between them, so that each site's requests meet the same machine state."""
    out: list[tuple[list[float], list[float]]] = [([], []) for _ in sites]
    with SignedClient(url, f"operator:{op[0]}", op[1]) as client:
        for run in range(BATCH_RUNS + 1):
            for site, (lat, cpu) in zip(sites, out, strict=True):
                req = client.build("POST", "/v1/releases", json=site.body(site.items))
                c0, t0 = _tree_cpu_s(server_pid), time.perf_counter()
                resp = client.send(req)
                elapsed, used = time.perf_counter() - t0, _tree_cpu_s(server_pid) - c0
                if resp.status_code != 200 or len(resp.json()["items"]) != SEGMENTS:
                    raise RuntimeError(
                        f"batch release failed: {resp.status_code} {resp.text[:300]}"
                    )
                if run:  # the first request warms the pool and caches
                    lat.append(elapsed)
                    cpu.append(used)
    return out


def _singles(
    url: str, ops: list[tuple[str, Ed25519SigningKey]], site: _Site, interval_s: float
) -> tuple[list[float], float]:
    """50 operators (threads), each sending PER_OPERATOR one-recording releases, one every
    ``interval_s`` (open loop) or back to back (0): the latencies and the wall time."""
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []

    def operator(idx: int) -> None:
        op_id, key = ops[idx]
        with SignedClient(url, f"operator:{op_id}", key) as client:
            mine: list[float] = []
            time.sleep(interval_s * idx / OPERATORS)
            for j in range(PER_OPERATOR):
                next_at = time.perf_counter() + interval_s
                item = site.items[(idx * PER_OPERATOR + j) % SEGMENTS]
                req = client.build("POST", "/v1/releases", json=site.body([item]))
                t0 = time.perf_counter()
                resp = client.send(req)
                mine.append(time.perf_counter() - t0)
                if resp.status_code != 200:
                    errors.append(resp.text[:200])
                time.sleep(max(0.0, next_at - time.perf_counter()))
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=operator, args=(i,)) for i in range(OPERATORS)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise RuntimeError(f"{len(errors)} single releases failed: {errors[0]}")
    return latencies, time.perf_counter() - t0


def _freeze() -> None:
    """The clients run in this process: a full collection of its setup objects (1,800 items
    per site, 50 clients) would pause every client thread and be counted as server latency."""
    gc.collect()
    gc.freeze()


def _rows(
    batch: tuple[list[float], list[float]], paced: list[float], closed: tuple[list[float], float]
) -> dict[str, Any]:
    batch_s, cpu_s = batch
    return {
        "batch_1800": {
            "median_ms": round(statistics.median(batch_s) * 1000, 1),
            "max_ms": round(max(batch_s) * 1000, 1),
            "runs": len(batch_s),
            "goal_ms": 250,
            # CPU the custodian (server and opener processes) spent per batch: unlike the
            # latency, hardly changed by what else runs on the machine.
            **(
                {"server_cpu_ms_median": round(statistics.median(cpu_s) * 1000)}
                if cpu_s[0] >= 0
                else {}
            ),
        },
        "single_50_operators_1_per_s": {
            "requests": len(paced),
            "p50_ms": round(_pct(paced, 50) * 1000, 1),
            "p99_ms": round(_pct(paced, 99) * 1000, 1),
            "goal_p99_ms": 20,
        },
        "single_50_operators_closed_loop": {
            "requests": len(closed[0]),
            "p50_ms": round(_pct(closed[0], 50) * 1000, 1),
            "p99_ms": round(_pct(closed[0], 99) * 1000, 1),
            "throughput_rps": round(len(closed[0]) / closed[1], 1),
        },
        "setup": "1 custodian, uvicorn 1 worker, SQLite (tmpfs), 2 opener processes; "
        "clients are threads on the same machine",
        "cpus": len(os.sched_getaffinity(0)),
    }


def _measure(
    url: str, arc: Ed25519SigningKey, stanza: str = "x25519", server_pid: int | None = None
) -> dict[str, Any]:
    """``stanza``: "x25519" (``camvault-escrow``) or "hybrid" (every custodian of the site
    publishes an ML-KEM-768 + X25519 key: ``camvault-escrow-mlkem768x25519`` stanzas)."""
    load_before = os.getloadavg()[0]
    info = httpx.get(url + "/v1/custodian").json()
    site = _site(url, info, "bench-site", stanza == "hybrid")
    ops = _operators(url, arc)
    _freeze()
    [batch] = _batches(url, ops[0], [site], server_pid)
    # Open loop: each of the 50 operators sends one release per second (50 requests/s).
    paced, _ = _singles(url, ops, site, 1.0)
    # Closed loop: each operator sends its next request as soon as the last one answered.
    closed = _singles(url, ops, site, 0.0)
    out = _rows(batch, paced, closed)
    out["loadavg_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return out


def _measure_both(url: str, arc: Ed25519SigningKey, server_pid: int | None) -> dict[str, Any]:
    """X25519 and hybrid stanzas at one custodian (a site of each kind): the batches
    alternate between the two sites, then each site's single-release loads run in turn."""
    load_before = os.getloadavg()[0]
    info = httpx.get(url + "/v1/custodian").json()
    sites = {
        kind: _site(url, info, f"bench-{kind}", kind == "hybrid") for kind in ("x25519", "hybrid")
    }
    ops = _operators(url, arc)
    _freeze()
    batches = dict(zip(sites, _batches(url, ops[0], list(sites.values()), server_pid), strict=True))
    out: dict[str, Any] = {}
    for kind, site in sites.items():
        paced, _ = _singles(url, ops, site, 1.0)
        closed = _singles(url, ops, site, 0.0)
        out[kind] = _rows(batches[kind], paced, closed)
    load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    for row in out.values():
        row["loadavg_before_after"] = load
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--no-fsync", action="store_true", help="postgres: fsync off (the tests' setting)"
    )
    parser.add_argument(
        "--stanza",
        choices=("x25519", "hybrid", "both"),
        default="x25519",
        help="escrow stanza kind; both: X25519 and hybrid at one custodian, batches alternating "
        "(the escrow_hybrid row)",
    )
    args = parser.parse_args(argv)
    if args.stanza == "both":
        if args.backend != "sqlite":
            parser.error("--stanza both runs on SQLite")
        print(json.dumps(run_hybrid(), indent=2))
        return 0
    print(json.dumps(run(args.backend, fsync=not args.no_fsync, stanza=args.stanza), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
