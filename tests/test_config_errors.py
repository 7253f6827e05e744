"""A configuration mistake stops a service at once with one line that names the setting
(`camvault: error: <setting>: <why>`, exit 2): no traceback, and no service that says it is
ready and fails at the first request that needs the setting (issue 13's list of cases)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CAMVAULT = str(Path(sys.executable).with_name("camvault"))
CLOSED = "postgresql+psycopg://camvault@127.0.0.1:1/camvault"  # nothing listens on port 1

CASES = [
    # (environment, command, the line's start)
    ({}, ["serve", "storage", "--port", "99999"], "Invalid value for '--port'"),
    ({}, ["serve", "escrow", "--id", "c1", "--port", "0"], "Invalid value for '--port'"),
    ({"CAMVAULT_BLOBSTORE": "nfs"}, ["serve", "storage"], "CAMVAULT_BLOBSTORE: Input should be"),
    ({"CAMVAULT_LOG_LEVEL": "LOUD"}, ["serve", "storage"], "CAMVAULT_LOG_LEVEL: should be one"),
    ({"CAMVAULT_DATABASE_URL": CLOSED}, ["serve", "storage"], "CAMVAULT_DATABASE_URL: cannot"),
    ({"CAMVAULT_DATABASE_URL": CLOSED}, ["db", "upgrade"], "CAMVAULT_DATABASE_URL: cannot"),
    ({"CAMVAULT_DATABASE_URL": CLOSED}, ["serve", "sweep"], "CAMVAULT_DATABASE_URL: cannot"),
    ({"CAMVAULT_DATABASE_URL": "nonsense"}, ["db", "upgrade"], "CAMVAULT_DATABASE_URL: not a"),
    ({}, ["db", "upgrade", "--url", "mysql://x@h/db"], "--url: unsupported database 'mysql'"),
    ({}, ["db", "downgrade", "nosuchrev"], "revision 'nosuchrev': Can't locate revision"),
    ({}, ["db", "upgrade", "--revision", "nosuchrev"], "revision 'nosuchrev': Can't locate"),
    ({"CAMVAULT_DATA_DIR": "/proc/nope"}, ["serve", "storage"], "CAMVAULT_DATA_DIR: cannot"),
    ({"CAMVAULT_ARC_PUBLIC_KEY": "garbage"}, ["serve", "storage"], "CAMVAULT_ARC_PUBLIC_KEY: not"),
    ({}, ["serve", "escrow", "--id", "c1", "--data-dir", "/proc/nope"], "--data-dir: cannot"),
    (
        {"CAMVAULT_ESCROW_ARC_PUBLIC_KEY": "garbage"},
        ["serve", "escrow", "--id", "c1"],
        "CAMVAULT_ESCROW_ARC_PUBLIC_KEY: not an Ed25519 public key",
    ),
    (
        {"CAMVAULT_ESCROW_DATABASE_URL": CLOSED},
        ["serve", "escrow", "--id", "c1"],
        "CAMVAULT_ESCROW_DATABASE_URL: cannot connect",
    ),
    (
        {"CAMVAULT_ESCROW_AUTO_MIGRATE": "false"},  # a new (empty) database, not migrated
        ["serve", "escrow", "--id", "c1"],
        "CAMVAULT_ESCROW_DATABASE_URL: the custodian's schema is not at the newest migration",
    ),
    (
        {"CAMVAULT_ESCROW_MAX_BATCH": "-5"},
        ["serve", "escrow", "--id", "c1"],
        "CAMVAULT_ESCROW_MAX_BATCH: Input should be greater than or equal to 1",
    ),
    ({}, ["customer", "list", "--bogus"], "No such option: --bogus"),
    ({}, ["no-such-command"], "No such command 'no-such-command'"),
]


@pytest.mark.parametrize(("env", "args", "start"), CASES, ids=[" ".join(c[1]) for c in CASES])
def test_one_line_and_exit_2(
    env: dict[str, str], args: list[str], start: str, tmp_path: Path
) -> None:
    # the embedded data directory, if one is made, is made in tmp_path
    line = one_line_error([*args], env, tmp_path)
    assert line.startswith(f"camvault: error: {start}"), line


def one_line_error(args: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run `camvault ARGS` with only ``env`` of the CAMVAULT_ settings; its one error line
    (exit 2, nothing on stdout, nothing else on stderr)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CAMVAULT_")}
    done = subprocess.run(
        [CAMVAULT, *args],
        cwd=cwd,
        env={**clean, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert done.stdout == ""
    return lines[0]


def test_a_secret_setting_is_never_echoed(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CAMVAULT_")}
    done = subprocess.run(
        [CAMVAULT, "serve", "storage"],
        cwd=tmp_path,
        env={**clean, "CAMVAULT_S3_SECRET_KEY": "hunter2" * 3, "CAMVAULT_S3_MAX_ATTEMPTS": "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "CAMVAULT_S3_MAX_ATTEMPTS" in done.stderr
    assert "hunter2" not in done.stderr


def test_a_custodian_never_makes_new_keys_over_its_log(tmp_path: Path) -> None:
    """A custodian restored without its key files (or started on the wrong data directory
    with its database) must not quietly make new keys: every recording escrowed to the old
    key would become unopenable here and the log would go on under another key. A first
    start (empty database) still makes them."""
    from sqlalchemy import create_engine

    from escrow_service.core.keys import KeysMissingError, load_or_create
    from escrow_service.db import stored_log_size, upgrade
    from escrow_service.db.models import log_entries

    data = tmp_path / "escrow-c1"
    data.mkdir()
    url = f"sqlite:///{data / 'escrow.db'}"
    upgrade(url)
    assert stored_log_size(url) == 0
    load_or_create(data, "c1", log_size=0)  # first start: keys made
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            log_entries.insert().values(
                idx=0, leaf_hash=b"\0" * 32, entry=b"{}", kind="site", created_ms=0
            )
        )
    engine.dispose()
    assert stored_log_size(url) == 1
    (data / "escrow.key").unlink()
    with pytest.raises(KeysMissingError, match=r"escrow.key missing.*\(1 entries\)"):
        load_or_create(data, "c1", log_size=1)
    assert not (data / "escrow.key").exists()  # nothing made

    line = one_line_error(
        ["serve", "escrow", "--id", "c1", "--data-dir", str(data), "--port", "1"],
        {"CAMVAULT_ESCROW_DATABASE_URL": url},
        tmp_path,
    )
    assert line.startswith(f"camvault: error: {data}: escrow.key missing"), line
    assert "restore the key files from backup" in line
    assert not (data / "escrow.key").exists()
