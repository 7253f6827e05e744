"""The whole chain with the real programs: `camvault camera run` (ffmpeg test pattern) and
`camvault panel trigger` feed the site; the customer lists, decrypts to a playable file and
verifies the chain; the operator releases the alarm window and gets playable video too."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from clients.customer.state import CustomerState
from demo.stage import frames
from tests.clients.customer_world import (
    World,
    cli,
    setup_operator,
    world_fixture,  # noqa: F401 (the `world` fixture)
)
from tests.storage.support import CAMVAULT


def _camvault(*args: str | Path, timeout: float = 120) -> str:
    proc = subprocess.run(
        [str(CAMVAULT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_real_camera_and_panel_to_customer_and_operator(world: World, tmp_path: Path) -> None:
    state = tmp_path / "customer"
    env = {"CAMVAULT_CUSTOMER_DIR": str(state)}
    cli("customer", "init", env=env)
    args = ["site", "create", "--label", "home-e2e", "--storage", world.storage.url]
    for u in world.custodian_urls:
        args += ["--custodian", u]
    cli("customer", *args, env=env)
    site_id = CustomerState(state).site()[1]  # home-e2e-<tag of the site key>
    cam_key = _camvault("camera", "keygen", "-o", tmp_path / "cam.key").strip()
    panel_key = _camvault("panel", "keygen", "-o", tmp_path / "panel.key").strip()
    cli(
        "customer",
        "enroll-camera",
        "cam-1",
        "--device-key",
        cam_key,
        "--pre-alarm",
        "60",
        env=env,
    )
    cli("customer", "enroll-panel", "panel-1", "--device-key", panel_key, env=env)

    shown = _camvault(
        "camera",
        "run",
        "--url",
        world.storage.url,
        "--site",
        site_id,
        "--camera",
        "cam-1",
        "--key",
        tmp_path / "cam.key",
        "--state-dir",
        tmp_path / "cam-state",
        "--source",
        "testsrc",
        "--duration",
        "6",
        "--fast",
        "--detector",
        "none",
        "--exit-when-done",
        timeout=180,
    )
    listed = cli("customer", "list", env=env).output
    assert "segment" in listed and "cam-1" in listed
    dl = tmp_path / "dl"
    cli("customer", "download", "--out", dl, "--join", env=env)
    parts = sorted((dl / "cam-1").glob("*.ts"))
    assert len(parts) >= 3  # 6 s of 2-second segments
    # `camera run` said each recording the service acknowledged, one line each
    committed = [line for line in shown.splitlines() if " committed #" in line]
    assert len(committed) == len(parts), shown
    assert all(f" {p.stem} segment " in "\n".join(committed) for p in parts), shown
    # the joined file decodes as one stream: every segment's frames are in it
    assert frames(dl / "cam-1.ts") == sum(frames(p) for p in parts) > 0
    assert "intact" in cli("customer", "verify", "--deep", env=env).output

    _camvault(
        "panel",
        "trigger",
        "--url",
        world.storage.url,
        "--site",
        site_id,
        "--panel",
        "panel-1",
        "--key",
        tmp_path / "panel.key",
        "--state",
        tmp_path / "panel-state.json",
    )
    op = setup_operator(world, tmp_path)
    queue = op.run("alarms").output
    alarm_id = next(line.split()[1] for line in queue.splitlines() if site_id in line)
    out = op.run("release", "--alarm", alarm_id, "--out", tmp_path / "arc").output
    assert "pre-alarm cam-1/" in out
    segments = sorted((tmp_path / "arc" / "cam-1").glob("*.ts"))
    assert segments and all(frames(s) > 0 for s in segments)
