"""The customer CLI says what happened, in one line, and asks before what cannot be undone:
a corrupt state file, an audit with custodians down (the others are still checked), a
deletion asked on a real terminal (pexpect), an alarm as the inbox shows it."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pexpect

from common.time import now_ms
from tests.clients.customer_world import (  # noqa: F401 (the `world` fixture)
    World,
    setup_customer,
    world_fixture,
)
from tests.escrow.harness import CustodianProc

CAMVAULT = str(Path(sys.executable).with_name("camvault"))


@contextmanager
def stopped(*procs: CustodianProc) -> Iterator[None]:
    for p in procs:
        p.stop()
    try:
        yield
    finally:
        for p in procs:
            p.start()


def test_a_corrupt_config_is_one_line(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    config = c.state / "config.json"
    config.write_text(config.read_text()[:40])  # cut short, as by a full disk
    out = c.run("list", code=1).output.strip()
    where = re.escape(str(config))
    assert re.fullmatch(rf"camvault: error: {where} is not valid JSON \(line \d+\): .+", out)
    config.write_text('["not", "an", "object"]')
    assert f"{config} is not a JSON object" in c.run("list", code=1).output


def test_the_audit_goes_on_past_custodians_that_are_down(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    c1, c2, c3 = world.custodians
    with stopped(c1, c2):
        out = c.run("audit", code=1).output
    for down in (c1, c2):
        assert f"custodian {down.cid}: PROBLEMS" in out
        assert f"unreachable at {down.url}" in out and "its log was not checked" in out
    assert f"custodian {c3.cid}: log verified" in out
    assert "Traceback" not in out


def spawn(c_state: Path, *args: str) -> pexpect.spawn[str]:
    env = {**os.environ, "CAMVAULT_CUSTOMER_DIR": str(c_state), "COLUMNS": "200"}
    env["NO_COLOR"] = "1"
    return pexpect.spawn(CAMVAULT, list(args), env=env, encoding="utf-8", timeout=120)


def shown(child: pexpect.spawn[str]) -> str:
    """What the terminal showed last, without rich's highlighting."""
    return re.sub(r"\x1b\[[0-9;]*m", "", str(child.before))


def test_delete_asks_on_a_terminal(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    rid = c.camera.record(now_ms() - 60_000)
    args = ("customer", "delete", "--camera", "cam-front", "--recording", rid)

    no = spawn(c.state, *args)
    no.expect(f"Delete recording {rid} of camera cam-front\\? This cannot be undone")
    no.sendline("n")
    no.expect(pexpect.EOF)
    no.close()
    assert no.exitstatus == 1 and "camvault: error: aborted" in shown(no)
    assert rid in c.run("list").output  # nothing was deleted

    yes = spawn(c.state, *args)
    yes.expect("This cannot be undone")
    yes.sendline("y")
    yes.expect(pexpect.EOF)
    yes.close()
    assert yes.exitstatus == 0 and "1 recording(s) deleted" in shown(yes)
    assert rid not in c.run("list").output


def test_delete_with_yes_does_not_ask(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    rid = c.camera.record(now_ms() - 60_000)
    child = spawn(c.state, "customer", "delete", "--camera", "cam-front", "--recording", rid, "-y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and "cannot be undone" not in shown(child)
    assert "1 recording(s) deleted" in shown(child)


def test_the_inbox_says_what_alarm(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    alarm = c.panel.raise_alarm()
    out = c.run("inbox", "--kind", "alarm").output
    assert f"intrusion alarm {alarm['alarm_id']} from panel panel-1" in out.replace("\n", " ")


def test_every_list_command_has_json(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    alarm = c.panel.raise_alarm()
    rid = c.camera.record(now_ms() - 60_000)
    assert [i["recording_id"] for i in json.loads(c.run("list", "--json").output)] == [rid]
    inbox = json.loads(c.run("inbox", "--json").output)
    assert any(i["kind"] == "alarm" and i["data"]["alarm_id"] == alarm["alarm_id"] for i in inbox)
    alarms = json.loads(c.run("alarm", "list", "--json").output)
    assert [a["alarm_id"] for a in alarms] == [alarm["alarm_id"]]
    assert json.loads(c.run("consent", "requests", "--json").output) == []
    assert json.loads(c.run("consent", "list", "--json").output) == []


def test_an_impossible_camera_profile_is_one_line(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    out = c.run("enroll-camera", "cam-x", "--device-key", "ed25519:x", "--stills-only", code=1)
    assert (
        out.output.strip() == "camvault: error: camera_profile: stills_only excludes live_allowed"
    )
