"""The escrow benchmark (bench/escrow.py) with witness cosigning on: the custodian collects
cosignatures from 3 witnesses (quorum 2, real `python -m witness_service` processes on the same
machine) and every receipt waits for a cosigned checkpoint covering its entry (one cosigning
round shared by all the receipts waiting, docs/WITNESS.md).

Same rows as bench/escrow.py: a batch release of 1,800 stanzas (goal <= 250 ms) and single
releases by 50 operators (goal p99 <= 20 ms). Run: ``python -m bench.witness`` (this row
alone, JSON on stdout), ``python -m bench.witness --side-by-side`` (the plain escrow row, then
this one, on the same machine state; JSON on stdout). ``make bench`` runs it as
``escrow_witnessed``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import httpx

from bench import escrow as bench_escrow
from bench.common import REPO, stop, workdir
from crypto.ed25519 import Ed25519SigningKey
from escrow_service.core.keys import load_or_create

WITNESSES = 3
QUORUM = 2


def _wait(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not start")


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def run() -> dict[str, Any]:
    with workdir("camvault-bench-witness-") as work:
        arc = Ed25519SigningKey.generate()
        custodian_dir = work / "c1"
        keys = load_or_create(custodian_dir, "c1")
        procs: list[subprocess.Popen[bytes]] = []
        try:
            entries = []
            for i in range(1, WITNESSES + 1):
                port = bench_escrow._port()
                url = f"http://127.0.0.1:{port}"
                proc = _spawn(
                    ["-m", "witness_service", "--port", str(port)],
                    {
                        "CAMVAULT_WITNESS_NAME": f"witness.bench/w{i}",
                        "CAMVAULT_WITNESS_DATA_DIR": str(work / f"w{i}"),
                        "CAMVAULT_WITNESS_LOGS": keys.log_verifier.to_text(),
                    },
                    work / f"w{i}.log",
                )
                procs.append(proc)
                _wait(url, proc, f"witness w{i}")
                vkey = httpx.get(url + "/witness", timeout=10).json()["verifier_key"]
                entries.append(f"{url} {vkey}")
            port = bench_escrow._port()
            url = f"http://127.0.0.1:{port}"
            proc = _spawn(
                ["-m", "escrow_service", "--port", str(port)],
                {
                    "CAMVAULT_ESCROW_CUSTODIAN_ID": "c1",
                    "CAMVAULT_ESCROW_DATA_DIR": str(custodian_dir),
                    "CAMVAULT_ESCROW_ARC_PUBLIC_KEY": arc.public_key.to_text(),
                    "CAMVAULT_ESCROW_CRYPTO_WORKERS": "2",
                    "CAMVAULT_ESCROW_WITNESSES": ",".join(entries),
                    "CAMVAULT_ESCROW_WITNESS_QUORUM": str(QUORUM),
                },
                work / "custodian.log",
            )
            procs.append(proc)
            _wait(url, proc, "custodian")
            result = bench_escrow._measure(url, arc, server_pid=proc.pid)
            note = httpx.get(url + "/v1/log/cosigned-checkpoint", timeout=10).text
            result["cosignatures_on_latest"] = note.count("\u2014 witness.bench/")
            result["setup"] = (
                f"as bench/escrow.py, with {WITNESSES} witnesses (quorum {QUORUM}) on the "
                "same machine; every receipt carries a checkpoint cosigned by the quorum"
            )
            return result
        finally:
            for p in reversed(procs):
                stop(p)


def side_by_side() -> dict[str, Any]:
    """The plain escrow row, then the witnessed one, back to back (each with its time)."""
    from datetime import UTC, datetime

    out: dict[str, Any] = {}
    for key, fn in (("escrow", bench_escrow.run), ("escrow_witnessed", run)):
        print(f"{key}...", file=sys.stderr, flush=True)
        out[key] = fn()
        out[key]["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return out


if __name__ == "__main__":
    if "--side-by-side" in sys.argv[1:]:
        print(json.dumps(side_by_side(), indent=2))
    else:
        print(json.dumps(run(), indent=2))
