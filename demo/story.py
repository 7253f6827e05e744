"""`make demo`: the whole camvault story with the real programs, step by step.

Everything runs on embedded defaults (SQLite, local blob directory) in a temporary
directory, as real processes on free local ports: the storage service, three key custodians
(threshold 2) delivering their access notices to the storage inbox, a camera agent on an
ffmpeg test pattern and an alarm panel. The customer, the ARC operator and the technician
use the `camvault` CLI exactly as docs/USAGE.md shows; each command is printed with its
output. Every step checks what it claims (exit status, refusal reason, decrypted bytes,
playable video) and the demo exits non-zero as soon as one does not behave as described.

Short settings keep it under two minutes: the storage service's alarm access period is
ACCESS_PERIOD_S seconds (the custodians' own period is 60 s, their minimum), consents are
approved for 60 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from clients.camera.config import CameraConfig
from clients.video import decode_errors, duration_s
from common.time import now_ms
from demo.stage import (
    ACCESS_PERIOD_S,
    CAMERA,
    CONSENT_VALID_S,
    OPERATOR,
    PANEL,
    SITE,
    TECHNICIAN,
    Story,
    StoryError,
    check,
    console,
    frames,
    ok,
    require_tool,
    segment_rows,
    show_output,
    wait_for,
)

STEPS = (
    "1. Site setup",
    "2. Camera uploads",
    "3. Customer lists and decrypts",
    "4. Operator without an alarm",
    "5. Panel raises an alarm",
    "6. Operator sees pre-alarm and live video",
    "7. Access period closes",
    "8. Technician and consent",
    "9. Customer audits the logs",
    "10. Export opens with the standard age tool",
    "11. The videos play",
)
FINISHED = "story finished: every step behaved as described"
SEGMENT_S = CameraConfig.segment_s  # the camera agent's default, what the story's camera uses
# During an alarm the camera cuts live fragments of this length (each its own recording)
LIVE_S = CameraConfig.fragment_s or SEGMENT_S


def step(index: int, detail: str) -> None:
    console.print()
    console.rule(f"[bold cyan]{STEPS[index - 1]}[/bold cyan]", align="left")
    console.print(f"  [italic]{detail}[/italic]")


def tell(s: Story) -> None:
    age_exe = require_tool("age", "run `bash scripts/install-tools.sh age`")
    require_tool("ffmpeg", "run `bash scripts/install-tools.sh camera`")
    require_tool("ffprobe", "run `bash scripts/install-tools.sh camera`")
    w = s.workdir

    # 1 ------------------------------------------------------------------------------------
    step(1, "storage service, three custodians (t = 2), customer keys, site, devices, ARC staff")
    s.start_services()
    ok(f"storage service at {s.storage_url} (SQLite + local blob directory)")
    for i, url in enumerate(s.custodian_urls, 1):
        ok(f"custodian c{i} at {url} (its own keys, log and SQLite)")
    s.cli("customer", "customer", "init")
    create = ["customer", "site", "create", "--label", SITE, "--storage", s.storage_url]
    for url in s.custodian_urls:
        create += ["--custodian", url]
    out = s.cli("customer", *create, "--threshold", "2")
    cam_key = s.cli("camera", "camera", "keygen", "-o", "cam-1.key").strip()
    panel_key = s.cli("panel", "panel", "keygen", "-o", "panel.key").strip()
    s.cli(
        "customer",
        *["customer", "enroll-camera", CAMERA, "--device-key", cam_key, "--model", "garden-cam"],
        *["--pre-alarm", "6", "--post-alarm", "30"],
    )
    s.cli("customer", "customer", "enroll-panel", PANEL, "--device-key", panel_key)
    (w / "arc.key").write_text(s.arc.to_text() + "\n")
    (w / "arc.key").chmod(0o600)
    for who, role in ((OPERATOR, "operator"), (TECHNICIAN, "technician")):
        init = ["operator", "init", "--id", who, "--role", role, "--storage", s.storage_url]
        for url in s.custodian_urls:
            init += ["--custodian", url]
        s.cli(who, *init)
        out = s.cli(who, "operator", "register", "--arc-key", "arc.key")
        check(out.count("registered at") == 4, f"{who} registered with storage + 3 custodians", out)

    # 2 ------------------------------------------------------------------------------------
    step(2, "the camera agent cuts an ffmpeg test pattern into 2-second segments")
    cam_start = now_ms()
    cam_args = ["camera", "run", "--url", s.storage_url, "--site", s.site, "--camera", CAMERA]
    cam_args += ["--key", "cam-1.key", "--state-dir", "cam-1-state", "--source", "testsrc"]
    cam_args += ["--detector", "none"]
    console.print(f"  [bold]camera[/bold] $ camvault {' '.join(cam_args)} &", soft_wrap=True)
    s.camera = s.spawn("camera", cam_args, {})

    def uploaded(n: int) -> Callable[[], bool]:
        def cond() -> bool:
            if s.camera is not None and s.camera.poll() is not None:
                raise StoryError(f"the camera agent exited with code {s.camera.returncode}")
            return len(segment_rows(s.cli("customer", "customer", "list", quiet=True))) >= n

        return cond

    wait_for("3 uploaded segments", uploaded(3), 60)
    ok("segments sealed to the customer + 3 custodian stanzas, signed manifest chain, uploaded")

    # 3 ------------------------------------------------------------------------------------
    step(3, "the customer lists, decrypts locally, and verifies the camera's chain")
    out = s.cli("customer", "customer", "list")
    check(len(segment_rows(out)) >= 3, "the timeline lists the camera's segments", out)
    out = s.cli("customer", "customer", "download", "--out", "clips", "--mp4")
    parts = sorted((w / "clips" / CAMERA).glob("*.ts"))
    export = w / "clips" / f"{CAMERA}.mp4"
    check(
        len(parts) >= 3 and plays(export, len(parts) * SEGMENT_S),
        f"{len(parts)} segments decrypted; clips/{CAMERA}.mp4 plays {duration_s(export):.1f} s "
        f"(recorded: {len(parts) * SEGMENT_S:.0f} s), sound included, no decode error",
        out,
    )
    out = s.cli("customer", "customer", "verify")
    check("intact" in out, "manifest chain intact (signatures, hashes, no gaps)", out)

    # 4 ------------------------------------------------------------------------------------
    step(4, "the ARC operator tries to read the site with no alarm")
    out = s.cli(OPERATOR, "operator", "release", "--site", s.site, "--out", "nope", code=1)
    check("no_justification" in out, "refused: no_justification (no open alarm, no consent)", out)
    check(not (w / "nope").exists(), "nothing written", out)

    # 5 ------------------------------------------------------------------------------------
    step(5, "the alarm panel signs an AlarmEvent and posts it")
    trigger_ms = now_ms()
    out = s.cli(
        "panel",
        *["panel", "trigger", "--url", s.storage_url, "--site", s.site, "--panel", PANEL],
        *["--key", "panel.key", "--state", "panel-state.json"],
    )
    alarm_id = str(json.loads(out.strip().splitlines()[-1])["alarm_id"])
    out = s.cli(OPERATOR, "operator", "alarms")
    check(alarm_id in out and s.site in out, f"alarm {alarm_id} is in the ARC queue", out)

    # 6 ------------------------------------------------------------------------------------
    step(6, "pre-alarm recordings first, then the live feed while the access period is open")
    live_args = ["operator", "live", alarm_id, "--out", "arc-live"]
    # Follow the feed until shortly before the access period ends: a segment the feed
    # announces just before the end would be refused mid-release (exit status 1).
    follow_s = (trigger_ms + ACCESS_PERIOD_S * 1000 - now_ms()) / 1000 - 4
    if follow_s < 5:
        raise StoryError(f"too slow: only {follow_s:.1f} s of the access period left")
    live_args += ["--timeout", f"{follow_s:.0f}"]
    console.print(f"  [bold]{OPERATOR}[/bold] $ camvault {' '.join(live_args)} &", soft_wrap=True)
    live_env = {
        **os.environ,
        "COLUMNS": "200",
        "NO_COLOR": "1",
        "CAMVAULT_OPERATOR_DIR": str(w / OPERATOR),
    }
    live = subprocess.Popen(
        [s.exe, *live_args],
        cwd=w,
        env=live_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        s.cli(OPERATOR, "operator", "ack", alarm_id)
        out = s.cli(OPERATOR, "operator", "release", "--alarm", alarm_id, "--out", "arc")
        pre = [line for line in out.splitlines() if line.strip().startswith("pre-alarm")]
        played = [frames(p) for p in sorted((w / "arc" / CAMERA).glob("*.ts"))]
        check(
            bool(pre) and bool(played) and all(n > 0 for n in played),
            f"{len(pre)} pre-alarm segment(s) released by 2 of 3 custodians, decrypted, playable",
            out,
        )
        console.print(f"  [dim](the live view follows the feed for {follow_s:.0f} s)[/dim]")
        live_out, _ = live.communicate(timeout=ACCESS_PERIOD_S + 60)
    finally:
        if live.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(live.pid, signal.SIGKILL)
            live.wait(5)
    show_output(live_out)
    if live.returncode != 0:
        raise StoryError(f"operator live exited {live.returncode}:\n{live_out}")
    live_lines = [line for line in live_out.splitlines() if "(live, " in line]
    fresh = [line for line in live_lines if "(live, live)" in line]
    live_file = w / "arc-live" / f"{CAMERA}-live.ts"
    latency = fresh[-1].rsplit("latency", 1)[1].strip() if fresh else "-"
    check(
        bool(live_lines) and plays(live_file, len(live_lines) * LIVE_S),
        f"{len(live_lines)} live-mode segment(s) decrypted from the feed ({len(fresh)} arrived "
        f"while following, last latency {latency}); arc-live/{CAMERA}-live.ts plays "
        f"{duration_s(live_file):.1f} s as one stream",
        live_out,
    )

    # 7 ------------------------------------------------------------------------------------
    step(7, f"the storage service's access period ({ACCESS_PERIOD_S} s from the trigger) ends")
    wait_for(
        "the end of the access period",
        lambda: now_ms() > trigger_ms + ACCESS_PERIOD_S * 1000 + 500,
        ACCESS_PERIOD_S + 5,
    )
    out = s.cli(OPERATOR, "operator", "alarms")
    row = next((line for line in out.splitlines() if alarm_id in line), "")
    check(row.rstrip(" │|").endswith("no"), "the ARC queue shows the access closed", out)
    out = s.cli(OPERATOR, "operator", "release", "--alarm", alarm_id, "--out", "late", code=1)
    check("no_justification" in out, "the operator is refused again: no_justification", out)
    s.stop(s.camera)
    ok("camera agent stopped (SIGTERM: finishes its upload queue)")

    # 8 ------------------------------------------------------------------------------------
    step(8, "a technician asks for consent; the customer approves, then revokes")
    out = s.cli(
        TECHNICIAN,
        *["operator", "consent", "request", "--site", s.site, "--camera", CAMERA],
        *["--from", str(cam_start - 5_000), "--to", str(trigger_ms - 1)],
        *["--duration", str(CONSENT_VALID_S), "--reason", "camera 1 loses focus at night"],
    )
    request_id = out.split()[2].rstrip(":")
    check("pending" in out, f"consent request {request_id} pending", out)
    out = s.cli(TECHNICIAN, "operator", "release", "--site", s.site, "--out", "nope", code=1)
    check("no_justification" in out, "before the customer answers: no_justification", out)
    out = s.cli("customer", "customer", "consent", "requests", "--pending")
    check(request_id in out, "the customer sees the request and its reason", out)
    out = s.cli(
        "customer",
        "customer",
        "consent",
        "approve",
        request_id,
        "--valid-for",
        str(CONSENT_VALID_S),
    )
    consent_id = out.split()[1]
    check(TECHNICIAN in out, f"consent {consent_id} signed for {TECHNICIAN}", out)
    out = s.cli(TECHNICIAN, "operator", "release", "--consent", consent_id, "--out", "maint")
    done = sorted((w / "maint" / CAMERA).glob("*.ts"))
    check(
        bool(done) and all(frames(p) > 0 for p in done),
        f"with the consent: {len(done)} recording(s) of the consented range decrypted",
        out,
    )
    out = s.cli("customer", "customer", "consent", "revoke", consent_id)
    check(out.count("custodian c") == 3, "revocation sent to storage and all 3 custodians", out)
    out = s.cli(
        TECHNICIAN, "operator", "release", "--consent", consent_id, "--out", "revoked", code=1
    )
    check("no_justification" in out, "after the revocation: refused (no_justification)", out)

    # 9 ------------------------------------------------------------------------------------
    step(9, "every custodian log verified; every access listed with who, when and why")
    time.sleep(1.0)  # notices are delivered every 0.2 s
    out = s.cli("customer", "customer", "audit")
    check(out.count("log verified") == 3, "3 custodian logs verified (checkpoints, proofs)", out)
    check(
        OPERATOR in out and "alarm-verification" in out and f"of {PANEL}" in out,
        f"the ARC operator's alarm accesses are listed ({OPERATOR}, alarm-verification)",
        out,
    )
    check(
        TECHNICIAN in out and "maintenance" in out and f"consent {consent_id}" in out,
        f"the technician's consented accesses are listed ({TECHNICIAN}, maintenance)",
        out,
    )
    rows = [line for line in out.splitlines() if "│ released" in line or "│ refused" in line]
    by_op = sum(f"│ {OPERATOR} " in line for line in rows)
    by_tech = sum(f"│ {TECHNICIAN} " in line for line in rows)
    check(
        by_op > 0 and by_tech > 0 and by_op + by_tech == len(rows),
        f"{len(rows)} logged accesses over the 3 logs: {by_op} by {OPERATOR} under the alarm, "
        f"{by_tech} by {TECHNICIAN} under the consent, none by anyone else",
        out,
    )

    # 10 -----------------------------------------------------------------------------------
    step(10, "exported recordings are standard age files")
    rid = parts[0].stem
    out = s.cli(
        "customer",
        *["customer", "export", "--out", "export", "--camera", CAMERA, "--recording", rid],
    )
    exported = w / "export" / CAMERA / f"{rid}.age"
    check(exported.exists(), f"export/{CAMERA}/{rid}.age written", out)
    identity = w / "customer" / "identity.txt"
    console.print(
        f"  [bold]customer[/bold] $ age -d -i customer/identity.txt -o {rid}.ts "
        f"export/{CAMERA}/{rid}.age",
        soft_wrap=True,
    )
    proc = subprocess.run(
        [age_exe, "-d", "-i", str(identity), "-o", str(w / f"{rid}.ts"), str(exported)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise StoryError(f"age -d failed: {proc.stderr}")
    same = (w / f"{rid}.ts").read_bytes() == parts[0].read_bytes()
    n = frames(w / f"{rid}.ts")
    check(same and n > 0, f"age decrypts it: same bytes as the download, {n} video frames")

    # 11 -----------------------------------------------------------------------------------
    step(11, "what the customer and the operator play (ffprobe duration, a full ffmpeg decode)")
    for what, path, recorded in (
        ("the customer's export", export, len(parts) * SEGMENT_S),
        ("the operator's live file", live_file, len(live_lines) * LIVE_S),
    ):
        check(
            plays(path, recorded),
            f"{what} {path.relative_to(w)}: {duration_s(path):.1f} s for {recorded:.0f} s "
            "recorded, no decode error",
        )


def plays(path: Path, recorded_s: float) -> bool:
    """A player's view: ffprobe's duration within one segment of the recorded time, and
    ffmpeg decodes the whole file without an error."""
    if not path.is_file():
        return False
    return abs(duration_s(path) - recorded_s) <= SEGMENT_S and decode_errors(path) == ""


@contextlib.contextmanager
def story_dir() -> Iterator[Path]:
    """The run's directory: a new temporary one, removed at the end unless
    CAMVAULT_STORY_KEEP is set; or CAMVAULT_STORY_DIR (created, must be empty), always kept
    (tests inspect what each process wrote there; its stage.json says which is which)."""
    chosen = os.environ.get("CAMVAULT_STORY_DIR")
    if chosen:
        path = Path(chosen)
        path.mkdir(parents=True, exist_ok=True)
        if any(path.iterdir()):
            raise SystemExit(f"CAMVAULT_STORY_DIR {path} is not empty")
        yield path
        return
    keep = os.environ.get("CAMVAULT_STORY_KEEP")
    path = Path(tempfile.mkdtemp(prefix="camvault-story-"))
    try:
        yield path
    finally:
        if keep:
            console.print(f"[dim]kept {path}[/dim]")
        else:
            shutil.rmtree(path, ignore_errors=True)


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: processes, temp dir


def parse_args(argv: list[str] | None) -> None:
    """`--help` says what the story does and which settings it reads; it takes no options."""
    argparse.ArgumentParser(
        prog="python -m demo.story",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=(
            "Environment: CAMVAULT_STORY_KEEP=1 keeps the run's temporary directory; "
            "CAMVAULT_STORY_DIR=DIR runs in DIR (created, must be empty) and keeps it."
        ),
    ).parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    parse_args(argv or [])
    signal.signal(signal.SIGTERM, _terminated)
    started = time.monotonic()
    console.rule("[bold]camvault: the whole story, with the real programs[/bold]")
    with story_dir() as workdir:
        story: Story | None = None
        try:
            story = Story(workdir)
            tell(story)
        except StoryError as exc:
            console.print("\n[bold red]story FAILED:[/bold red]")
            console.print(str(exc), markup=False)
            if story is not None:
                story.log_tails()
            return 1
        except KeyboardInterrupt:
            console.print("\n[bold red]interrupted[/bold red]")
            return 130
        finally:
            if story is not None:
                story.stop_all()
    console.print()
    console.rule(f"[bold green]{FINISHED}[/bold green] ({time.monotonic() - started:.0f} s)")
    return 0


__all__ = [  # what bench/live.py builds its live-latency run on
    "CAMERA",
    "FINISHED",
    "OPERATOR",
    "PANEL",
    "SITE",
    "STEPS",
    "Story",
    "StoryError",
    "main",
    "now_ms",
    "require_tool",
    "segment_rows",
]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
