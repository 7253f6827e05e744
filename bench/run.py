"""`make bench`: camvault's age encryption against the real `age`, same machine, same run.

What is measured (all files in tmpfs, /dev/shm, so the disk is out of the picture):

* CLI: ``camvault encrypt/decrypt`` and ``age`` / ``age -d`` on the same random plaintext
  (default 512 MiB), X25519 recipient, ``-o`` output file, process start included, the two
  tools interleaved in every repetition. Median of ``--reps`` (default 5) wall-clock times.
* process start alone: both CLIs on an empty input (median).
* library: ``crypto.age.encrypt/decrypt`` in this process, file to file, each of 2 x
  ``--reps`` repetitions interleaved with ``age`` on the same file, after an untimed
  warm-up round (median; the goal's ratio is taken here, where both see the same machine).
* AEAD backends: ChaCha20-Poly1305 seal of one 64 KiB chunk through
  ``crypto.age.stream.aead_backends()`` (OpenSSL via pyca/cryptography vs libsodium via PyNaCl),
  one thread and two threads (does the backend release the GIL?), best of 3.
* peak RSS (``wait4`` rusage ``ru_maxrss``) of each CLI on the big and on a 64 MiB input:
  constant memory means the two are about equal.
* escrow custodian (bench/escrow.py), then the same with witness cosigning on
  (bench/witness.py: 3 witnesses, quorum 2; every receipt waits for a cosigned checkpoint).

MB/s are 10^6 bytes of plaintext per second. Results go to bench/results/latest.json and a
dated copy; the table section of docs/PERFORMANCE.md between its markers is regenerated.
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import escrow as bench_escrow
from bench import fleet as bench_fleet
from bench import live as bench_live
from bench import transfer as bench_transfer
from bench import witness as bench_witness
from bench.common import MIB, REPO, TOOLS, mbps, workdir
from bench.report import DOC, render_table, update_doc

RESULTS_DIR = REPO / "bench" / "results"
CAMVAULT = Path(sys.executable).parent / "camvault"
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


@dataclass
class Run:
    seconds: float
    maxrss_kib: int


def timed_process(argv: Sequence[str], stdin: Path | None = None) -> Run:
    """Run ``argv`` to completion; wall-clock time and the program's peak RSS.

    The RSS comes from GNU time (``%M``): a child forked from this Python process inherits
    its resident set until exec, which ``wait4``'s ``ru_maxrss`` would count.
    """
    with contextlib.ExitStack() as stack:
        err = stack.enter_context(tempfile.TemporaryFile())
        rss = stack.enter_context(tempfile.NamedTemporaryFile("r"))
        src = stack.enter_context(open(stdin, "rb")) if stdin else subprocess.DEVNULL
        wrapper = [GNU_TIME, "-f", "%M", "-o", rss.name] if GNU_TIME else []
        start = time.perf_counter()
        proc = subprocess.Popen([*wrapper, *argv], stdin=src, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            message = err.read().decode(errors="replace")
            raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {message}")
        maxrss = int(rss.read().split()[-1]) if GNU_TIME else usage.ru_maxrss
    return Run(seconds, maxrss)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def write_random(path: Path, size: int) -> None:
    with path.open("wb") as f:
        for _ in range(size // (8 * MIB)):
            f.write(os.urandom(8 * MIB))
        f.write(os.urandom(size % (8 * MIB)))


# --- the CLIs ---------------------------------------------------------------------------


@dataclass
class Tools:
    age: str
    age_keygen: str
    camvault: str
    identity: Path
    recipient: str

    def _prefix(self, tool: str, op: str) -> list[str]:
        if tool == "age":
            return [self.age] if op == "encrypt" else [self.age, "-d"]
        if tool == "camvault":
            return [self.camvault, op]
        # The same commands without the console script's other command groups.
        return [sys.executable, "-m", "clients.cli.age", op]

    def encrypt(self, tool: str, src: Path, dst: Path) -> list[str]:
        return [*self._prefix(tool, "encrypt"), "-r", self.recipient, "-o", str(dst), str(src)]

    def decrypt(self, tool: str, src: Path, dst: Path) -> list[str]:
        return [*self._prefix(tool, "decrypt"), "-i", str(self.identity), "-o", str(dst), str(src)]


def find_tools(work: Path) -> Tools:
    age, keygen = shutil.which("age"), shutil.which("age-keygen")
    if not age or not keygen:
        sys.exit("bench: the `age` CLI is not installed (make tools)")
    if not CAMVAULT.is_file():
        sys.exit(f"bench: {CAMVAULT} missing (make venv)")
    identity = work / "identity.txt"
    subprocess.run([str(CAMVAULT), "keygen", "-o", str(identity)], check=True, capture_output=True)
    recipient = subprocess.run(
        [keygen, "-y", str(identity)], check=True, capture_output=True, text=True
    ).stdout.strip()
    return Tools(age, keygen, str(CAMVAULT), identity, recipient)


def bench_cli(tools: Tools, work: Path, plain: Path, reps: int) -> dict[str, Any]:
    """Median wall-clock of each tool's encrypt and decrypt; tools interleaved per rep."""
    size = plain.stat().st_size
    times: dict[str, dict[str, list[Run]]] = {
        op: {tool: [] for tool in TOOLS} for op in ("encrypt", "decrypt")
    }
    for rep in range(reps):
        order = TOOLS if rep % 2 == 0 else TOOLS[::-1]
        for tool in order:
            ct, out = work / f"{tool}.age", work / f"{tool}.out"
            _unlink(ct)
            times["encrypt"][tool].append(timed_process(tools.encrypt(tool, plain, ct)))
        for tool in order:
            ct, out = work / f"{tool}.age", work / f"{tool}.out"
            _unlink(out)
            times["decrypt"][tool].append(timed_process(tools.decrypt(tool, ct, out)))
        print(f"  rep {rep + 1}/{reps}: " + _rep_line(times, size), flush=True)
    for tool in TOOLS:
        if not filecmp.cmp(plain, work / f"{tool}.out", shallow=False):
            raise RuntimeError(f"{tool} round trip changed the plaintext")
    # Cross-check: each tool reads the other's file.
    cross = work / "cross.out"
    timed_process(tools.decrypt("age", work / "camvault.age", cross))
    if not filecmp.cmp(plain, cross, shallow=False):
        raise RuntimeError("age -d did not reproduce camvault's plaintext")
    _unlink(cross)
    result: dict[str, Any] = {"size_bytes": size, "reps": reps, "statistic": "median"}
    for op, per_tool in times.items():
        entry: dict[str, Any] = {}
        for tool, runs in per_tool.items():
            entry[tool] = _timings(size, [r.seconds for r in runs])
            entry[tool]["max_rss_kib"] = max(r.maxrss_kib for r in runs)
        for tool in TOOLS[1:]:
            entry[f"ratio_{tool}_over_age"] = round(entry[tool]["mbps"] / entry["age"]["mbps"], 3)
        result[op] = entry
    return result


def _timings(size: int, seconds: list[float]) -> dict[str, Any]:
    """The repetitions of one measurement: all times, the median, MB/s of median and best."""
    median = statistics.median(seconds)
    return {
        "seconds": [round(x, 4) for x in seconds],
        "median_s": round(median, 4),
        "mbps": round(mbps(size, median), 1),
        "best_mbps": round(mbps(size, min(seconds)), 1),
    }


def _rep_line(times: dict[str, dict[str, list[Run]]], size: int) -> str:
    parts = []
    for op, per_tool in times.items():
        for tool, runs in per_tool.items():
            parts.append(f"{tool} {op[:3]} {mbps(size, runs[-1].seconds):6.0f}")
    return " | ".join(parts) + " MB/s"


def bench_startup(tools: Tools, work: Path, reps: int) -> dict[str, Any]:
    """Process start: both CLIs encrypting an empty file."""
    empty = work / "empty"
    empty.write_bytes(b"")
    out: dict[str, Any] = {}
    for tool in TOOLS:
        runs = []
        for _ in range(reps):
            _unlink(work / "empty.age")
            runs.append(timed_process(tools.encrypt(tool, empty, work / "empty.age")).seconds)
        out[tool] = {"median_s": round(statistics.median(runs), 4)}
    return out


def bench_memory(tools: Tools, work: Path, small: Path, big_cli: dict[str, Any]) -> dict[str, Any]:
    """Peak RSS on the small input, next to the big input's (from the timed runs)."""
    out: dict[str, Any] = {"small_bytes": small.stat().st_size, "big_bytes": big_cli["size_bytes"]}
    for tool in TOOLS:
        ct, dec = work / f"small-{tool}.age", work / f"small-{tool}.out"
        enc_run = timed_process(tools.encrypt(tool, small, ct))
        dec_run = timed_process(tools.decrypt(tool, ct, dec))
        out[tool] = {
            "encrypt_small_kib": enc_run.maxrss_kib,
            "encrypt_big_kib": big_cli["encrypt"][tool]["max_rss_kib"],
            "decrypt_small_kib": dec_run.maxrss_kib,
            "decrypt_big_kib": big_cli["decrypt"][tool]["max_rss_kib"],
        }
        _unlink(ct)
        _unlink(dec)
    return out


# --- the library ------------------------------------------------------------------------


def bench_library(tools: Tools, work: Path, plain: Path, reps: int) -> dict[str, Any]:
    """crypto.age.encrypt/decrypt in this process, file to file (no process start), each
    rep interleaved with the age CLI on the same file so that both see the same machine;
    one untimed warm-up round first (page cache, tmpfs, CPU frequency settle)."""
    from crypto import age

    recipient = age.X25519Recipient.parse(tools.recipient)
    identities = age.parse_identity_file(tools.identity.read_text())
    size = plain.stat().st_size
    ct, out, age_ct, age_out = (work / n for n in ("lib.age", "lib.out", "ref.age", "ref.out"))

    def lib_encrypt() -> float:
        _unlink(ct)
        start = time.perf_counter()
        with plain.open("rb") as src, ct.open("wb") as dst:
            age.encrypt([recipient], src, dst)
        return time.perf_counter() - start

    def lib_decrypt() -> float:
        _unlink(out)
        start = time.perf_counter()
        with ct.open("rb") as src, out.open("wb") as dst:
            age.decrypt(identities, src, dst)
        return time.perf_counter() - start

    def age_encrypt() -> float:
        _unlink(age_ct)
        return timed_process(tools.encrypt("age", plain, age_ct)).seconds

    def age_decrypt() -> float:
        _unlink(age_out)
        return timed_process(tools.decrypt("age", age_ct, age_out)).seconds

    pairs = {"encrypt": (lib_encrypt, age_encrypt), "decrypt": (lib_decrypt, age_decrypt)}
    for lib_fn, age_fn in pairs.values():  # warm-up, not timed
        lib_fn()
        age_fn()
    times: dict[str, dict[str, list[float]]] = {op: {"lib": [], "age": []} for op in pairs}
    for rep in range(reps):
        for op, (lib_fn, age_fn) in pairs.items():
            first, second = (lib_fn, age_fn) if rep % 2 == 0 else (age_fn, lib_fn)
            a, b = first(), second()
            lib_s, age_s = (a, b) if first is lib_fn else (b, a)
            times[op]["lib"].append(lib_s)
            times[op]["age"].append(age_s)
    if not filecmp.cmp(plain, out, shallow=False):
        raise RuntimeError("library round trip changed the plaintext")
    result: dict[str, Any] = {
        "size_bytes": size,
        "reps": reps,
        "statistic": "median",
        "warmup_rounds": 1,
    }
    for op, per in times.items():
        entry: dict[str, Any] = {}
        for who, seconds in per.items():
            entry[who] = _timings(size, seconds)
        entry["ratio_lib_over_age"] = round(entry["lib"]["mbps"] / entry["age"]["mbps"], 3)
        result[op] = entry
    for path in (ct, out, age_ct, age_out):
        _unlink(path)
    return result


def bench_aead(chunks: int = 2048) -> dict[str, Any]:
    """Seal ``chunks`` 64 KiB chunks per backend, in one thread and split over two."""
    from crypto.age.stream import CHUNK_SIZE, aead_backends

    key, nonce, chunk = os.urandom(32), bytes(12), os.urandom(CHUNK_SIZE)
    size = chunks * CHUNK_SIZE

    def work(seal: Callable[[bytes, bytes, bytes], bytes], count: int) -> None:
        for _ in range(count):
            seal(key, nonce, chunk)

    def one(seal: Callable[[bytes, bytes, bytes], bytes]) -> float:
        start = time.perf_counter()
        work(seal, chunks)
        return time.perf_counter() - start

    def two(seal: Callable[[bytes, bytes, bytes], bytes]) -> float:
        threads = [threading.Thread(target=work, args=(seal, chunks // 2)) for _ in range(2)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - start

    backends = aead_backends()
    reference = {name: seal(key, nonce, chunk) for name, seal in backends.items()}
    if len(set(reference.values())) != 1:
        raise RuntimeError("AEAD backends disagree on the ciphertext")
    result: dict[str, Any] = {"chunk_bytes": CHUNK_SIZE, "chunks": chunks, "statistic": "best of 3"}
    for name, seal in backends.items():
        single = min(one(seal) for _ in range(3))
        double = min(two(seal) for _ in range(3))
        result[name] = {
            "mbps_1_thread": round(mbps(size, single), 1),
            "mbps_2_threads": round(mbps(size, double), 1),
            "releases_gil": releases_gil(seal),
        }
    return result


def releases_gil(seal: Callable[[bytes, bytes, bytes], bytes]) -> bool:
    """Does another Python thread run while ``seal`` works on 64 MiB in one call?

    Unlike a two-thread speed-up, this does not need a second idle core: a thread that
    only counts gets the GIL during the call iff the binding releases it.
    """
    key, nonce, data = os.urandom(32), bytes(12), bytes(64 * MIB)
    counted = [0, 0]
    stop = threading.Event()
    during = threading.Event()

    def count() -> None:
        while not stop.is_set():
            counted[1 if during.is_set() else 0] += 1

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    counter = threading.Thread(target=count)
    counter.start()
    try:
        time.sleep(0.05)  # the counter alone: its full rate
        rate = counted[0] / 0.05
        during.set()
        start, before = time.perf_counter(), counted[1]
        seal(key, nonce, data)
        after, elapsed = counted[1], time.perf_counter() - start
    finally:
        stop.set()
        counter.join()
        sys.setswitchinterval(switch)
    # Released: the counter runs for much of the call (even sharing one core). Held: it
    # only runs in the switch intervals around the call.
    return after - before > 0.2 * rate * elapsed


# --- environment and reporting ----------------------------------------------------------


def environment(tools: Tools) -> dict[str, Any]:
    import cryptography
    import nacl
    from cryptography.hazmat.backends.openssl.backend import backend

    def out(*argv: str) -> str:
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
        return proc.stdout.strip() if proc.returncode == 0 else "unknown"

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": out("git", "rev-parse", "--short", "HEAD"),
        "git_dirty": bool(out("git", "status", "--porcelain", "--", "crypto", "clients")),
        "cpu": _cpu_model(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "cryptography": cryptography.__version__,
        "openssl": backend.openssl_version_text(),
        "pynacl": nacl.__version__,
        "age": out(tools.age, "--version"),
        "tmpdir": str(tools.identity.parent),
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


# --- one row at a time (--only) -------------------------------------------------------------

#: the rows of the age CLI and library: measured in a tmpfs work directory with `age` beside
CRYPTO_ROWS = ("aead", "cli", "startup", "library", "memory")
#: the rows that bring their own services: name -> the module's ``run``
SERVICE_ROWS: dict[str, Callable[[], dict[str, Any]]] = {
    "escrow": bench_escrow.run,
    "escrow_witnessed": bench_witness.run,
    "live": bench_live.run,
    "transfer": bench_transfer.run,
    "fleet": bench_fleet.run,
    "escrow_pg": lambda: bench_escrow.run("postgres"),
}


def run_only(rows: Sequence[str], args: argparse.Namespace) -> int:
    """Run the named rows alone (``--only cli,startup``) and print them with their ratios;
    their results go to bench/results/STAMP-only-ROWS.json (latest.json and
    docs/PERFORMANCE.md, which show whole runs, stay as they are)."""
    unknown = [row for row in rows if row not in (*CRYPTO_ROWS, *SERVICE_ROWS)]
    if unknown:
        sys.exit(
            f"bench: unknown row(s) {', '.join(unknown)}; rows: "
            + ", ".join((*CRYPTO_ROWS, *SERVICE_ROWS))
        )
    results: dict[str, Any] = {}
    if any(row in CRYPTO_ROWS for row in rows):
        with workdir("camvault-bench-") as work:
            tools = find_tools(work)
            results["environment"] = environment(tools)
            big, small = work / "plain.bin", work / "small.bin"
            write_random(big, args.size_mib * MIB)
            if "aead" in rows:
                results["aead"] = bench_aead()
            if "cli" in rows or "memory" in rows:  # memory reads the CLI rows' peak RSS
                print(f"CLI, {args.size_mib} MiB, {args.reps} reps...", flush=True)
                results["cli"] = bench_cli(tools, work, big, args.reps)
            if "startup" in rows:
                results["startup"] = bench_startup(tools, work, max(args.reps, 15))
            if "library" in rows:
                print("library...", flush=True)
                results["library"] = bench_library(tools, work, big, 2 * args.reps)
            if "memory" in rows:
                write_random(small, args.small_mib * MIB)
                results["memory"] = bench_memory(tools, work, small, results["cli"])
    for row in rows:
        if row in SERVICE_ROWS:
            print(f"{row}...", flush=True)
            results[row] = SERVICE_ROWS[row]()
    results.setdefault("environment", {})["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results, indent=1, sort_keys=True))
    print(_ratio_lines(results))
    if not args.no_save:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = RESULTS_DIR / f"{stamp}-only-{'-'.join(rows)}.json"
        path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        print(f"wrote {path}")
    return 0


def _ratio_lines(results: dict[str, Any]) -> str:
    """The crypto rows' ratios to `age` (> 1: camvault faster) and their goals."""
    lines = []
    for op in ("encrypt", "decrypt"):
        if "cli" in results:
            cli = results["cli"][op]
            lines.append(
                f"CLI {op}: age {cli['age']['median_s']:.3f} s, camvault "
                f"{cli['camvault']['median_s']:.3f} s = {cli['ratio_camvault_over_age']:.2f}x"
                " (goal 1.5x)"
            )
        if "library" in results:
            lib = results["library"][op]
            lines.append(
                f"library {op}: age {lib['age']['median_s']:.3f} s, library "
                f"{lib['lib']['median_s']:.3f} s = {lib['ratio_lib_over_age']:.2f}x (goal 2x)"
            )
    if "startup" in results:
        lines.append(
            "process start (median): "
            + ", ".join(f"{t} {v['median_s'] * 1000:.0f} ms" for t, v in results["startup"].items())
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=512, help="big input size (512)")
    parser.add_argument("--small-mib", type=int, default=64, help="small input size (64)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions, median kept (5)")
    parser.add_argument("--no-save", action="store_true", help="print only; keep files as is")
    parser.add_argument("--skip-live", action="store_true", help="leave out the live view bench")
    parser.add_argument(
        "--only",
        help="comma-separated rows to run alone, e.g. cli,startup,library (see run_only)",
    )
    args = parser.parse_args(argv)
    if args.only:
        return run_only([row.strip() for row in args.only.split(",") if row.strip()], args)
    begun = time.perf_counter()
    with workdir("camvault-bench-") as work:
        free = shutil.disk_usage(work).free
        if free < 5 * args.size_mib * MIB:
            sys.exit(f"bench: {work} has {free // MIB} MiB free, need {5 * args.size_mib} MiB")
        tools = find_tools(work)
        results: dict[str, Any] = {"environment": environment(tools)}
        big, small = work / "plain.bin", work / "small.bin"
        write_random(big, args.size_mib * MIB)
        write_random(small, args.small_mib * MIB)
        print(f"AEAD backends ({threading.active_count()} thread baseline)...", flush=True)
        results["aead"] = bench_aead()
        print(f"CLI, {args.size_mib} MiB, {args.reps} reps...", flush=True)
        results["cli"] = bench_cli(tools, work, big, args.reps)
        results["startup"] = bench_startup(tools, work, args.reps)
        print("library...", flush=True)
        results["library"] = bench_library(tools, work, big, 2 * args.reps)
        print("memory...", flush=True)
        results["memory"] = bench_memory(tools, work, small, results["cli"])
    print("escrow custodian (batch and concurrent releases)...", flush=True)
    results["escrow"] = bench_escrow.run()
    print("escrow custodian with witness cosigning (3 witnesses, quorum 2)...", flush=True)
    results["escrow_witnessed"] = bench_witness.run()
    print("escrow custodian, hybrid vs X25519 stanzas (back to back)...", flush=True)
    results["escrow_hybrid"] = bench_escrow.run_hybrid()
    if not args.skip_live:
        print("live view (alarm -> first decrypted live segment)...", flush=True)
        results["live"] = bench_live.run()
    print("transfer (1 GiB up/down vs boto3 and rclone crypt, same MinIO)...", flush=True)
    results["transfer"] = bench_transfer.run()
    print("fleet ingest (100/300/500 cameras: raw PUTs, 1 replica, 2 replicas)...", flush=True)
    results["fleet"] = bench_fleet.run()
    print("escrow custodian on PostgreSQL (synchronous_commit on, fsync on)...", flush=True)
    results["escrow_pg"] = bench_escrow.run("postgres")
    results["environment"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    results["environment"]["bench_seconds"] = round(time.perf_counter() - begun, 1)
    table = render_table(results) + "\n" + bench_transfer.render(results["transfer"])
    table += "\n".join(
        [*bench_fleet.render(results["fleet"]), *bench_escrow.render_pg(results["escrow_pg"])]
    )
    print()
    print(table)
    if not args.no_save:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(results, indent=2, sort_keys=True) + "\n"
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        (RESULTS_DIR / "latest.json").write_text(payload)
        (RESULTS_DIR / f"{stamp}.json").write_text(payload)
        update_doc(table)
        bench_fleet.plot(results["fleet"])
        print(f"\nwrote {RESULTS_DIR / 'latest.json'}, {stamp}.json and {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
