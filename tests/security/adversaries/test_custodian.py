"""Adversary: one key custodian (of t = 2 of 3), with its escrow key and its database. Alone
it cannot open a recording: its own share does not recover the file key, and the share it
hands a colluding operator does not reach the threshold while the others refuse for lack of
a justification (and log it). Rewriting or truncating its own log is caught by the
customer's audit (clients/audit), which was clean before (the control)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, update

from clients.operator.release import CustodianRefused, recover_file_key
from common.time import now_ms
from crypto.age.format import parse_header
from crypto.errors import EscrowError, ShareError
from crypto.escrow import (
    CustodianKey,
    HybridCustodianKey,
    SessionKey,
    combine_file_key,
    open_escrow_stanza,
)
from crypto.escrow.stanza import escrow_stanzas
from crypto.tlog import entry_leaf_hash
from escrow_service.db import make_engine
from escrow_service.db.models import log_entries as log_table
from tests.escrow.ends_support import ask, log_entries
from tests.escrow.harness import CustodianProc
from tests.security.adversaries.support import (
    Arena,
    Home,
    Operator,
    audit_reports,
    cli_operator,
    event,
    new_home,
    refused_everywhere,
    released,
)
from tests.security.matrix import attack
from tests.support.stack import stack  # noqa: F401 (a system of its own: it tampers with a custodian)


@pytest.fixture(scope="module")
def op(arena: Arena) -> Operator:
    return cli_operator(arena)[1]


def own_keys(proc: CustodianProc) -> list[CustodianKey | HybridCustodianKey]:
    """The custodian's escrow keys as its data directory holds them: X25519, and the hybrid
    one when it made one (sites seal hybrid stanzas when every custodian publishes one)."""
    home = proc.workdir / proc.cid
    keys: list[CustodianKey | HybridCustodianKey] = [
        CustodianKey.from_text((home / "escrow.key").read_text().strip())
    ]
    if (home / "escrow-pq.key").exists():
        keys.append(HybridCustodianKey.from_text((home / "escrow-pq.key").read_text().strip()))
    return keys


def tamper(proc: CustodianProc, fn: Callable[[Any], object]) -> None:
    """What the custodian's operator can do to its own database (service stopped)."""
    proc.stop()
    engine = make_engine(proc.db_url)
    try:
        with engine.begin() as conn:
            fn(conn)
    finally:
        engine.dispose()
    proc.start()


def last_release(proc: CustodianProc, home: Home) -> tuple[int, dict[str, Any]]:
    """The index and entry of the site's newest release in the custodian's log."""
    entries = log_entries(proc)
    index = max(
        i for i, e in enumerate(entries) if e["type"] == "release" and e["site_id"] == home.site_id
    )
    return index, entries[index]


@attack("KEY-01", "open a recording with its own escrow key alone", "threshold_not_met")
def test_own_share_alone(arena: Arena, op: Operator) -> None:
    home = new_home(arena)
    t = now_ms() - 2_000
    rec = home.upload(t - 1_000)
    proc = arena.world.custodians[0]
    shares = []
    for s in escrow_stanzas(parse_header(rec.header).stanzas):
        for key in own_keys(proc):
            try:
                shares.append(open_escrow_stanza(s, key, rec.metadata))
            except EscrowError:  # another custodian's stanza, or the other kind of key
                continue
    assert len(shares) == 1  # exactly its own
    with pytest.raises(ShareError):
        combine_file_key(shares, rec.header)
    released(arena, home, op, event(home, t), rec)  # control: t custodians, an alarm


@attack("KEY-02", "give its share to a colluding operator; the others refuse", "no_justification")
def test_collusion_with_one_custodian(arena: Arena, op: Operator) -> None:
    home = new_home(arena)
    t = now_ms() - 2_000
    rec = home.upload(t - 1_000)
    session = SessionKey.generate()
    # The malicious custodian releases under a valid alarm (the most it can give) ...
    mine = ask(arena.eps[0], op, event(home, t), [rec], session=session)
    assert set(mine.sealed) == {rec.metadata.recording_id}
    # ... but the two others refuse the request without one (and log it).
    for ep in arena.eps[1:]:
        with pytest.raises(CustodianRefused) as info:
            ask(ep, op, None, [rec], session=session)
        assert info.value.reason == "no_justification"
    with pytest.raises(ShareError, match="threshold"):
        recover_file_key([mine], rec, session)


@attack("KEY-03", "rewrite a release entry in its own log (hide who read what)", "log_inconsistent")
def test_rewritten_log(arena: Arena, op: Operator) -> None:
    home = new_home(arena)
    t = now_ms() - 2_000
    rec = home.upload(t - 1_000)
    released(arena, home, op, event(home, t), rec)
    refused_everywhere(arena, op, None, [rec], "no_justification")
    audit_reports(home, "no_justification", listed=False)  # control: clean before
    proc = arena.world.custodians[2]
    index, entry = last_release(proc, home)
    entry["operator_id"] = "nobody"
    data = json.dumps(entry, separators=(",", ":"), sort_keys=True).encode()
    tamper(
        proc,
        lambda c: c.execute(
            update(log_table)
            .where(log_table.c.idx == index)
            .values(entry=data, leaf_hash=entry_leaf_hash(data))
        ),
    )
    audits = {a.custodian.url: a for a in home.audit()}
    assert [f.kind for f in audits[proc.url].findings] == ["log_inconsistent"]
    assert all(a.ok for url, a in audits.items() if url != proc.url)


@attack("KEY-04", "truncate its own log (drop the newest releases)", "log_truncated")
def test_truncated_log(arena: Arena, op: Operator) -> None:
    home = new_home(arena)
    t = now_ms() - 2_000
    rec = home.upload(t - 1_000)
    released(arena, home, op, event(home, t), rec)
    proc = arena.world.custodians[1]
    rows = next(a for a in home.audit() if a.custodian.url == proc.url)
    assert rows.ok, rows.findings  # control: clean before
    index, _ = last_release(proc, home)
    tamper(proc, lambda c: c.execute(delete(log_table).where(log_table.c.idx >= index)))
    audits = {a.custodian.url: a for a in home.audit()}
    assert [f.kind for f in audits[proc.url].findings] == ["log_truncated"]
