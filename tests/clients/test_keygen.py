"""Key files made by the CLI: `camvault arc keygen` (and the device keygens it shares code
with) create the file 0600 in one step, print the public key, and never overwrite a key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crypto.ed25519 import Ed25519SigningKey

CAMVAULT = str(Path(sys.executable).with_name("camvault"))


def keygen(group: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CAMVAULT, group, "keygen", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
        preexec_fn=lambda: os.umask(0),  # even a permissive umask gives 0600
    )


@pytest.mark.parametrize("group", ["arc", "camera", "panel"])
def test_keygen_writes_0600_and_prints_the_public_key(group: str, tmp_path: Path) -> None:
    out = tmp_path / f"{group}.key"
    r = keygen(group, out)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    key = Ed25519SigningKey.from_text(out.read_text().strip())
    assert r.stdout.strip() == key.public_key.to_text()


def test_keygen_refuses_to_overwrite_a_key(tmp_path: Path) -> None:
    out = tmp_path / "arc.key"
    assert keygen("arc", out).returncode == 0
    before = out.read_bytes()
    r = keygen("arc", out)
    assert r.returncode == 1
    assert r.stderr.strip() == f"camvault: error: {out} exists; refusing to overwrite an ARC key"
    assert out.read_bytes() == before


def test_keygen_into_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "no" / "arc.key"
    r = keygen("arc", out)
    assert r.returncode == 1
    assert r.stderr.strip() == f"camvault: error: {out}: No such file or directory"
    assert "Traceback" not in r.stderr
