"""`make demo` must keep telling a true story: run it and require success."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_every_step(age_cli: tuple[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "demo.crypto_walkthrough"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "demo finished: every step behaved as described" in proc.stdout
    for n in range(1, 10):
        assert f"{n}. " in proc.stdout
