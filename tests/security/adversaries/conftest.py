"""The adversary modules' shared system and the attack-matrix recorder.

The modules share one running system (``stack``, package scope: each attack makes its own
sites and operators) wrapped per module as an ``Arena``; test_custodian.py, which tampers
with a custodian's database, has a system of its own (tests/support/stack.py).

The recorder writes, at the end of a run, one row per attack test (tests/security/matrix.py
marks) with its outcome and seconds (setup, call and teardown) to
``$CAMVAULT_ATTACK_MATRIX`` (default build/attack-matrix.json); scripts/threat_table.py
renders it into docs/THREAT_MODEL.md (`make threat-table`). A passed attack is one the
system refused for the declared reason, its control succeeding."""

from __future__ import annotations

import json
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clients.customer_world import World, running_world
from tests.security.adversaries.support import Arena, arena_of
from tests.security.matrix import ADVERSARIES, register_marker
from tests.support.services import MinioServer, PostgresServer

REPO = Path(__file__).resolve().parents[3]
MATRIX_ENV = "CAMVAULT_ATTACK_MATRIX"
_rows: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="package")
def stack(
    minio: MinioServer, postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """Storage on PostgreSQL + MinIO and three custodians on PostgreSQL (t = 2)."""
    with running_world(tmp_path_factory.mktemp("stack"), postgres=postgres, minio=minio) as w:
        yield w


@pytest.fixture(scope="module")
def arena(stack: World, tmp_path_factory: pytest.TempPathFactory) -> Arena:
    return arena_of(stack, tmp_path_factory.mktemp("arena"))


def pytest_configure(config: pytest.Config) -> None:
    register_marker(config)


def matrix_path() -> Path:
    return Path(os.environ.get(MATRIX_ENV) or REPO / "build" / "attack-matrix.json")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    mark = item.get_closest_marker("attack")
    if mark is None:
        return
    module = Path(str(item.path)).stem
    row = _rows.setdefault(item.nodeid, {"outcome": "passed", "seconds": 0.0})
    row["seconds"] = round(row["seconds"] + report.duration, 2)
    row.update(
        attack_id=mark.kwargs["attack_id"],
        threat=mark.kwargs["threat"],
        reason=mark.kwargs["reason"],
        adversary=ADVERSARIES.get(module, module),
        test=item.nodeid,
    )
    if not report.passed:
        row["outcome"] = (
            report.outcome if report.when == "call" else f"{report.outcome} ({report.when})"
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _rows:
        return
    path = matrix_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(_rows.values(), key=lambda r: (r["adversary"], r["attack_id"]))
    path.write_text(json.dumps({"attacks": rows}, indent=1) + "\n")
