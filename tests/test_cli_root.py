"""The `camvault` root as a user meets it: `--version`, help screens that read right, and
`--help` on the demo script (which must not start the story)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CAMVAULT = str(Path(sys.executable).with_name("camvault"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=REPO)


def test_version_prints_the_installed_version() -> None:
    r = run(CAMVAULT, "--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"camvault {version('camvault')}\n"


@pytest.mark.parametrize(
    "command",
    [
        ["customer", "delete"],
        ["camera", "run"],
        ["encrypt"],
        ["serve", "storage"],
    ],
)
def test_flags_show_no_value_type(command: list[str]) -> None:
    """A flag takes no value: its help row must not say `<bool>`; options that do take one
    keep their type (`<str>`, `<path>`, `<int>`)."""
    r = run(CAMVAULT, *command, "--help")
    assert r.returncode == 0, r.stderr
    assert "--help" in r.stdout
    assert "<bool>" not in r.stdout, r.stdout
    assert any(t in r.stdout for t in ("<str>", "<path>", "<int>")), r.stdout


def test_story_help_does_not_run_the_story() -> None:
    r = run(sys.executable, "-m", "demo.story", "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: python -m demo.story")
    assert "CAMVAULT_STORY_DIR" in r.stdout
    assert "the whole story, with the real programs" not in r.stdout  # main()'s first rule


def test_story_refuses_unknown_options() -> None:
    r = run(sys.executable, "-m", "demo.story", "--fast")
    assert r.returncode == 2
    assert "unrecognized arguments: --fast" in r.stderr
