"""What the benchmarks share: the repository path, units, throughput and a scratch directory."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
#: The CLIs the age benchmark compares, in the order of the results table.
TOOLS = ("age", "camvault", "camvault-lean")


def mbps(size: int, seconds: float) -> float:
    """Throughput in MB/s (10^6 bytes per second)."""
    return size / seconds / 1e6


@contextlib.contextmanager
def workdir(prefix: str, tmpfs: bool = True) -> Iterator[Path]:
    """A fresh directory (in /dev/shm when ``tmpfs`` and the machine has it), removed after."""
    base = "/dev/shm" if tmpfs and os.path.isdir("/dev/shm") else None
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM a service the bench started, SIGKILL if it has not exited 15 s later."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
