"""`camvault customer audit` across custodian restarts and a truncated log (own world: this
module rewrites a custodian's database)."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import sqlalchemy as sa

from clients.audit.notices import Expected
from common.time import now_ms
from crypto.age.x25519 import X25519Identity
from tests.clients.customer_world import (  # noqa: F401 (the `world` fixture)
    World,
    cli,
    setup_customer,
    setup_operator,
    world_fixture,
)


def test_audit_lists_every_access_and_detects_a_truncated_log(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    first = c.run("audit").output
    assert first.count("log verified") == 3  # site keys + 2 devices, all signed by the customer
    trigger = now_ms() - 5_000
    c.camera.record(trigger - 3_000)
    a = c.panel.raise_alarm(triggered_at_ms=trigger)
    op = setup_operator(world, tmp_path)
    op.run("release", "--alarm", a["alarm_id"], "--out", tmp_path / "o")
    deadline = time.monotonic() + 15
    while "access_notice" not in c.run("inbox", "--kind", "access_notice").output:
        assert time.monotonic() < deadline, "no access notice delivered"
        time.sleep(0.3)
    out = c.run("audit").output
    assert out.count("log verified") == 3 and "1 notice(s) included" in out
    assert out.count(op.operator_id) >= 2 and "released 1" in out
    # a second audit: nothing new, the earlier accesses are still listed (kept locally)
    out = c.run("audit").output
    assert out.count("log verified") == 3 and "released 1" in out

    # custodian c1 rewrites history: it drops its last two entries (the release among them)
    c1 = world.custodians[0]
    c1.stop()
    db = sqlite3.connect(world.workdir / "c1" / "escrow.db")
    try:
        size = db.execute("SELECT max(idx) + 1 FROM escrow_log").fetchone()[0]
        db.execute("DELETE FROM escrow_outbox")
        db.execute("DELETE FROM escrow_notices WHERE log_index >= ?", (size - 2,))
        db.execute("DELETE FROM escrow_log WHERE idx >= ?", (size - 2,))
        db.commit()
    finally:
        db.close()
    c1.start()
    out = c.run("audit", code=1).output
    assert "custodian c1: PROBLEMS" in out
    assert f"log_truncated (entry {size - 2}): log shrank from {size} to {size - 2}" in out
    assert out.count("log verified") == 2


def test_audit_reports_a_key_change_the_customer_did_not_make(world: World, tmp_path: Path) -> None:
    """Someone with a copy of the site key (a stolen phone) adds their own recipient: the
    custodians accept it (it is signed by the pinned key), but the change is in their logs,
    and the customer's audit, which knows every statement this customer signed, reports it."""
    c = setup_customer(world, tmp_path)
    assert c.run("audit").output.count("log verified") == 3
    thief = tmp_path / "thief"
    shutil.copytree(c.state, thief)
    env = {"CAMVAULT_CUSTOMER_DIR": str(thief)}
    cli(
        "customer", "add-device", "--recipient", str(X25519Identity.generate().recipient()), env=env
    )
    out = c.run("audit", code=1).output
    assert out.count("unexpected_change") == 3  # once per custodian: the site-keys entry
    assert "site-keys entry the customer did not expect" in out
    # the finding stays until the customer looks: the saved checkpoint did not advance
    assert c.run("audit", code=1).output.count("unexpected_change") == 3


def test_audit_reports_a_notice_altered_in_relay(world: World, tmp_path: Path) -> None:
    """The storage service relays access notices; one that it altered (here: another
    operator named) no longer matches the custodian's own notice and log entry."""
    c = setup_customer(world, tmp_path)
    trigger = now_ms() - 5_000
    c.camera.record(trigger - 3_000)
    a = c.panel.raise_alarm(triggered_at_ms=trigger)
    op = setup_operator(world, tmp_path)
    op.run("release", "--alarm", a["alarm_id"], "--out", tmp_path / "o")
    deadline = time.monotonic() + 15
    while c.run("inbox", "--kind", "access_notice").output.count("access_notice") < 2:
        assert time.monotonic() < deadline, "access notices not delivered"
        time.sleep(0.3)
    engine = world.storage.engine()
    try:
        with engine.begin() as conn:
            row_id, body = conn.execute(
                sa.text(
                    "SELECT id, body FROM inbox_items WHERE site_id=:s AND kind='access_notice' "
                    "ORDER BY id LIMIT 1"
                ),
                {"s": c.site_id},
            ).one()
            forged = bytes(body).replace(op.operator_id.encode(), b"oper-nobody")
            conn.execute(
                sa.text("UPDATE inbox_items SET body=:b WHERE id=:i"), {"b": forged, "i": row_id}
            )
    finally:
        engine.dispose()
    out = c.run("audit", code=1).output
    assert "notice_mismatch" in out and "two different notices claim the same log entry" in out
    assert out.count("log verified") == 2


def test_ends_of_access_are_expected_and_a_deletion_the_customer_did_not_sign_is_not() -> None:
    signed = "aa" * 32
    expected = Expected(statement_hashes={signed})
    # An ARC operator's close only ends access: expected whoever closed.
    close = {
        "type": "alarm-close",
        "site_id": "s",
        "operator_id": "op",
        "statement_sha256": "b" * 64,
    }
    assert expected.problem(5, close) is None
    # The customer's own deletion is expected; one it did not sign means its key signed
    # something it did not: reported like any other statement.
    assert expected.problem(6, {"type": "recording-deletion", "statement_sha256": signed}) is None
    problem = expected.problem(7, {"type": "recording-deletion", "statement_sha256": "c" * 64})
    assert problem is not None and "did not expect" in problem
