"""`camvault dev up` as a newcomer uses it: one command starts the site, the commands it
prints work as printed (the customer CLI against the services it started), Ctrl-C stops
everything and leaves nothing running."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.services import free_port, free_port_run

CAMVAULT = str(Path(sys.executable).with_name("camvault"))


def children_of(pid: int) -> list[int]:
    """The pids of the running processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for_line(proc: subprocess.Popen[str], marker: str, timeout: float = 120) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            pytest.fail(f"dev up ended before {marker!r}: {''.join(lines)}")
        lines.append(line)
        if marker in line:
            return lines
    pytest.fail(f"no {marker!r} after {timeout} s: {''.join(lines)}")


def test_dev_up_runs_a_site_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    root = tmp_path / "site"
    storage_port = free_port()
    c1 = free_port_run(3, avoid=[storage_port])  # the custodians take c1, c1 + 1 and c1 + 2
    args = ["dev", "up", "--dir", str(root), "--storage-port", str(storage_port)]
    proc = subprocess.Popen(
        [CAMVAULT, *args, "--custodian-port", str(c1)],
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "250"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        shown = wait_for_line(proc, "ready; Ctrl-C stops everything")
        layout = json.loads((root / "dev.json").read_text())
        urls = [s["url"] for s in layout["services"].values()]
        assert urls[0] == f"http://127.0.0.1:{storage_port}"
        assert len(urls) == 4 and all(httpx.get(u + "/healthz").status_code == 200 for u in urls)
        assert (root / "arc.key").stat().st_mode & 0o777 == 0o600

        # the commands it printed, run as printed
        commands = [line.strip() for line in shown if line.startswith("  camvault ")]
        export = next(line.strip() for line in shown if line.strip().startswith("export "))
        name, _, value = export.removeprefix("export ").partition("=")
        env = {**os.environ, name: value}
        assert [c.split()[1:3] for c in commands] == [["customer", "init"], ["customer", "site"]]
        for command in commands:
            argv = shlex.split(command)
            done = subprocess.run([CAMVAULT, *argv[1:]], env=env, capture_output=True, text=True)
            assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
        # the audit reads every custodian's log and the storage inbox: all four answer
        audit = subprocess.run(
            [CAMVAULT, "customer", "audit"], env=env, capture_output=True, text=True
        )
        assert audit.returncode == 0, audit.stdout + audit.stderr
        services = children_of(proc.pid)
        assert len(services) == 4, services
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert rest.strip().endswith("stopped")
    assert [pid for pid in services if alive(pid)] == []
    for url in urls:
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/healthz", timeout=2)


def test_dev_up_refuses_a_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [CAMVAULT, "dev", "up", "--dir", str(tmp_path / "s"), "--storage-port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"camvault: error: port {port} on 127.0.0.1 is in use (--storage-port, --custodian-port)"
    )


def test_dev_up_with_a_camera_records_into_the_customers_site(tmp_path: Path) -> None:
    root = tmp_path / "site"
    storage_port = free_port()
    c1 = free_port_run(3, avoid=[storage_port])  # the custodians take c1, c1 + 1 and c1 + 2
    args = ["dev", "up", "--dir", str(root), "--storage-port", str(storage_port)]
    proc = subprocess.Popen(
        [CAMVAULT, *args, "--custodian-port", str(c1), "--camera"],
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "250"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        shown = "".join(wait_for_line(proc, "ready; Ctrl-C stops everything"))
        assert "camvault customer list" in shown and "camera cam-1" in shown
        services = children_of(proc.pid)
        assert len(services) == 5, services  # storage, three custodians, the camera
        env = {**os.environ, "CAMVAULT_CUSTOMER_DIR": str(root / "customer")}
        listed: list[dict[str, object]] = []
        deadline = time.monotonic() + 90
        while not listed and time.monotonic() < deadline:
            done = subprocess.run(
                [CAMVAULT, "customer", "list", "--json"], env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, done.stderr
            listed = json.loads(done.stdout)
            time.sleep(1)
        assert listed and listed[0]["camera_id"] == "cam-1", "the camera recorded nothing"
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert [pid for pid in services if alive(pid)] == []
