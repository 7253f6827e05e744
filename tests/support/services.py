"""Start the real servers camvault's tests use: MinIO (single node or a 4-node erasure-coded
cluster) and a throwaway PostgreSQL cluster, each on free 127.0.0.1 ports in a temporary
directory, with a readiness wait and a clear error (including the server's log tail) when it
does not come up. Used by the pytest fixtures in tests/conftest.py and by
``scripts/services.sh`` for manual runs::

    scripts/services.sh minio            # single node, prints CAMVAULT_S3_* settings
    scripts/services.sh minio --nodes 4  # distributed, erasure coded (EC:2 over 4 drives)
    scripts/services.sh postgres         # prints CAMVAULT_DATABASE_URL
    scripts/services.sh cluster          # the compose topology (tests/support/cluster.py)

Binaries come from scripts/install-tools.sh (run by ``make test``); nothing here installs or
skips: a missing program is a ServiceError, which fails the test session.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import glob
import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = Path(os.environ.get("CAMVAULT_CACHE_DIR", REPO_ROOT / ".cache"))


class ServiceError(RuntimeError):
    """A test service could not be found or started."""


def tool_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (REPO_ROOT / "scripts" / "tool-versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_run(count: int, avoid: Sequence[int] = ()) -> int:
    """The first of ``count`` consecutive free ports, for a program that takes a base port
    and the next ones (`camvault dev up --custodian-port`). Chosen below Linux's ephemeral
    range (32768 and up), where outgoing connections of other tests cannot take the next
    ports between this check and the program's bind; each port is checked by binding it."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32768 - count)
        ports = range(base, base + count)
        if any(p in avoid for p in ports):
            continue
        try:
            with contextlib.ExitStack() as stack:
                for port in ports:
                    sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise ServiceError(f"no {count} consecutive free ports below 32768")


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(
    check: Callable[[], bool],
    *,
    what: str,
    proc: subprocess.Popen[bytes] | None,
    log: Path,
    timeout: float = 60.0,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(
                f"{what} exited with code {proc.returncode} before becoming ready; "
                f"log {log}:\n{_log_tail(log)}"
            )
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.2)
    raise ServiceError(f"{what} not ready after {timeout:.0f}s; log {log}:\n{_log_tail(log)}")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except urllib.error.URLError:
        return False


def _stop(proc: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


# --- MinIO ---------------------------------------------------------------------------------


def minio_binary() -> Path:
    override = os.environ.get("CAMVAULT_MINIO_BIN")
    path = Path(override) if override else CACHE_DIR / "bin" / "minio"
    if not path.is_file() or not os.access(path, os.X_OK):
        raise ServiceError(
            f"MinIO binary not found at {path}: run `make tools` "
            "(scripts/install-tools.sh builds the pinned MinIO with go install)"
        )
    if not override:
        stamp = path.with_name("minio.version")
        want = tool_versions()["MINIO_VERSION"]
        have = stamp.read_text().strip() if stamp.exists() else "(none)"
        if have != want:
            raise ServiceError(
                f"MinIO at {path} is version {have}, pinned {want}: run `make tools` to rebuild"
            )
    return path


@dataclass
class MinioServer:
    """One MinIO deployment: ``nodes == 1`` single drive, ``nodes == 4`` distributed erasure."""

    nodes: int = 1
    drives_per_node: int = 1
    access_key: str = "camvault-test"
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    region: str = "us-east-1"
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="camvault-minio-")))
    ports: list[int] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    @property
    def endpoints(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports]

    def _env(self, port: int) -> dict[str, str]:
        env = dict(os.environ)
        # MinIO treats a host with /.dockerenv as "orchestrated" and then waits forever for
        # loopback endpoints to resolve to a routable IP; _MINIO_SERVER_LOCAL names the
        # endpoint that is this process (cmd/endpoint.go, PoolEndpointList.UpdateIsLocal).
        env["_MINIO_SERVER_LOCAL"] = f"127.0.0.1:{port}"
        env.update(
            MINIO_ROOT_USER=self.access_key,
            MINIO_ROOT_PASSWORD=self.secret_key,
            MINIO_REGION=self.region,
            MINIO_BROWSER="off",
            MINIO_UPDATE="off",
            MINIO_CI_CD="1",  # allow drives on the root filesystem (tests only)
        )
        return env

    def start(self) -> MinioServer:
        binary = minio_binary()
        if self.nodes not in (1, 4):
            raise ServiceError("MinIO test deployments are single node or 4 nodes")
        if not self.ports:
            self.ports = [free_port() for _ in range(self.nodes)]
        self.procs = [self._spawn(binary, i) for i in range(self.nodes)]
        for i in range(self.nodes):
            self._wait_ready(i)
        return self

    def _drives(self) -> list[str]:
        if self.nodes == 1:
            return [str(self.workdir / "data")]
        return [
            f"http://127.0.0.1:{port}{self.workdir}/node{i + 1}/d{d + 1}"
            for i, port in enumerate(self.ports)
            for d in range(self.drives_per_node)
        ]

    def drive_dirs(self, node: int) -> list[Path]:
        """The drives of node ``node`` (0-based) of a distributed deployment."""
        return [self.workdir / f"node{node + 1}" / f"d{d + 1}" for d in range(self.drives_per_node)]

    def _spawn(self, binary: Path, i: int) -> subprocess.Popen[bytes]:
        port = self.ports[i]
        log = self.workdir / f"minio-{i + 1}.log"
        cmd = [str(binary), "server", "--quiet", "--address", f"127.0.0.1:{port}"]
        cmd += ["--console-address", f"127.0.0.1:{free_port()}", *self._drives()]
        with log.open("ab") as fh:
            return subprocess.Popen(
                cmd,
                env=self._env(port),
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_ready(self, i: int) -> None:
        probe = "/minio/health/ready" if self.nodes == 1 else "/minio/health/cluster"
        port = self.ports[i]
        wait_until(
            functools.partial(_http_ok, f"http://127.0.0.1:{port}{probe}"),
            what=f"MinIO node {i + 1} on 127.0.0.1:{port}",
            proc=self.procs[i],
            log=self.workdir / f"minio-{i + 1}.log",
            timeout=90,
        )

    def kill_node(self, i: int) -> None:
        """SIGKILL node ``i`` (0-based) of a distributed deployment: one machine lost."""
        kill_group(self.procs[i])

    def start_node(self, i: int) -> None:
        """Start node ``i`` again on its port and drives, after :meth:`kill_node`."""
        if self.procs[i].poll() is None:
            raise ServiceError(f"MinIO node {i + 1} is running")
        self.procs[i] = self._spawn(minio_binary(), i)
        self._wait_ready(i)

    def stop(self) -> None:
        for proc in self.procs:
            _stop(proc)
        self.procs.clear()

    def restart(self) -> MinioServer:
        """Stop and start again on the same ports and drives (data survives)."""
        self.stop()
        return self.start()

    def kill(self) -> None:
        """SIGKILL every node (a crash); :meth:`start` brings them back on the same drives."""
        for proc in self.procs:
            kill_group(proc)
        self.procs.clear()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def settings_env(self, bucket: str = "camvault") -> dict[str, str]:
        return s3_settings_env(self, bucket)


class S3Endpoint(Protocol):
    @property
    def endpoint(self) -> str: ...

    region: str
    access_key: str
    secret_key: str


def s3_settings_env(server: S3Endpoint, bucket: str = "camvault") -> dict[str, str]:
    """The storage service's settings for an S3 server the tests started (MinIO, SeaweedFS)."""
    return {
        "CAMVAULT_BLOBSTORE": "s3",
        "CAMVAULT_S3_ENDPOINT": server.endpoint,
        "CAMVAULT_S3_REGION": server.region,
        "CAMVAULT_S3_ACCESS_KEY": server.access_key,
        "CAMVAULT_S3_SECRET_KEY": server.secret_key,
        "CAMVAULT_S3_BUCKET": bucket,
    }


# --- PostgreSQL ----------------------------------------------------------------------------


def pg_bindir() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    for d in candidates:
        if Path(d, "initdb").exists() and Path(d, "postgres").exists():
            return Path(d)
    raise ServiceError(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
        "run `make tools` (apt-get install postgresql)"
    )


def _unprivileged_user() -> str | None:
    """PostgreSQL refuses to run as root: pick the account to run it as (None = ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise ServiceError("running as root and no unprivileged 'postgres' or 'nobody' account")


@dataclass
class PostgresServer:
    database: str = "camvault"
    user: str = "camvault"
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="camvault-pg-")))
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    #: Commits durable against a crash of PostgreSQL (``synchronous_commit=on``): needed by
    #: tests that kill it. fsync stays off: killing processes leaves the OS page cache intact.
    crash_safe: bool = False
    #: WAL flushed to the disk at each commit, as a deployment runs it (benchmarks only: the
    #: tests' servers do not need it, killing processes leaves the OS page cache intact).
    fsync: bool = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _run_as(self) -> list[str]:
        account = _unprivileged_user()
        return ["runuser", "-u", account, "--"] if account else []

    def start(self) -> PostgresServer:
        bindir = pg_bindir()
        account = _unprivileged_user()
        data = self.workdir / "data"
        fresh = not data.exists()
        if account:
            info = pwd.getpwnam(account)
            os.chown(self.workdir, info.pw_uid, info.pw_gid)
        log = self.workdir / "postgres.log"
        if not data.exists():
            init = subprocess.run(
                [
                    *self._run_as(),
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ],
                capture_output=True,
                check=False,
            )
            if init.returncode != 0:
                raise ServiceError(f"initdb failed: {init.stderr.decode(errors='replace')}")
        self.port = self.port or free_port()
        cmd = [
            *self._run_as(),
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.workdir}",
            "-c",
            f"fsync={'on' if self.fsync else 'off'}",
            "-c",
            f"synchronous_commit={'on' if self.crash_safe else 'off'}",
            "-c",
            "full_page_writes=off",
        ]
        with log.open("ab") as fh:
            self.proc = subprocess.Popen(
                cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
            )
        isready = [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)]
        wait_until(
            lambda: subprocess.run(isready, capture_output=True, check=False).returncode == 0,
            what=f"PostgreSQL on 127.0.0.1:{self.port}",
            proc=self.proc,
            log=log,
            timeout=60,
        )
        if fresh:
            self.create_database(self.database)
        return self

    def create_database(self, name: str) -> str:
        """Create an empty database on this server and return its SQLAlchemy URL."""
        bindir = pg_bindir()
        res = subprocess.run(
            [
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                name,
            ],
            capture_output=True,
            check=False,
        )
        if res.returncode != 0:
            raise ServiceError(f"createdb {name} failed: {res.stderr.decode(errors='replace')}")
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the postmaster (a crash), then wait for its backends to notice and exit;
        :meth:`start` restarts it on the same data directory and port (crash recovery)."""
        pidfile = self.workdir / "data" / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
        if self.proc is not None:
            # Let runuser reap the postmaster (a zombie would still hold postmaster.pid).
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
            kill_group(self.proc, grace=10.0)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def kill_group(proc: subprocess.Popen[bytes], grace: float = 0.0) -> None:
    """SIGKILL ``proc`` (a session leader) and, after ``grace`` seconds for them to exit on
    their own, whatever of its process group is left; return once all are gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=15)
    deadline = time.monotonic() + grace
    while _group_alive(proc.pid):
        if time.monotonic() >= deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        if time.monotonic() >= deadline + 15:
            raise ServiceError(f"process group {proc.pid} survives SIGKILL")
        time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies waiting for a reaper that
    may never come do not count): Linux /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after ")"
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


# --- age -----------------------------------------------------------------------------------


def age_binaries() -> tuple[str, str]:
    age, keygen = shutil.which("age"), shutil.which("age-keygen")
    if not age or not keygen:
        raise ServiceError("the `age` CLI is not installed: run `make tools` (apt-get install age)")
    return age, keygen


def cctv_dir() -> Path:
    override = os.environ.get("CAMVAULT_CCTV_DIR")
    base = Path(override) if override else CACHE_DIR / "npm" / "node_modules" / "cctv-age"
    if not base.is_dir():
        raise ServiceError(f"CCTV age vectors not found at {base}: run `make tools`")
    return base


# --- manual use ----------------------------------------------------------------------------


@contextlib.contextmanager
def running(server: MinioServer | PostgresServer) -> Iterator[None]:
    try:
        server.start()
        yield
    finally:
        server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start camvault's test services by hand.")
    sub = parser.add_subparsers(dest="service", required=True)
    m = sub.add_parser("minio", help="start MinIO (single node or distributed)")
    m.add_argument("--nodes", type=int, default=1, choices=(1, 4))
    sub.add_parser("postgres", help="start a throwaway PostgreSQL cluster")
    sub.add_parser(
        "cluster",
        help="the compose topology on loopback: 4-node MinIO, PostgreSQL, two storage "
        "replicas behind HAProxy (TLS), three custodians on their own PostgreSQL",
    )
    args = parser.parse_args(argv)
    # SIGTERM (kill, or a shell's background job, where SIGINT is ignored) unwinds like
    # Ctrl-C does, so that the servers are stopped and their data deleted
    signal.signal(signal.SIGTERM, _exit_on_signal)
    if args.service == "cluster":
        return _cluster()
    server: MinioServer | PostgresServer
    server = MinioServer(nodes=args.nodes) if args.service == "minio" else PostgresServer()
    try:
        with running(server):
            if isinstance(server, MinioServer):
                for k, v in server.settings_env().items():
                    print(f"export {k}={v}")
                print(f"# nodes: {' '.join(server.endpoints)}")
            else:
                print(f"export CAMVAULT_DATABASE_URL={server.url}")
            print(f"# data in {server.workdir}; Ctrl-C stops and deletes it", flush=True)
            _wait_for_stop()
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _wait_for_stop() -> None:
    """Until Ctrl-C or SIGTERM (which raise, unwinding the servers' context managers)."""
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            signal.pause()


def _cluster() -> int:
    from tests.support.cluster import running_cluster  # imports this module

    try:
        with running_cluster() as c:
            arc = c.world.arc_key_file()
            print(f"export SSL_CERT_FILE={c.proxy.ca_file}  # trust the proxy's certificate")
            print(f"# storage API (HAProxy, TLS): {c.proxy.url}")
            print(f"# presigned object URLs (HAProxy, TLS): {c.proxy.objects_url}")
            for i, r in enumerate(c.replicas):
                print(f"# storage replica {i + 1}: {r.url} (pid {r.proc.pid if r.proc else '-'})")
            for cust in c.custodians:
                print(f"# custodian {cust.cid}: {cust.url}")
            print(f"# ARC key (operator register --arc-key): {arc}")
            print(f"# MinIO nodes: {' '.join(c.minio.endpoints)}")
            print(f"# storage database: {c.replicas[0].env['CAMVAULT_DATABASE_URL']}")
            print(f"# custodians' PostgreSQL: 127.0.0.1:{c.custodian_db.port}")
            print(f"# logs in {c.workdir}; Ctrl-C stops and deletes it all", flush=True)
            _wait_for_stop()
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
