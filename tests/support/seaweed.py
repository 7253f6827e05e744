"""A real SeaweedFS (Apache-2.0) with its S3 gateway: the second S3 implementation, besides
MinIO, that the blob-store contract suite runs against (tests/blobstore/conftest.py), so that
"any S3 API" is shown rather than claimed.

One ``weed server`` process runs master, volume server, filer and S3 gateway on free
127.0.0.1 ports in a temporary directory; every port is set explicitly (SeaweedFS otherwise
derives each gRPC port as HTTP port + 10000 and opens fixed defaults for the Iceberg and Lance
endpoints). The S3 gateway is given one admin identity through ``-s3.config`` (without one it
accepts any credentials). By hand::

    .venv/bin/python -m tests.support.seaweed   # prints CAMVAULT_S3_* settings, Ctrl-C stops

The binary comes from ``scripts/install-tools.sh seaweedfs``; nothing here installs or
skips: a missing program is a ServiceError, which fails the tests that need it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from tests.support.services import (
    CACHE_DIR,
    ServiceError,
    free_port,
    kill_group,
    s3_settings_env,
    tool_versions,
    wait_until,
)

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

INSTALL_HINT = "run `scripts/install-tools.sh seaweedfs` (builds the pinned SeaweedFS)"


def weed_binary() -> Path:
    """The pinned ``weed`` built by scripts/install-tools.sh (or ``CAMVAULT_WEED_BIN``)."""
    override = os.environ.get("CAMVAULT_WEED_BIN")
    path = Path(override) if override else CACHE_DIR / "bin" / "weed"
    if not path.is_file() or not os.access(path, os.X_OK):
        raise ServiceError(f"SeaweedFS binary not found at {path}: {INSTALL_HINT}")
    if not override:
        stamp = path.with_name("weed.version")
        want = tool_versions().get("SEAWEEDFS_VERSION", "(unpinned)")
        have = stamp.read_text().strip() if stamp.exists() else "(none)"
        if have != want:
            raise ServiceError(
                f"SeaweedFS at {path} is version {have}, pinned {want}: {INSTALL_HINT}"
            )
    return path


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except urllib.error.URLError:
        return False


@dataclass
class SeaweedServer:
    """One single-process SeaweedFS: master, volume server, filer and S3 gateway."""

    access_key: str = "camvault-test"
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    region: str = "us-east-1"
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="camvault-weed-")))
    #: HTTP and gRPC port of each component, chosen on the first start and kept on restarts.
    ports: dict[str, int] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def log(self) -> Path:
        return self.workdir / "weed.log"

    def _write_identities(self) -> Path:
        # Only this identity may do anything; with no identity configured SeaweedFS's S3
        # gateway would accept any access key, and a wrong-credential test could not fail.
        identities = {
            "identities": [
                {
                    "name": "camvault-test",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        path = self.workdir / "s3-identities.json"
        path.write_text(json.dumps(identities))
        path.chmod(0o600)
        return path

    def _command(self, binary: Path) -> list[str]:
        p = self.ports
        data = self.workdir / "data"
        meta = self.workdir / "master"
        data.mkdir(exist_ok=True)
        meta.mkdir(exist_ok=True)
        return [
            str(binary),
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",  # no extra loopback companion listener
            f"-dir={data}",
            f"-master.dir={meta}",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master_grpc']}",
            "-master.telemetry=false",  # no reports to telemetry.seaweedfs.com
            # Small volumes, as many as the disk allows: each bucket is a collection that
            # grows 7 volumes at once, so the default of 8 volume slots holds one bucket.
            "-master.volumeSizeLimitMB=256",
            "-volume.max=0",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume_grpc']}",
            "-volume.preStopSeconds=0",  # stop at once (default: 10 s of draining)
            "-filer",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer_grpc']}",
            f"-filer.localSocket={self.workdir / 'filer.sock'}",  # default: in /tmp
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3_grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # A write into a missing bucket fails (NoSuchBucket) as on AWS S3 and MinIO; by
            # default SeaweedFS creates the bucket for an admin identity instead.
            "-s3.autoCreateBucket=false",
            f"-s3.localSocket={self.workdir / 's3.sock'}",
            f"-s3.config={self._write_identities()}",
        ]

    def _client(self) -> S3Client:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10),
        )

    def _can_write(self) -> bool:
        """A signed PutObject succeeds: the S3 gateway answers, checks our credentials, and
        the volume server has registered with the master (the gateway is up before that)."""
        client = self._client()
        bucket = f"ready-{uuid.uuid4().hex[:12]}"
        client.create_bucket(Bucket=bucket)
        try:
            client.put_object(Bucket=bucket, Key="probe", Body=b"ready")
            client.delete_object(Bucket=bucket, Key="probe")
        finally:
            with contextlib.suppress(Exception):
                client.delete_bucket(Bucket=bucket)
        return True

    def start(self, timeout: float = 90.0) -> SeaweedServer:
        binary = weed_binary()
        chosen_here = not self.ports
        for attempt in range(3):
            if not self.ports:
                names = ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc")
                self.ports = {n: free_port() for n in (*names, "s3", "s3_grpc")}
            try:
                self._launch(binary, timeout)
                return self
            except ServiceError:
                self.stop()
                # Eight ports found free a moment before weed binds them: another process
                # may take one meanwhile. Then try fresh ones (not on a restart, whose
                # ports are fixed).
                clash = "address already in use" in self.log.read_text(errors="replace")
                if not (chosen_here and clash) or attempt == 2:
                    raise
                self.ports = {}
        raise AssertionError("unreachable")

    def _launch(self, binary: Path, timeout: float) -> None:
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                self._command(binary),
                cwd=self.workdir,  # no security.toml / filer.toml picked up from elsewhere
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        what = f"SeaweedFS S3 gateway on {self.endpoint}"
        wait_until(
            lambda: _http_ok(f"{self.endpoint}/healthz"),
            what=what,
            proc=self.proc,
            log=self.log,
            timeout=timeout,
        )
        wait_until(
            self._can_write,
            what=f"{what} (accepting writes)",
            proc=self.proc,
            log=self.log,
            timeout=max(deadline - time.monotonic(), 5.0),
        )

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                # The volume server and filer flush and stop within a fraction of a second;
                # the master then waits out a fixed 15 s shutdown grace that buys nothing.
                proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                kill_group(proc)
        # `weed server` also serves each gRPC port on a Unix socket at a fixed path in /tmp,
        # named after the port (no flag moves it); the ports are ours, so are these.
        for name in ("master", "volume", "filer", "s3"):
            port = self.ports.get(f"{name}_grpc")
            if port:
                Path(f"/tmp/seaweedfs-{name}-grpc-{port}.sock").unlink(missing_ok=True)

    def restart(self) -> SeaweedServer:
        """Stop and start again on the same ports and data (objects survive). Slower than a
        first start (about 30 s here): a master with prior state waits longer for its peers."""
        self.stop()
        return self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def settings_env(self, bucket: str = "camvault") -> dict[str, str]:
        return s3_settings_env(self, bucket)


def main() -> int:
    server = SeaweedServer()
    try:
        server.start()
        for k, v in server.settings_env().items():
            print(f"export {k}={v}")
        print(
            f"# data and log ({server.log.name}) in {server.workdir}; Ctrl-C stops and deletes it"
        )
        sys.stdout.flush()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
