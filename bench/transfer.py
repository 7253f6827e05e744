"""Transfer: a recording up through the camera's path and down through the customer's,
against a plain boto3 transfer and against rclone with a crypt remote, same MinIO, same run.

Setup: MinIO (the pinned build the tests use, data in tmpfs) and the storage service on
SQLite (`camvault serve storage`, as tests/storage/support.py starts it); one site, one
camera. Every transfer runs in its own process, timed wall-clock (process start included)
under GNU time for its peak RSS:

* camvault up: ``clients.camera.seal.seal`` (encrypt to the camera's outbox file) + the
  camera's ``Uploader`` (upload request, presigned parts, commit); down: the customer's
  ``fetch_checked`` path (detail, presigned GET decrypted as it streams to a temporary file,
  fsync, rename once verified);
* boto3: ``upload_file`` / ``download_file`` of the plaintext, same part size (16 MiB) and
  concurrency (4);
* rclone (Debian package) ``copyto`` through a crypt remote over the same bucket, same chunk
  size and concurrency; its config (password through ``rclone obscure``) is in the workdir.

Ratios are throughput camvault / baseline (>= 1 means camvault is faster); median of
``reps`` interleaved runs. ``run() -> dict`` is what ``make bench`` calls;
``python -m bench.transfer --size 1GiB`` runs it alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import MIB, mbps, workdir

PART = 16 * MIB
CONCURRENCY = 4
BUCKET = "bench-transfer"
GOALS = {"boto3": 0.9, "rclone": 1.5}
RSS_GOAL_MIB = 64
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


#: CPU seconds (user + system) of each process timed, by row key: less sensitive than
#: wall-clock to what else the shared machine runs.
CPU: dict[str, list[float]] = {}
#: The camera role's phases (seal, upload + commit), seconds, as it reports them.
PHASES: list[dict[str, float]] = []
#: CPU seconds the servers (MinIO, the storage service) spent during each transfer.
SERVER_CPU: dict[str, list[float]] = {}
#: The servers' process ids (set by :func:`run`).
SERVER_PIDS: list[int] = []


def _server_cpu() -> float:
    """User + system CPU seconds of the server processes so far (/proc/PID/stat)."""
    total = 0
    for pid in SERVER_PIDS:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def _timed(
    argv: Sequence[str], env: dict[str, str] | None = None, key: str | None = None
) -> tuple[float, int]:
    """Wall-clock seconds and peak RSS (KiB, GNU time %M) of one process."""
    with tempfile.NamedTemporaryFile("r") as rss:
        wrapper = [GNU_TIME, "-f", "%M %U %S", "-o", rss.name] if GNU_TIME else []
        server = _server_cpu()
        start = time.perf_counter()
        proc = subprocess.run([*wrapper, *argv], capture_output=True, env=env)
        seconds = time.perf_counter() - start
        server = _server_cpu() - server
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[:4]} failed: {proc.stderr.decode(errors='replace')[-800:]}")
        fields = rss.read().split()[-3:] if GNU_TIME else ["0", "0", "0"]
    if key:
        CPU.setdefault(key, []).append(float(fields[1]) + float(fields[2]))
        SERVER_CPU.setdefault(key, []).append(server)
    for line in proc.stdout.decode(errors="replace").splitlines():
        if line.startswith("phases "):
            PHASES.append(json.loads(line[len("phases ") :]))
    return seconds, int(fields[0])


def _write_random(path: Path, size: int) -> None:
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, 8 * MIB)
            f.write(os.urandom(n))
            left -= n


# --- the roles, each run as `python -m bench.transfer --role ROLE --ctx ctx.json` ----------


def _role_camera(ctx: dict[str, Any], plain: Path, recording_id: str) -> None:
    from clients.api.storage import StorageApi
    from clients.camera.queue import Journal
    from clients.camera.seal import seal
    from clients.camera.uploader import Uploader
    from common.time import now_ms
    from crypto.ed25519 import Ed25519SigningKey
    from crypto.metadata import RecordingKind, RecordingMetadata
    from crypto.statements import SiteKeys, parse_signed

    key = Ed25519SigningKey.from_text(ctx["camera_key"])
    site_keys = parse_signed(ctx["site_keys"].encode()).unverified_statement
    assert isinstance(site_keys, SiteKeys)
    t = now_ms()
    meta = RecordingMetadata(
        ctx["site_id"], ctx["camera_id"], recording_id, RecordingKind.SEGMENT, t - 1000, t
    )
    outbox = Path(ctx["work"]) / "outbox"
    outbox.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    with plain.open("rb") as src:
        sealed = seal(
            site_keys,
            meta,
            src,
            outbox / f"{recording_id}.age",
            # CAMVAULT_BENCH_SEAL_PARTS=0: the parts hashed by the uploader instead (A/B)
            part_size=PART if os.environ.get("CAMVAULT_BENCH_SEAL_PARTS") != "0" else None,
            multipart_threshold=PART,
        )
    t1 = time.perf_counter()
    journal = Journal(outbox / "journal.sqlite", ctx["site_id"], ctx["camera_id"], key)
    journal.enqueue([sealed])
    item = journal.next_pending()
    assert item is not None
    keyid = f"device:{ctx['site_id']}/{ctx['camera_id']}"
    with StorageApi.connect(ctx["url"], keyid, key) as api:
        Uploader(api, journal, multipart_threshold=PART, part_size=PART).upload(item)
    phases = {"seal_s": round(t1 - t0, 3), "upload_s": round(time.perf_counter() - t1, 3)}
    print("phases", json.dumps(phases), flush=True)
    journal.done(item.sequence)
    journal.close()
    sealed.file.unlink()


def _role_customer(ctx: dict[str, Any], out: Path, recording_id: str) -> None:
    from clients.api.storage import StorageApi, header_bytes, open_download
    from clients.customer.checks import check_recording_stream
    from crypto.age import parse_identity_file
    from crypto.ed25519 import Ed25519PublicKey, Ed25519SigningKey

    key = Ed25519SigningKey.from_text(ctx["site_key"])
    site, cam = ctx["site_id"], ctx["camera_id"]
    identities = parse_identity_file(ctx["identity"])
    with StorageApi.connect(ctx["url"], f"customer:{site}", key) as api:
        detail = api.recording(site, cam, recording_id)
    header = header_bytes(detail)
    assert header is not None
    tmp = out.with_name(out.name + ".part")
    with open_download(detail["download_url"]) as payload, tmp.open("wb") as fh:
        check_recording_stream(
            detail["manifest"],
            header,
            payload,  # type: ignore[arg-type]
            identities=identities,
            camera_key=Ed25519PublicKey.from_text(ctx["camera_pub"]),
            site_id=site,
            camera_id=cam,
            recording_id=recording_id,
            out=fh,
        )
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(out)


def _boto3(ctx: dict[str, Any]) -> Any:
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=ctx["s3"]["CAMVAULT_S3_ENDPOINT"],
        aws_access_key_id=ctx["s3"]["CAMVAULT_S3_ACCESS_KEY"],
        aws_secret_access_key=ctx["s3"]["CAMVAULT_S3_SECRET_KEY"],
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    cfg = TransferConfig(
        multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=CONCURRENCY
    )
    return client, cfg


def _role(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--role", required=True)
    p.add_argument("--ctx", type=Path, required=True)
    p.add_argument("--file", type=Path, required=True)
    p.add_argument("--name", required=True)
    a = p.parse_args(argv)
    ctx = json.loads(a.ctx.read_text())
    if a.role == "camvault-up":
        _role_camera(ctx, a.file, a.name)
    elif a.role == "camvault-down":
        _role_customer(ctx, a.file, a.name)
    elif a.role == "boto3-up":
        client, cfg = _boto3(ctx)
        client.upload_file(str(a.file), BUCKET, a.name, Config=cfg)
    elif a.role == "boto3-down":
        client, cfg = _boto3(ctx)
        client.download_file(BUCKET, a.name, str(a.file), Config=cfg)
    else:
        raise SystemExit(f"unknown role {a.role}")
    return 0


# --- the run -------------------------------------------------------------------------------


def _rclone_config(work: Path, s3: dict[str, str]) -> Path:
    rclone = shutil.which("rclone")
    if rclone is None:
        sys.exit("bench: rclone is not installed (make tools: apt-get install rclone)")
    obscure = subprocess.run(
        [rclone, "obscure", "camvault-bench-password"], check=True, capture_output=True, text=True
    ).stdout.strip()
    conf = work / "rclone.conf"
    conf.write_text(
        "[minio]\ntype = s3\nprovider = Minio\nenv_auth = false\n"
        f"access_key_id = {s3['CAMVAULT_S3_ACCESS_KEY']}\n"
        f"secret_access_key = {s3['CAMVAULT_S3_SECRET_KEY']}\n"
        f"endpoint = {s3['CAMVAULT_S3_ENDPOINT']}\nregion = us-east-1\n\n"
        f"[vault]\ntype = crypt\nremote = minio:{BUCKET}/rclone\npassword = {obscure}\n"
    )
    conf.chmod(0o600)
    return conf


def _rclone(conf: Path, src: str, dst: str) -> list[str]:
    return [
        shutil.which("rclone") or "rclone",
        "--config",
        str(conf),
        "copyto",
        src,
        dst,
        "--s3-chunk-size",
        f"{PART // MIB}M",
        "--s3-upload-concurrency",
        str(CONCURRENCY),
        "--multi-thread-streams",
        str(CONCURRENCY),
        "--s3-upload-cutoff",
        f"{PART // MIB}M",
    ]


#: rclone 1.60's S3 backend cannot load AWS_CA_BUNDLE with its own HTTP transport (and
#: MinIO here is plain HTTP on loopback): it runs without that variable.
_RCLONE_ENV = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}


def _me(role: str, ctx: Path, file: Path, name: str) -> list[str]:
    base = [sys.executable, "-m", "bench.transfer", "--role", role, "--ctx", str(ctx)]
    return [*base, "--file", str(file), "--name", name]


def run(
    size: int = 1024 * MIB,
    reps: int = 3,
    rss_size: int | None = None,
    profile: Path | None = None,
) -> dict[str, Any]:
    from tests.storage.support import create_site, make_service
    from tests.support.services import MinioServer

    with workdir("camvault-bench-transfer-") as work:
        (work / "minio").mkdir()
        minio = MinioServer(workdir=work / "minio").start()
        svc = make_service(work / "svc", None, minio.settings_env(BUCKET))
        (work / "svc").mkdir()
        svc.start()
        SERVER_PIDS[:] = [p.pid for p in minio.procs] + ([svc.proc.pid] if svc.proc else [])
        try:
            site = create_site(svc.url)
            cam = site.enroll_camera()
            ident = work / "identity.txt"

            ident.write_text(site.identity.to_text() + "\n")
            ctx = {
                "url": svc.url,
                "work": str(work),
                "site_id": site.site_id,
                "camera_id": cam.camera_id,
                "camera_key": cam.key.to_text(),
                "camera_pub": cam.key.public_key.to_text(),
                "site_key": site.key.to_text(),
                "site_keys": site.site_keys.encode().decode(),
                "identity": ident.read_text(),
                "s3": minio.settings_env(BUCKET),
            }
            ctx_file = work / "ctx.json"
            ctx_file.write_text(json.dumps(ctx))
            ctx_file.chmod(0o600)
            conf = _rclone_config(work, minio.settings_env(BUCKET))
            return _measure(work, ctx_file, conf, size, reps, rss_size, profile)
        finally:
            svc.stop()
            minio.stop()


def _py_spy(out: Path, argv: list[str]) -> list[str]:
    """``argv`` under py-spy (sampling, every thread, idle time left out): collapsed stacks
    in ``out``. Profiling slows the run down: its timings are not the row's."""
    spy = Path(sys.executable).parent / "py-spy"
    return [
        str(spy),
        "record",
        "--format",
        "raw",
        "--threads",
        "-r",
        "200",
        "-o",
        str(out),
        "--",
        *argv,
    ]


def _measure(
    work: Path,
    ctx: Path,
    conf: Path,
    size: int,
    reps: int,
    rss_size: int | None,
    profile: Path | None = None,
) -> dict[str, Any]:
    plain = work / "plain.bin"
    _write_random(plain, size)
    runs: dict[str, list[tuple[float, int]]] = {}
    tools = ("camvault", "boto3", "rclone")
    for rep in range(reps):
        order = tools if rep % 2 == 0 else tools[::-1]
        for tool in order:
            name, out = f"r{rep}-{tool}", work / f"out-{tool}.bin"
            if tool == "camvault":
                up = _me("camvault-up", ctx, plain, name)
                down = _me("camvault-down", ctx, out, name)
            elif tool == "boto3":
                up, down = _me("boto3-up", ctx, plain, name), _me("boto3-down", ctx, out, name)
            else:
                up = _rclone(conf, str(plain), f"vault:{name}")
                down = _rclone(conf, f"vault:{name}", str(out))
            env = _RCLONE_ENV if tool == "rclone" else None
            if tool == "camvault" and profile is not None:
                up = _py_spy(profile / f"camvault-up-{rep}.txt", up)
                down = _py_spy(profile / f"camvault-down-{rep}.txt", down)
            runs.setdefault(f"{tool}_up", []).append(_timed(up, env, f"{tool}_up"))
            runs.setdefault(f"{tool}_down", []).append(_timed(down, env, f"{tool}_down"))
            if not _same(plain, out):
                raise RuntimeError(f"{tool}: the downloaded file differs from the uploaded one")
            out.unlink()
        line = ", ".join(f"{k} {mbps(size, v[-1][0]):.0f}" for k, v in runs.items())
        print(f"  transfer rep {rep + 1}/{reps}: {line} MB/s", flush=True)
    result: dict[str, Any] = {
        "size_bytes": size,
        "part_bytes": PART,
        "concurrency": CONCURRENCY,
        "reps": reps,
        "setup": "MinIO (tmpfs) + storage service on SQLite, one machine",
        "seconds": {k: [round(s, 3) for s, _ in v] for k, v in runs.items()},
        "max_rss_kib": {k: max(r for _, r in v) for k, v in runs.items()},
        "cpu_seconds": {k: [round(c, 2) for c in v] for k, v in CPU.items()},
        "server_cpu_seconds": {k: [round(c, 2) for c in v] for k, v in SERVER_CPU.items()},
        "camvault_up_phases": PHASES[:reps],
    }
    med = {k: statistics.median(s for s, _ in v) for k, v in runs.items()}
    rows = []
    for way in ("up", "down"):
        for base in ("boto3", "rclone"):
            rows.append(
                {
                    "row": f"{'upload' if way == 'up' else 'download'} vs {base}",
                    "baseline_mbps": round(mbps(size, med[f"{base}_{way}"]), 1),
                    "camvault_mbps": round(mbps(size, med[f"camvault_{way}"]), 1),
                    "ratio": round(med[f"{base}_{way}"] / med[f"camvault_{way}"], 3),
                    "goal": GOALS[base],
                }
            )
    result["rows"] = rows
    if rss_size:
        result["rss"] = _rss(work, ctx, rss_size)
    return result


def _rss(work: Path, ctx: Path, size: int) -> dict[str, Any]:
    """Peak RSS of the camvault paths on a big recording (one run each)."""
    plain, out = work / "plain.bin", work / "out-rss.bin"
    _write_random(plain, size)
    _, up = _timed(_me("camvault-up", ctx, plain, "rss"))
    _, down = _timed(_me("camvault-down", ctx, out, "rss"))
    ok = _same(plain, out)
    out.unlink()
    return {"size_bytes": size, "up_kib": up, "down_kib": down, "same": ok, "goal_mib": 64}


def _same(a: Path, b: Path) -> bool:
    import filecmp

    return filecmp.cmp(a, b, shallow=False)


def render(t: dict[str, Any]) -> str:
    lines = [
        "",
        f"**Transfer** ({t['size_bytes'] // MIB} MiB recording, {t['part_bytes'] // MIB} MiB "
        f"parts, {t['concurrency']} at a time; {t['setup']}; median of {t['reps']}):",
        "",
        "| row | baseline MB/s | camvault MB/s | ratio | goal |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in t["rows"]:
        lines.append(
            f"| {r['row']} | {r['baseline_mbps']} | {r['camvault_mbps']} | "
            f"{r['ratio']}x | >= {r['goal']}x |"
        )
    rss = t["max_rss_kib"]
    lines.append("")
    lines.append(
        f"Peak RSS at {t['size_bytes'] // MIB} MiB: camvault up {rss['camvault_up'] // 1024} / "
        f"down {rss['camvault_down'] // 1024} MiB, boto3 {rss['boto3_up'] // 1024} / "
        f"{rss['boto3_down'] // 1024} MiB, rclone {rss['rclone_up'] // 1024} / "
        f"{rss['rclone_down'] // 1024} MiB."
    )
    if "rss" in t:
        r = t["rss"]
        lines.append(
            f"At {r['size_bytes'] // MIB} MiB: camvault up {r['up_kib'] // 1024} MiB, down "
            f"{r['down_kib'] // 1024} MiB (goal <= {r['goal_mib']} MiB)."
        )
    return "\n".join(lines)


def _size(text: str) -> int:
    units = {"GIB": 1024 * MIB, "MIB": MIB}
    t = text.upper()
    for u, mult in units.items():
        if t.endswith(u):
            return int(float(t[: -len(u)]) * mult)
    return int(t)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--role" in args:
        return _role(args)
    p = argparse.ArgumentParser(description="camvault transfer vs boto3 and rclone crypt")
    p.add_argument("--size", default="1GiB", help="recording size (1GiB)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--rss-size", default=None, help="also peak RSS at this size (e.g. 4GiB)")
    p.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="run the camvault transfers under py-spy, collapsed stacks into this folder "
        "(their timings are then not comparable)",
    )
    a = p.parse_args(args)
    rss = _size(a.rss_size) if a.rss_size else None
    if a.profile:
        a.profile.mkdir(parents=True, exist_ok=True)
    result = run(_size(a.size), a.reps, rss, a.profile)
    print(json.dumps(result, indent=2))
    print(render(result))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        raise SystemExit(main())
