"""``make soak``: start PostgreSQL and MinIO, the storage service and three custodians on
them, run the load (SOAK_CAMERAS, SOAK_OPERATORS, SOAK_SECONDS, SOAK_CAMERAS_PER_SITE,
SOAK_DRAIN_SECONDS, SOAK_STORAGE_WORKERS), print the report and write it to
bench/results/soak-<UTC date and time>.json and .md. Exit 1 on any error or lost recording."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from tests.clients.customer_world import running_world
from tests.reliability.load.run import Config, render, run_load, write
from tests.support.services import REPO_ROOT, MinioServer, PostgresServer, running

FULL = Config(cameras=500, operators=20, seconds=300.0, drain_s=60.0, storage_workers=2)


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds: the services and servers are stopped


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    cfg = Config.from_env(**{k: getattr(FULL, k) for k in FULL.__dataclass_fields__})
    # Every simulated device connects from 127.0.0.1: the custodians' per-address limit of
    # unauthenticated requests (enrolment statements) would throttle the whole fleet as one.
    os.environ.setdefault("CAMVAULT_ESCROW_RATE_LIMIT_PER_S", "0")
    workdir = Path(tempfile.mkdtemp(prefix="camvault-soak-"))
    pg, minio = PostgresServer(), MinioServer()
    failed = True
    try:
        with running(pg), running(minio), running_world(workdir, postgres=pg, minio=minio) as w:
            servers = {
                "postgres": [pg.proc.pid] if pg.proc else [],
                "minio": [p.pid for p in minio.procs],
            }
            result = run_load(w, workdir, cfg, servers)
        failed = bool(result["errors"] or result["lost"])
    finally:
        if failed:  # the services' logs (storage/service.log, c1.log...) say what happened
            print(f"kept {workdir} (service logs)", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(render(result))
    stem = "soak-" + result["date"].replace(":", "").replace("-", "")
    js, md = write(result, REPO_ROOT / "bench" / "results", stem)
    print(f"written: {js.relative_to(REPO_ROOT)}, {md.relative_to(REPO_ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
