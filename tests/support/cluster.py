"""camvault as docker-compose.yml deploys it, started as processes on loopback ports (no
Docker engine runs here): a 4-node erasure-coded MinIO, the storage service's PostgreSQL,
two storage replicas behind HAProxy running deploy/haproxy/storage.cfg itself (TLS with a
throwaway certificate) and using the least-privilege S3 user ``camvault admin s3-setup``
makes (as compose's minio-init), and three custodians (t = 2), each with its own database on a
PostgreSQL server of their own, so the storage database can be restarted alone.

Clients reach the storage API and presigned object URLs only through the proxy, over TLS,
and trust its certificate through ``SSL_CERT_FILE`` (httpx reads it). The replicas reach
MinIO through the proxy's internal frontend, so that no one MinIO node is theirs alone.

``scripts/services.sh cluster`` starts the same cluster by hand; the fault tests in
tests/cluster/ use :func:`running_cluster`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import secrets
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from crypto.ed25519 import Ed25519SigningKey
from tests.clients.customer_world import ACCESS_PERIOD_S, World
from tests.escrow.harness import CustodianProc
from tests.storage.support import CAMVAULT, Service, make_service
from tests.support.services import (
    REPO_ROOT,
    MinioServer,
    PostgresServer,
    ServiceError,
    _stop,
    free_port,
    wait_until,
)

PROXY_CONFIG = REPO_ROOT / "deploy" / "haproxy" / "storage.cfg"


def make_tls(workdir: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (HAProxy's cert+key PEM, the CA file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "camvault-cluster-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pem, ca = workdir / "tls.pem", workdir / "ca.pem"
    pem.write_bytes(cert_pem + key_pem)
    pem.chmod(0o600)
    ca.write_bytes(cert_pem)
    return pem, ca


def _ok(url: str, ctx: ssl.SSLContext | None = None) -> bool:
    with urllib.request.urlopen(url, timeout=2, context=ctx) as r:
        return bool(r.status == 200)


@dataclass
class Proxy:
    """HAProxy with deploy/haproxy/storage.cfg, its addresses set through the environment."""

    workdir: Path
    tls_pem: Path
    ca_file: Path
    storage: list[str]  # host:port of each replica
    minio: list[str]  # host:port of each MinIO node
    api_port: int = field(default_factory=free_port)
    objects_port: int = field(default_factory=free_port)
    internal_port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def objects_url(self) -> str:
        return f"https://127.0.0.1:{self.objects_port}"

    @property
    def internal_objects_url(self) -> str:
        return f"http://127.0.0.1:{self.internal_port}"

    @property
    def log(self) -> Path:
        return self.workdir / "haproxy.log"

    def env(self) -> dict[str, str]:
        env = {
            "TLS_PEM": str(self.tls_pem),
            "HEALTH_BIND": f"127.0.0.1:{self.health_port}",
            "API_BIND": f"127.0.0.1:{self.api_port}",
            "OBJECTS_BIND": f"127.0.0.1:{self.objects_port}",
            "OBJECTS_INTERNAL_BIND": f"127.0.0.1:{self.internal_port}",
        }
        env.update({f"STORAGE_{i + 1}_ADDR": a for i, a in enumerate(self.storage)})
        env.update({f"MINIO_{i + 1}_ADDR": a for i, a in enumerate(self.minio)})
        return env

    def start(self) -> Proxy:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(haproxy).exists():
            raise ServiceError("haproxy is not installed: run `make tools`")
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [haproxy, "-db", "-f", str(PROXY_CONFIG)],
                env={**os.environ, **self.env()},
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        health = f"http://127.0.0.1:{self.health_port}/healthz"
        wait_until(lambda: _ok(health), what="HAProxy (storage.cfg)", proc=self.proc, log=self.log)
        return self

    def wait_storage(self) -> None:
        """Until the API answers /readyz through the proxy (a replica is up as it sees it)."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        wait_until(
            lambda: _ok(self.url + "/readyz", ctx),
            what="the storage API through HAProxy",
            proc=self.proc,
            log=self.log,
        )

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


@dataclass
class Cluster:
    workdir: Path
    minio: MinioServer
    storage_db: PostgresServer
    custodian_db: PostgresServer
    proxy: Proxy
    replicas: list[Service]
    custodians: list[CustodianProc]
    arc_key: Ed25519SigningKey
    bucket: str

    @property
    def world(self) -> World:
        """The cluster as the clients' test helpers see it: storage = the proxy."""
        front = Service(self.proxy.url, {}, self.workdir)
        return World(front, self.custodians, self.arc_key, self.workdir)

    def s3(self, node: int = 1) -> object:
        """A boto3 S3 client on MinIO node ``node`` (1-based), straight, not via the proxy."""
        return boto3.client(
            "s3",
            endpoint_url=self.minio.endpoints[node - 1],
            aws_access_key_id=self.minio.access_key,
            aws_secret_access_key=self.minio.secret_key,
            region_name=self.minio.region,
        )

    def logs(self) -> dict[str, str]:
        """Every service's log, by name (for the 'no key material in the logs' checks)."""
        out = {f"storage-{i + 1}": r.log_text() for i, r in enumerate(self.replicas)}
        for c in self.custodians:
            out[c.cid] = c.log_path.read_text(errors="replace")
        out["haproxy"] = self.proxy.log.read_text(errors="replace")
        return out


def _first_write_succeeds(minio: MinioServer) -> None:
    """A fresh 4-node MinIO may refuse writes (SlowDownWrite) for a moment after it reports
    healthy: wait until a write goes through, so load does not start against that."""
    s3 = boto3.client(
        "s3",
        endpoint_url=minio.endpoint,
        aws_access_key_id=minio.access_key,
        aws_secret_access_key=minio.secret_key,
        region_name=minio.region,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with contextlib.suppress(ClientError):
                s3.create_bucket(Bucket="settle")
            s3.put_object(Bucket="settle", Key="probe", Body=b"ok")
            s3.delete_object(Bucket="settle", Key="probe")
            s3.delete_bucket(Bucket="settle")
            return
        except ClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def s3_setup(minio: MinioServer, bucket: str, workdir: Path) -> dict[str, str]:
    """``camvault admin s3-setup``, as compose's minio-init runs it: the bucket (versioned)
    and the storage service's least-privilege user; that user's settings."""
    user = {
        "CAMVAULT_S3_ACCESS_KEY": f"camvault-storage-{secrets.token_hex(4)}",
        "CAMVAULT_S3_SECRET_KEY": secrets.token_urlsafe(24),
    }
    env = {
        **os.environ,
        **minio.settings_env(bucket),
        **user,
        "CAMVAULT_S3_ADMIN_ACCESS_KEY": minio.access_key,
        "CAMVAULT_S3_ADMIN_SECRET_KEY": minio.secret_key,
    }
    done = subprocess.run(
        [str(CAMVAULT), "admin", "s3-setup"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise ServiceError(f"camvault admin s3-setup failed: {done.stdout}{done.stderr}")
    return user


@contextlib.contextmanager
def running_cluster(workdir: Path | None = None) -> Iterator[Cluster]:
    """Start the whole cluster (about 20 s); stop and delete it on exit. The process
    environment gets ``SSL_CERT_FILE`` (the proxy's certificate) while it runs."""
    root = workdir or Path(tempfile.mkdtemp(prefix="camvault-cluster-"))
    root.mkdir(parents=True, exist_ok=True)
    # each server in its own temporary directory (PostgreSQL's must be its own account's)
    minio = MinioServer(nodes=4)
    storage_db = PostgresServer(crash_safe=True)  # commits survive its crash
    custodian_db = PostgresServer()
    started: list[MinioServer | PostgresServer] = []
    replicas: list[Service] = []
    custodians: list[CustodianProc] = []
    proxy: Proxy | None = None
    saved = os.environ.get("SSL_CERT_FILE")
    try:
        for server in (minio, storage_db, custodian_db):
            server.start()
            started.append(server)
        _first_write_succeeds(minio)
        pem, ca = make_tls(root)
        os.environ["SSL_CERT_FILE"] = str(ca)
        arc = Ed25519SigningKey.generate()
        proxy = Proxy(root, pem, ca, [], [e.removeprefix("http://") for e in minio.endpoints])
        tag = uuid.uuid4().hex[:8]
        bucket = f"camvault-{tag}"
        s3_user = s3_setup(minio, bucket, root)
        db_url = storage_db.create_database(f"st_{tag}")
        for i in range(2):
            svc = make_service(
                root / f"storage-{i + 1}",
                db_url,
                {**minio.settings_env(bucket), **s3_user},
                CAMVAULT_PUBLIC_URL=proxy.url,
                CAMVAULT_S3_ENDPOINT=proxy.internal_objects_url,
                CAMVAULT_S3_PUBLIC_ENDPOINT=proxy.objects_url,
                CAMVAULT_ARC_PUBLIC_KEY=arc.public_key.to_text(),
                CAMVAULT_ALARM_ACCESS_PERIOD_S=str(ACCESS_PERIOD_S),
                CAMVAULT_SSE_POLL_INTERVAL_S="0.2",
                CAMVAULT_SSE_KEEPALIVE_S="1",
                # behind one proxy every client has its address: HAProxy limits instead
                CAMVAULT_RATE_LIMIT_PER_S="0",
                # one sweeper, as compose runs one (here inside replica 2)
                CAMVAULT_SWEEPER_ENABLED="true" if i == 1 else "false",
            )
            (root / f"storage-{i + 1}").mkdir(parents=True, exist_ok=True)
            replicas.append(svc)
        proxy.storage = [r.url.removeprefix("http://") for r in replicas]
        # The replicas reach MinIO through the proxy: it starts first (its health checks
        # find the replicas when they are up). Migrations and the bucket come from the
        # first replica, before the second starts.
        proxy.start()
        replicas[0].start()
        replicas[1].start()
        proxy.wait_storage()
        for i in (1, 2, 3):
            c = CustodianProc(
                f"c{i}",
                root,
                custodian_db.create_database(f"esc_{tag}_c{i}"),
                {
                    "CAMVAULT_ESCROW_ARC_PUBLIC_KEY": arc.public_key.to_text(),
                    "CAMVAULT_ESCROW_NOTIFY_URL": proxy.url + "/v1/notices",
                    "CAMVAULT_ESCROW_ACCESS_PERIOD_S": str(ACCESS_PERIOD_S),
                    # every simulated device connects from 127.0.0.1
                    "CAMVAULT_ESCROW_RATE_LIMIT_PER_S": "0",
                },
            )
            custodians.append(c)
            c.start()
        yield Cluster(
            root, minio, storage_db, custodian_db, proxy, replicas, custodians, arc, bucket
        )
    finally:
        for c in custodians:
            c.stop()
        if proxy is not None:
            proxy.stop()
        for r in replicas:
            r.stop()
        for server in reversed(started):
            server.close()
        if saved is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = saved
        if workdir is None:
            shutil.rmtree(root, ignore_errors=True)
