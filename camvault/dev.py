"""`camvault dev up`: a whole site's services on this machine, in one command.

It starts what a site needs, as the real programs on the embedded defaults (SQLite and a
local object store): the storage service and three key custodians (threshold 2) that deliver
their access notices to the storage inbox, all with their data in ONE directory (not the
current one), an ARC key made for them (0600), each service's output in ``logs/``. It waits
until each answers, prints where each listens and what to run next, writes the same as JSON
(``dev.json``, for scripts), and stays in the foreground: Ctrl-C (or SIGTERM) stops every
service it started and waits for them; a service that dies stops the others too.

When the web app is built (web/dist next to the package, `make web`; or ``CAMVAULT_WEB_DIR``),
the storage service serves it at ``/app/`` (printed), with the custodians in its CSP's
connect-src (``CAMVAULT_WEB_CONNECT_SRC``) and the custodians accepting CORS requests from the
storage origin (``CAMVAULT_ESCROW_CORS_ORIGINS``): the page talks to all four from a browser.

For a deployment, see docker-compose.yml and docs/OPERATIONS.md; this is for trying camvault
out, developing it and demonstrating it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TextIO

import httpx
import typer

from clients.customer.state import CustomerState
from crypto.ed25519 import Ed25519SigningKey

app = typer.Typer(help="Run a whole site on this machine, for trying camvault out.")

EXE = str(Path(sys.executable).with_name("camvault"))
CUSTODIANS = ("c1", "c2", "c3")
CAMERA = "cam-1"
THRESHOLD = 2
READY_TIMEOUT_S = 60.0


class DevError(Exception):
    """Something stops the site from coming up (the message says what and where)."""


@dataclass
class Service:
    name: str
    url: str
    args: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    ready: str = "/healthz"


@dataclass
class Site:
    root: Path
    services: list[Service] = field(default_factory=list)
    web_app: str | None = None  # the web app's URL when the storage service serves one

    def start(self) -> None:
        """Start every service not started yet."""
        for s in self.services:
            if s.proc is not None:
                continue
            s.log.parent.mkdir(parents=True, exist_ok=True)
            with s.log.open("ab") as out:
                s.proc = subprocess.Popen(
                    [EXE, *s.args],
                    cwd=self.root,
                    env={**os.environ, **s.env},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches us only; we stop them in order
                )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        for s in self.services:
            while s.ready:  # a service with no HTTP endpoint (the camera) is only started
                if s.proc is not None and s.proc.poll() is not None:
                    raise DevError(f"{s.name} exited ({s.proc.returncode}): {last_line(s.log)}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(s.url + s.ready, timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise DevError(f"{s.name} not ready after {READY_TIMEOUT_S:.0f} s: see {s.log}")
                time.sleep(0.2)

    def dead(self) -> Service | None:
        return next((s for s in self.services if s.proc and s.proc.poll() is not None), None)

    def stop(self) -> None:
        """SIGTERM to all (a clean shutdown), then wait; SIGKILL what is still there."""
        running = [s for s in self.services if s.proc is not None and s.proc.poll() is None]
        for s in running:
            assert s.proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(s.proc.pid, signal.SIGTERM)
        for s in running:
            assert s.proc is not None
            try:
                s.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(s.proc.pid, signal.SIGKILL)
                s.proc.wait()

    def layout(self) -> dict[str, Any]:
        return {
            "data_dir": str(self.root),
            "arc_key": str(self.root / "arc.key"),
            "threshold": THRESHOLD,
            "services": {s.name: {"url": s.url, "log": str(s.log)} for s in self.services},
            "web_app": self.web_app,
        }


def last_line(path: Path) -> str:
    with contextlib.suppress(OSError):
        lines = path.read_text(errors="replace").strip().splitlines()
        if lines:
            return lines[-1]
    return "no output"


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def arc_key(root: Path) -> Ed25519SigningKey:
    """The site's ARC key: made once (0600, in one step), then reused."""
    path = root / "arc.key"
    if path.exists():
        return Ed25519SigningKey.from_text(path.read_text().strip())
    key = Ed25519SigningKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.to_text() + "\n")
    return key


def web_app_dir() -> Path | None:
    """The built web app to serve at /app/: ``CAMVAULT_WEB_DIR`` when set (it must hold a
    build), else web/dist next to the package when it was built (`make web`), else none."""
    named = os.environ.get("CAMVAULT_WEB_DIR")
    if named:
        path = Path(named).resolve()
        if not (path / "index.html").is_file():
            raise DevError(f"CAMVAULT_WEB_DIR: no index.html in {path} (build it: make web)")
        return path
    built = Path(__file__).resolve().parents[1] / "web" / "dist"
    return built if (built / "index.html").is_file() else None


def plan(root: Path, host: str, storage_port: int, custodian_port: int) -> Site:
    """The services of a site, their settings and where they listen (nothing started). With
    a built web app, the storage service serves it at /app/, its CSP lets the page connect to
    the custodians and they accept CORS requests from it."""
    ports = [storage_port] + [custodian_port + i for i in range(len(CUSTODIANS))]
    for port in ports:
        if not port_free(host, port):
            raise DevError(f"port {port} on {host} is in use (--storage-port, --custodian-port)")
    arc = arc_key(root).public_key.to_text()
    storage_url = f"http://{host}:{storage_port}"
    custodian_urls = [f"http://{host}:{port}" for port in ports[1:]]
    web_dir = web_app_dir()
    web_env: dict[str, str] = {}
    cors_env: dict[str, str] = {}
    if web_dir is not None:
        web_env = {
            "CAMVAULT_WEB_DIR": str(web_dir),
            "CAMVAULT_WEB_CONNECT_SRC": ",".join(custodian_urls),
        }
        cors_env = {"CAMVAULT_ESCROW_CORS_ORIGINS": storage_url}
    site = Site(root, web_app=None if web_dir is None else storage_url + "/app/")
    site.services.append(
        Service(
            "storage",
            storage_url,
            ["serve", "storage", "--host", host, "--port", str(storage_port)],
            {
                "CAMVAULT_DATA_DIR": str(root / "storage"),
                "CAMVAULT_PUBLIC_URL": storage_url,
                "CAMVAULT_AUTO_MIGRATE": "true",
                "CAMVAULT_ARC_PUBLIC_KEY": arc,
                **web_env,
            },
            root / "logs" / "storage.log",
            ready="/readyz",
        )
    )
    serve = ["serve", "escrow", "--id"]
    for cid, port, url in zip(CUSTODIANS, ports[1:], custodian_urls, strict=True):
        data = root / f"escrow-{cid}"
        site.services.append(
            Service(
                f"custodian {cid}",
                url,
                [*serve, cid, "--host", host, "--port", str(port), "--data-dir", str(data)],
                {
                    "CAMVAULT_ESCROW_ARC_PUBLIC_KEY": arc,
                    "CAMVAULT_ESCROW_NOTIFY_URL": storage_url + "/v1/notices",
                    **cors_env,
                },
                root / "logs" / f"custodian-{cid}.log",
            )
        )
    return site


def customer_args(site: Site) -> list[str]:
    """`customer site create` for this site's services."""
    args = ["customer", "site", "create", "--label", "home", "--storage", site.services[0].url]
    for s in site.services[1:]:
        if s.name.startswith("custodian"):
            args += ["--custodian", s.url]
    return [*args, "--threshold", str(THRESHOLD)]


def add_camera(site: Site) -> str:
    """With --camera: the customer's keys and site (made once, in ``customer/``), a camera
    enrolled in it (key ``camera.key``, made once) and the camera agent recording ffmpeg's
    test pattern (with a tone) as one more service. Returns the site id."""
    customer = site.root / "customer"
    env = {**os.environ, "CAMVAULT_CUSTOMER_DIR": str(customer), "NO_COLOR": "1"}

    def run(*args: str) -> str:
        done = subprocess.run([EXE, *args], env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise DevError(f"`camvault {' '.join(args)}`: {last_words(done.stderr)}")
        return done.stdout

    if not (customer / "identity.txt").exists():
        run("customer", "init")
    if CustomerState(customer).config.site_id is None:
        run(*customer_args(site))
    site_id = CustomerState(customer).site()[1]
    key = site.root / "camera.key"
    if not key.exists():
        public = run("camera", "keygen", "-o", str(key)).strip()
        run("customer", "enroll-camera", CAMERA, "--device-key", public)
    args = ["camera", "run", "--url", site.services[0].url, "--site", site_id]
    args += ["--camera", CAMERA, "--key", str(key), "--state-dir", str(site.root / "camera")]
    args += ["--source", "testsrc", "--detector", "none"]
    site.services.append(
        Service(f"camera {CAMERA}", "", args, {}, site.root / "logs/camera.log", ready="")
    )
    return site_id


def last_words(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "failed"


def tell(site: Site, out: TextIO, site_id: str | None) -> None:
    """Where everything is, and the customer's next commands."""
    w = max(len(s.name) for s in site.services)
    print(f"camvault dev: a site on this machine, data in {site.root}", file=out)
    for s in site.services:
        print(f"  {s.name:<{w}}  {s.url or '-'}   log {s.log}", file=out)
    print(f"  ARC key {site.root / 'arc.key'} (0600); layout in {site.root / 'dev.json'}", file=out)
    if site.web_app is not None:
        print(f"  web app  {site.web_app}   (open it in a browser; import the", file=out)
        print("    customer's identity.txt, site.key and config.json)", file=out)
    print("next, in another terminal (docs/USAGE.md):", file=out)
    print(f"  export CAMVAULT_CUSTOMER_DIR={site.root / 'customer'}", file=out)
    if site_id is None:
        print("  camvault customer init", file=out)
        print(f"  camvault {' '.join(customer_args(site)[0:])}", file=out)
    else:
        print(f"  camvault customer list   # site {site_id}: {CAMERA} records every 2 s", file=out)
    print("ready; Ctrl-C stops everything", file=out, flush=True)


def _stop_on_sigterm(*_: object) -> None:
    raise KeyboardInterrupt


@app.command()
def up(
    data_dir: Annotated[
        Path, typer.Option("--dir", help="the site's data directory (made if missing)")
    ] = Path("camvault-dev"),
    host: Annotated[str, typer.Option(help="address every service listens on")] = "127.0.0.1",
    storage_port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    custodian_port: Annotated[
        int, typer.Option(min=1, max=65533, help="c1's port; c2 and c3 take the next two")
    ] = 8101,
    camera: Annotated[
        bool,
        typer.Option(help="also a customer, a site and a camera on ffmpeg's test pattern"),
    ] = False,
) -> None:
    """Start storage and three custodians on this machine (--camera: and a camera recording
    into a site of its own); Ctrl-C stops them all."""
    root = data_dir.resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
        site = plan(root, host, storage_port, custodian_port)
    except (DevError, OSError) as exc:
        typer.echo(f"camvault: error: {exc}", err=True)
        raise typer.Exit(2) from None
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    status = 0
    try:
        site.start()
        site.wait_ready()
        site_id = add_camera(site) if camera else None
        site.start()
        (root / "dev.json").write_text(json.dumps(site.layout(), indent=2) + "\n")
        tell(site, sys.stdout, site_id)
        while (gone := site.dead()) is None:
            time.sleep(0.5)
        assert gone.proc is not None
        typer.echo(
            f"camvault: error: {gone.name} exited ({gone.proc.returncode}): "
            f"{last_line(gone.log)}; stopping the others",
            err=True,
        )
        status = 1
    except DevError as exc:
        typer.echo(f"camvault: error: {exc}", err=True)
        status = 1
    except KeyboardInterrupt:
        typer.echo("stopping ...")
    finally:
        site.stop()
    typer.echo("stopped")
    raise typer.Exit(status)
