"""`camvault admin s3-heal` where it cannot heal: each case is one line and exit 2, with no
secret in it. The heal itself (a MinIO node killed under load, restarted, healed by this
command until every object's shards are back on its drive) is tests/cluster/test_faults.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import MinioServer

CAMVAULT = str(Path(sys.executable).with_name("camvault"))


def heal(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CAMVAULT_")}
    return subprocess.run(
        [CAMVAULT, "admin", "s3-heal", "--timeout", "30"],
        env={**clean, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({}, "not supported by server in 'mode-server-xl-single'"),  # one drive: no erasure sets
        ({"CAMVAULT_S3_ENDPOINT": "http://127.0.0.1:1"}, "unreachable"),
        ({"CAMVAULT_S3_ADMIN_ACCESS_KEY": ""}, "CAMVAULT_S3_ADMIN_ACCESS_KEY"),
    ],
    ids=["single-drive", "down", "no-admin"],
)
def test_refusals_are_one_line(minio: MinioServer, change: dict[str, str], says: str) -> None:
    env = {
        "CAMVAULT_S3_ENDPOINT": minio.endpoint,
        "CAMVAULT_S3_REGION": minio.region,
        "CAMVAULT_S3_ADMIN_ACCESS_KEY": minio.access_key,
        "CAMVAULT_S3_ADMIN_SECRET_KEY": minio.secret_key,
        **change,
    }
    done = heal(env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("camvault: error: "), lines[0]
    assert says in lines[0], lines[0]
    assert minio.secret_key not in done.stderr
    assert done.stdout == ""
