"""The stage `make demo` (demo/story.py) runs on: the real programs as processes on free
local ports in one temporary directory, the `camvault` CLI run as each role with its
output shown, and the checks that stop the story when a step does not behave as told."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from rich.console import Console

from clients.customer.state import CustomerState
from crypto.ed25519 import Ed25519SigningKey

console = Console(highlight=False)

ACCESS_PERIOD_S = 25  # storage service: alarm access period from the trigger time
CUSTODIAN_PERIOD_S = 60  # custodians: their own access period (60 s is their minimum)
CONSENT_VALID_S = 60
SITE, CAMERA, PANEL = "home-1", "cam-1", "panel-1"  # SITE: the label of the site id
OPERATOR, TECHNICIAN = "op-7", "tech-3"
MAX_SHOWN_LINES = 40
# The servers' log level: quiet for `make demo`; tests that inspect the logs ask for more.
SERVER_LOG_LEVEL = os.environ.get("CAMVAULT_STORY_SERVER_LOG_LEVEL", "WARNING")


class StoryError(Exception):
    """A step did not behave as described."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def camvault_exe() -> str:
    local = Path(sys.executable).parent / "camvault"
    found = str(local) if local.exists() else shutil.which("camvault")
    if found is None:
        raise StoryError("the `camvault` command is not installed (make venv)")
    return found


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StoryError(f"`{name}` is not installed: {hint}")
    return path


def ok(msg: str) -> None:
    console.print(f"  [green]✓[/green] {msg}")


def check(cond: bool, what: str, output: str = "") -> None:
    if not cond:
        raise StoryError(what + (f"\n--- output ---\n{output}" if output else ""))
    ok(what)


def show_output(text: str) -> None:
    lines = [line for line in text.rstrip().splitlines() if line.strip()]
    for line in lines[:MAX_SHOWN_LINES]:
        console.print(f"    {line}", style="dim", markup=False, soft_wrap=True)
    if len(lines) > MAX_SHOWN_LINES:
        console.print(f"    ... {len(lines) - MAX_SHOWN_LINES} more line(s)", style="dim")


class Story:
    """The processes and the temporary directory of one run."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.exe = camvault_exe()
        self.procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []
        self.arc = Ed25519SigningKey.generate()
        self.storage_url = ""
        self.custodian_urls: list[str] = []
        self.camera: subprocess.Popen[bytes] | None = None
        self.servers: dict[str, dict[str, object]] = {}  # what `layout()` lists

    @property
    def site(self) -> str:
        """The site's id once created: the label SITE bound to the customer's site key
        (crypto.siteid), as `customer site create --label` made it."""
        return CustomerState(self.workdir / "customer").site()[1]

    # --- processes ---------------------------------------------------------------------------

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.workdir / "logs" / f"{name}.log"
        log.parent.mkdir(exist_ok=True)
        with log.open("ab") as fh:
            proc = subprocess.Popen(
                [self.exe, *args],
                cwd=self.workdir,
                env={**os.environ, **env},
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed as a whole
            )
        self.procs.append((name, proc, log))
        return proc

    def add_server(self, name: str, data_dir: Path, env: dict[str, str]) -> None:
        """Note where server ``name`` keeps its data and log, and the settings it got."""
        log = self.workdir / "logs" / f"{name}.log"
        self.servers[name] = {"data_dir": str(data_dir), "log": str(log), "env": env}

    def write_layout(self) -> Path:
        """Write ``stage.json`` into the workdir: each server's data directory, log and
        settings (the servers' whole side of the run; everything else in the workdir
        belongs to the clients). Tests read it to inspect what each side wrote."""
        path = self.workdir / "stage.json"
        path.write_text(json.dumps({"servers": self.servers}, indent=2) + "\n")
        return path

    @staticmethod
    def stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def stop_all(self) -> None:
        for _, proc, _ in reversed(self.procs):
            self.stop(proc)

    def log_tails(self, lines: int = 15) -> None:
        for name, _, log in self.procs:
            with contextlib.suppress(OSError):
                tail = log.read_text(errors="replace").splitlines()[-lines:]
                if tail:
                    console.print(f"[bold]--- {name} log (last {len(tail)} lines)[/bold]")
                    for line in tail:
                        console.print(f"    {line}", markup=False, style="dim")

    def wait_ready(self, name: str, url: str, timeout: float = 60.0) -> None:
        proc = next(p for n, p, _ in self.procs if n == name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StoryError(f"{name} exited with code {proc.returncode} before being ready")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise StoryError(f"{name} not ready after {timeout:.0f} s")

    def start_services(self) -> None:
        arc_pub = self.arc.public_key.to_text()
        port = free_port()
        self.storage_url = f"http://127.0.0.1:{port}"
        storage_env = {
            "CAMVAULT_DATA_DIR": str(self.workdir / "storage"),
            "CAMVAULT_PUBLIC_URL": self.storage_url,
            "CAMVAULT_AUTO_MIGRATE": "true",
            "CAMVAULT_ARC_PUBLIC_KEY": arc_pub,
            "CAMVAULT_ALARM_ACCESS_PERIOD_S": str(ACCESS_PERIOD_S),
            "CAMVAULT_SSE_POLL_INTERVAL_S": "0.2",
            "CAMVAULT_SSE_KEEPALIVE_S": "1",
            "CAMVAULT_LOG_LEVEL": SERVER_LOG_LEVEL,
        }
        self.add_server("storage", self.workdir / "storage", storage_env)
        self.spawn(
            "storage", ["serve", "storage", "--host", "127.0.0.1", "--port", str(port)], storage_env
        )
        for i in (1, 2, 3):
            cport = free_port()
            self.custodian_urls.append(f"http://127.0.0.1:{cport}")
            data_dir = self.workdir / f"escrow-c{i}"
            env = {
                "CAMVAULT_ESCROW_ARC_PUBLIC_KEY": arc_pub,
                "CAMVAULT_ESCROW_NOTIFY_URL": self.storage_url + "/v1/notices",
                "CAMVAULT_ESCROW_NOTIFY_INTERVAL_S": "0.2",
                "CAMVAULT_ESCROW_ACCESS_PERIOD_S": str(CUSTODIAN_PERIOD_S),
                "CAMVAULT_ESCROW_CRYPTO_WORKERS": "0",
                "CAMVAULT_ESCROW_PUBLIC_AUTHORITY": f"127.0.0.1:{cport}",
                "CAMVAULT_ESCROW_LOG_LEVEL": SERVER_LOG_LEVEL,
            }
            self.add_server(f"custodian-c{i}", data_dir, env)
            args = ["serve", "escrow", "--id", f"c{i}", "--port", str(cport)]
            self.spawn(f"custodian-c{i}", [*args, "--data-dir", str(data_dir)], env)
        self.write_layout()
        self.wait_ready("storage", self.storage_url + "/readyz")
        for i, url in enumerate(self.custodian_urls, 1):
            self.wait_ready(f"custodian-c{i}", url + "/healthz")

    # --- the CLI -------------------------------------------------------------------------

    def cli(
        self,
        who: str,
        *args: str,
        code: int = 0,
        quiet: bool = False,
        timeout: float = 120.0,
    ) -> str:
        """Run `camvault <args>` as ``who`` (customer, op-7, tech-3 or a device); show the
        command and its output; require exit status ``code``."""
        env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
        env["CAMVAULT_CUSTOMER_DIR"] = str(self.workdir / "customer")
        env["CAMVAULT_OPERATOR_DIR"] = str(self.workdir / who)
        if not quiet:
            console.print(f"  [bold]{who}[/bold] $ camvault {' '.join(args)}", soft_wrap=True)
        try:
            proc = subprocess.run(
                [self.exe, *args],
                cwd=self.workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise StoryError(
                f"`camvault {' '.join(args)}` still running after {timeout:.0f} s"
            ) from None
        out = proc.stdout + proc.stderr
        if not quiet:
            show_output(out)
        if proc.returncode != code:
            raise StoryError(
                f"`camvault {' '.join(args)}` exited {proc.returncode}, expected {code}:\n{out}"
            )
        return out


def frames(path: Path) -> int:
    """Video frames ffprobe decodes from ``path`` (0 if it is not playable video)."""
    ffprobe = require_tool("ffprobe", "apt-get install ffmpeg (scripts/install-tools.sh camera)")
    proc = subprocess.run(
        [
            ffprobe,
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return int(proc.stdout.split()[0])
    except (IndexError, ValueError):
        return 0


def wait_for(what: str, cond: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise StoryError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


def segment_rows(listing: str) -> list[str]:
    return [line for line in listing.splitlines() if f" {CAMERA} " in f" {line} "]
