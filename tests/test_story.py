"""`make demo` (demo/story.py) must keep telling a true story with the real programs:
run it as `make demo` does and require success, every step's heading, and no leftovers.

The run is made once per test session (`run_story_once`) and kept in a directory of its own
until the session ends, so tests/security/test_secrets_hygiene.py inspects the same run."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo.story import FINISHED, STEPS

ROOT = Path(__file__).resolve().parents[1]


def _story_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("camvault-story-*")}


@dataclass(frozen=True)
class StoryRun:
    returncode: int
    stdout: str
    output: str  # stdout and stderr
    workdir: Path  # what every process wrote; stage.json says which server owns what


@functools.cache
def run_story_once() -> StoryRun:
    """Run `make demo`'s story as `make demo` does, once per session, keeping its directory
    (removed when the session ends), with the servers logging at DEBUG level."""
    parent = Path(tempfile.mkdtemp(prefix="camvault-test-story-"))
    atexit.register(shutil.rmtree, parent, True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMVAULT_")}
    env["CAMVAULT_STORY_DIR"] = str(parent / "run")
    env["CAMVAULT_STORY_SERVER_LOG_LEVEL"] = "DEBUG"  # all the servers would ever log
    proc = subprocess.run(
        [sys.executable, "-m", "demo.story"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    return StoryRun(proc.returncode, proc.stdout, proc.stdout + proc.stderr, parent / "run")


@pytest.mark.slow
def test_story_runs_every_step(age_cli: tuple[str, str]) -> None:
    run = run_story_once()
    assert run.returncode == 0, run.output
    for heading in STEPS:
        assert heading in run.stdout, f"missing step {heading!r}:\n{run.output}"
    assert FINISHED in run.stdout, run.output
    assert "FAILED" not in run.stdout
    assert (run.workdir / "stage.json").is_file()


def test_story_fails_loudly_when_a_tool_is_missing() -> None:
    """A step that cannot run is a failure (exit 1 with the reason), never a skip, and its
    temporary directory (databases, keys, videos) is removed."""
    before = _story_dirs()
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
    assert _story_dirs() - before == set()
