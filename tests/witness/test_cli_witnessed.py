"""Witnessed custodian logs from the CLIs, on real processes: the storage service, three
custodians (t = 2) whose logs three real witnesses cosign (custodian quorum 2), an operator
set up with `camvault operator init --witness ... --witness-quorum 2` and a customer with
`camvault customer witnesses add ...` (docs/WITNESS.md, docs/USAGE.md).

The honest path: an alarm release decrypts (every receipt cosigned by 2 of the 3 witnesses)
and the customer's audit, which requires the quorum, is clean. The refusals: an operator
whose witness keys are not the ones cosigning, and every witness stopped (receipts then
carry the log's own checkpoint): `operator release` exits 1 with `unwitnessed` and writes
nothing; a customer requiring a witness that does not cosign gets `unwitnessed_checkpoint`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import Result

from clients.api.escrow import CustodianApi, fetch_custodian
from clients.customer.inbox import read_inbox
from clients.customer.state import CustomerState
from clients.operator.state import OperatorState
from common.http import SignedClient
from common.time import now_ms
from crypto.encoding import b64encode
from crypto.escrow import SessionKey
from crypto.tlog.cosignature import CosignatureSigner, open_cosigned_checkpoint
from tests.clients.customer_world import (
    Customer,
    Operator,
    World,
    cli,
    running_world,
    setup_customer,
)
from tests.witness.support import WitnessProc
from tests.witness.test_split_view import _snapshot, _swap_in


@dataclass
class WWorld:
    world: World
    witnesses: list[WitnessProc]

    def witness_args(self) -> list[str]:
        args: list[str] = []
        for w in self.witnesses:
            args += ["--witness", w.config()]
        # the custodians' quorum: a custodian waits for this many cosignatures, no more
        return [*args, "--witness-quorum", "2"]


@pytest.fixture(scope="module")
def ww() -> Iterator[WWorld]:
    workdir = Path(tempfile.mkdtemp(prefix="camvault-cli-witnessed-"))
    try:
        with running_world(workdir) as world:
            logs = [fetch_custodian(u).verifier.to_text() for u in world.custodian_urls]
            witnesses = [WitnessProc(f"witness.test/w{i}", workdir, logs) for i in (1, 2, 3)]
            try:
                for w in witnesses:
                    w.start()
                setting = ",".join(w.config() for w in witnesses)
                for c in world.custodians:
                    c.env_extra["CAMVAULT_ESCROW_WITNESSES"] = setting
                    c.env_extra["CAMVAULT_ESCROW_WITNESS_QUORUM"] = "2"
                    c.restart()
                yield WWorld(world, witnesses)
            finally:
                for w in witnesses:
                    w.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def operator(ww: WWorld, tmp: Path, witness_args: list[str], name: str) -> tuple[Operator, str]:
    """`operator init` with these witness options, then the ARC registers it."""
    op = Operator(ww.world, tmp / f"operator-{name}", name)
    args = ["init", "--id", name, "--storage", ww.world.storage.url, *witness_args]
    for u in ww.world.custodian_urls:
        args += ["--custodian", u]
    out = op.run(*args).output
    assert op.run("register", "--arc-key", ww.world.arc_key_file()).output.count("registered") == 4
    return op, out


def customer(ww: WWorld, tmp: Path) -> Customer:
    """A customer whose audit requires 2 of the 3 witnesses, set through the CLI."""
    c = setup_customer(ww.world, tmp)
    for i, w in enumerate(ww.witnesses):
        extra = ["--quorum", "2"] if i == 2 else []
        out = c.run("witnesses", "add", w.verifier().to_text(), "--url", w.url, *extra).output
        assert "witness added" in out
    assert "requires 2 of 3 witness" in out
    listed = json.loads(c.run("witnesses", "list", "--json").output)
    assert listed["quorum"] == 2
    assert [x["key"] for x in listed["witnesses"]] == [w.verifier().to_text() for w in ww.witnesses]
    assert [x["url"] for x in listed["witnesses"]] == [w.url for w in ww.witnesses]
    return c


def one_line(result: Result) -> str:
    """The CLI's output, unwrapped (the terminal wraps the one-line error)."""
    return result.output.replace("\n", "")


def wait_for_notices(c: Customer, n: int) -> None:
    deadline = time.monotonic() + 20
    while c.run("inbox", "--kind", "access_notice").output.count("access_notice") < n:
        assert time.monotonic() < deadline, "access notices not delivered"
        time.sleep(0.3)


def test_bad_witness_options_are_refused_in_one_line(ww: WWorld, tmp_path: Path) -> None:
    st = tmp_path / "op-bad"
    base = ["operator", "init", "--id", "op-bad", "--storage", ww.world.storage.url]
    base += ["--custodian", ww.world.custodian_urls[0], "--state", str(st)]
    key = ww.witnesses[0].verifier().to_text()
    for extra, reason in (
        (["--witness", "http://127.0.0.1:1 not-a-key"], "not a witness verifier key"),
        (["--witness", f"{ww.witnesses[0].url} {key}", "--witness-quorum", "2"], "quorum 2"),
        (["--witness", f"{ww.witnesses[0].url} {key}", "--witness", key], "given twice"),
        (["--witness-quorum", "1"], "without any --witness"),
        (["--witness", f"one two {key}"], "expected '<url> <witness verifier key>'"),
    ):
        out = cli(*base, *extra, code=1).output
        assert "camvault: error:" in out and reason in out, out
        assert "Traceback" not in out
        assert not (st / "operator.key").exists()  # nothing half-initialised
    # without witnesses: as before, and said once
    out = cli(*base, code=0).output
    assert out.count("no witnesses configured") == 1
    assert "witnesses" not in json.loads((st / "config.json").read_text())

    c = setup_customer(ww.world, tmp_path)
    out = c.run("witnesses", "add", "not-a-key", code=1).output
    assert "camvault: error:" in out and "not a witness verifier key" in out
    out = c.run("witnesses", "add", key, "--quorum", "2", code=1).output
    assert "quorum 2 is not 1..1" in out
    assert not (c.state / "witnesses.json").exists()
    assert "no witnesses" in c.run("witnesses", "list").output


def test_witnessed_alarm_release_and_audit(ww: WWorld, tmp_path: Path) -> None:
    c = customer(ww, tmp_path)
    trigger = now_ms() - 8_000
    pre = c.camera.record(trigger - 5_000)
    post = c.camera.record(trigger + 1_000)
    a = c.panel.raise_alarm(triggered_at_ms=trigger)
    op, init_out = operator(ww, tmp_path, ww.witness_args(), "op-w")
    assert "witnesses: 2 of 3 must cosign" in init_out and "no witnesses" not in init_out
    cfg = json.loads((op.state / "config.json").read_text())["witnesses"]
    assert cfg["quorum"] == 2 and cfg["urls"] == [w.url for w in ww.witnesses]

    out_dir = tmp_path / "released"
    out = op.run("release", "--alarm", a["alarm_id"], "--out", out_dir).output
    assert "2 of 2 recording(s) decrypted" in out, out
    for rid in (pre, post):
        assert (out_dir / "cam-front" / f"{rid}.ts").read_bytes() == c.camera.plaintexts[rid]

    # what the custodians serve is cosigned by the witnesses the customer configured
    policy_keys = [w.verifier() for w in ww.witnesses]
    for url in ww.world.custodian_urls:
        ep = fetch_custodian(url)
        note = httpx.get(url + "/v1/log/cosigned-checkpoint", timeout=10).content
        opened = open_cosigned_checkpoint(note, [ep.verifier], ep.origin, policy_keys, 2)
        assert len(opened.cosigners) >= 2

    wait_for_notices(c, 1)
    audit = c.run("audit").output
    assert audit.count("log verified") == 3 and "PROBLEMS" not in audit, audit
    assert "op-w" in audit and "alarm-verification" in audit

    # a customer requiring a witness that cosigns nothing of these logs: every log refused
    stranger = CosignatureSigner.generate("witness.test/stranger").verifier.to_text()
    c.run("witnesses", "add", stranger, "--quorum", "4")
    audit = c.run("audit", code=1).output
    assert audit.count("unwitnessed_checkpoint") == 3, audit
    assert audit.count("of the 4 witnesses required") == 3, audit
    c.run("witnesses", "remove", stranger, "--quorum", "2")
    assert c.run("audit").output.count("log verified") == 3


def test_operator_refuses_unwitnessed_receipts(ww: WWorld, tmp_path: Path) -> None:
    c = customer(ww, tmp_path)
    trigger = now_ms() - 6_000
    c.camera.record(trigger - 3_000)
    a = c.panel.raise_alarm(triggered_at_ms=trigger)

    # 1. witness keys that are not the ones cosigning (e.g. a custodian's own witnesses)
    others = [CosignatureSigner.generate(f"witness.test/x{i}").verifier for i in (1, 2)]
    args = [a for w in others for a in ("--witness", f"http://127.0.0.1:9 {w.to_text()}")]
    op_x, _ = operator(ww, tmp_path, args, "op-x")
    out_dir = tmp_path / "out-x"
    out = one_line(op_x.run("release", "--alarm", a["alarm_id"], "--out", out_dir, code=1))
    # t = 2: refused once two of the three receipts are (the third cannot make a quorum)
    assert out.startswith("camvault: error: custodians refused:"), out
    assert out.count("unwitnessed") >= 2, out
    assert out.count("cosigned by 0 of the 2 witnesses required") == out.count("unwitnessed")
    assert not out_dir.exists() or not any(out_dir.rglob("*"))

    # 2. the right keys, every witness stopped: the receipts carry the bare checkpoint
    op, _ = operator(ww, tmp_path, ww.witness_args(), "op-stopped")
    for w in ww.witnesses:
        w.stop()
    try:
        out_dir = tmp_path / "out-stopped"
        out = one_line(op.run("release", "--alarm", a["alarm_id"], "--out", out_dir, code=1))
        assert out.startswith("camvault: error: custodians refused:"), out
        assert out.count("unwitnessed") >= 2, out
        assert out.count("cosigned by 0 of the 2 witnesses required") == out.count("unwitnessed")
        assert not out_dir.exists() or not any(out_dir.rglob("*"))
    finally:
        for w in ww.witnesses:
            w.start()
    # witnesses back: the next round cosigns again and the same operator is served
    out_dir = tmp_path / "out-back"
    out = op.run("release", "--alarm", a["alarm_id"], "--out", out_dir).output
    assert "1 of 1 recording(s) decrypted" in out, out


def _innocuous_entry(op: Operator, url: str) -> None:
    """A request without justification at one custodian: refused, and logged (a refusal that
    names no site and releases nothing: nothing for the customer to look at)."""
    st = OperatorState(op.state)
    body: dict[str, Any] = {"purpose": "alarm-verification", "justification": None, "items": []}
    body["session_key"] = b64encode(SessionKey.generate().public_key())
    with SignedClient(url, f"operator:{st.operator_id}", st.key()) as client:
        resp = CustodianApi.release(client, body)
    assert resp.status_code >= 400 and "log" in resp.json(), resp.text


def _receipt_reports(c: Customer) -> list[dict[str, Any]]:
    return [i.data for i in read_inbox(CustomerState(c.state), kind="release_receipts")]


def test_split_view_reaches_the_customer_through_the_inbox(ww: WWorld, tmp_path: Path) -> None:
    """Custodian c1 forks its log per audience; the operator's release still succeeds with
    c2 and c3 (t = 2), says that c1's receipt was unwitnessed, and posts the checkpoints it
    was shown to the site's inbox; the customer's plain `audit` reports the split view."""
    c = customer(ww, tmp_path)
    trigger = now_ms() - 6_000
    rid = c.camera.record(trigger - 3_000)
    a = c.panel.raise_alarm(triggered_at_ms=trigger)
    op, _ = operator(ww, tmp_path, ww.witness_args(), "op-fork")
    c1 = ww.world.custodians[0]
    assert c.run("audit").output.count("log verified") == 3  # control: clean before

    # c1 keeps a copy of its database: the start of the operator's log A
    c1.stop()
    _snapshot(c1, tmp_path / "fork-a")
    c1.start()
    # the customer's log B grows by an innocuous entry, cosigned, and audited: clean
    _innocuous_entry(op, c1.url)
    size_b = int(c.run("audit").output.split("custodian c1: log verified (size ")[1].split(")")[0])
    note_b = httpx.get(f"{c1.url}/v1/log/cosigned-checkpoint?size={size_b}", timeout=20).text
    assert f"\n{size_b}\n" in note_b
    assert "PROBLEMS" not in c.run("audit").output

    # the operator is shown log A: c1 logs the release at the same index, witnesses refuse it
    c1.stop()
    _snapshot(c1, tmp_path / "log-b")
    _swap_in(c1, tmp_path / "fork-a")
    c1.start()
    out_dir = tmp_path / "released"
    res = op.run("release", "--alarm", a["alarm_id"], "--out", out_dir, "--json")
    assert (out_dir / "cam-front" / f"{rid}.ts").read_bytes() == c.camera.plaintexts[rid]
    # part 3: the custodian whose receipt was refused is named, with its reason
    warning = [ln for ln in res.output.splitlines() if ln.startswith("warning: custodian c1:")]
    assert warning and "unwitnessed" in warning[0], res.output
    data = json.loads(res.output[res.output.index("{") :])
    assert data["decrypted"] == 1 and sorted(data["custodians"]) == ["c2", "c3"]
    assert list(data["custodian_errors"]) == ["c1"]
    assert data["custodian_errors"]["c1"].startswith("unwitnessed (")
    reports = _receipt_reports(c)
    outcomes = sorted((r["custodian_id"], r["outcome"]) for x in reports for r in x["receipts"])
    assert ("c1", "unwitnessed") in outcomes and ("c2", "released") in outcomes

    # the customer is shown log B again: its audit, from the inbox alone, finds the split view
    c1.stop()
    _swap_in(c1, tmp_path / "log-b")
    c1.start()
    audit = c.run("audit", code=1).output
    assert audit.count("log verified") == 2 and "custodian c1: PROBLEMS" in audit, audit
    problems = audit.split("custodian c1: PROBLEMS")[1].split("custodian c2")[0]
    assert "split_view" in problems and "unwitnessed receipt of operator op-fork" in problems
    assert "split_view" not in audit.split("custodian c1: PROBLEMS")[0]


def test_honest_receipts_are_cross_checked_without_findings(ww: WWorld, tmp_path: Path) -> None:
    """Control: an honest release posts every receipt's checkpoint; the audit checks them
    (a different checkpoint of the same history) and finds nothing."""
    c = customer(ww, tmp_path)
    trigger = now_ms() - 6_000
    c.camera.record(trigger - 3_000)
    a = c.panel.raise_alarm(triggered_at_ms=trigger)
    op, _ = operator(ww, tmp_path, ww.witness_args(), "op-honest")
    res = op.run("release", "--alarm", a["alarm_id"], "--out", tmp_path / "out", "--json")
    data = json.loads(res.output[res.output.index("{") :])
    assert data["decrypted"] == 1 and data["custodian_errors"] == {}, res.output
    assert "warning:" not in res.output
    reports = _receipt_reports(c)
    assert len(reports) == 1 and {r["outcome"] for r in reports[0]["receipts"]} == {"released"}
    assert len(reports[0]["receipts"]) == 3  # the late one too
    wait_for_notices(c, 3)
    audit = c.run("audit").output
    assert audit.count("log verified") == 3 and "PROBLEMS" not in audit, audit
