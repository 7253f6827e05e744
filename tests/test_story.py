"""`make demo` (demo/story.py) must keep telling a true story with the real programs:
run it as `make demo` does and require success, every step's heading, and no leftovers."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from demo.story import FINISHED, STEPS

ROOT = Path(__file__).resolve().parents[1]


def _story_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("camvault-story-*")}


@pytest.mark.slow
def test_story_runs_every_step(age_cli: tuple[str, str]) -> None:
    before = _story_dirs()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMVAULT_")}
    proc = subprocess.run(
        [sys.executable, "-m", "demo.story"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for heading in STEPS:
        assert heading in proc.stdout, f"missing step {heading!r}:\n{out}"
    assert FINISHED in proc.stdout, out
    assert "FAILED" not in proc.stdout
    # the temporary directory (databases, keys, videos) is removed
    assert _story_dirs() - before == set()


def test_story_fails_loudly_when_a_tool_is_missing() -> None:
    """A step that cannot run is a failure (exit 1 with the reason), never a skip."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMVAULT_")}
    env["PATH"] = str(Path(sys.executable).parent)  # camvault, but no age / ffmpeg
    proc = subprocess.run(
        [sys.executable, "-m", "demo.story"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "story FAILED" in proc.stdout and "`age` is not installed" in proc.stdout
    assert FINISHED not in proc.stdout
