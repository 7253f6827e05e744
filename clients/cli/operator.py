"""`camvault operator ...`: the ARC operator console and the technician's commands. Thin:
parse options, call clients.operator.console (the live view: clients.operator.live), render
with rich. Refusals (storage service or custodians) are printed with their reason codes and
exit status 1."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from clients.api.storage import ConsentRequest
from clients.cli.helpers import (
    JsonOpt,
    cell,
    err_console,
    fail,
    fmt_time,
    guarded,
    new_table,
    parse_time,
    print_acks,
    print_json,
)
from clients.operator import console as lib
from clients.operator import live as live_view
from clients.operator.ends import close_alarm
from clients.operator.state import OperatorState, default_state_dir
from crypto.ed25519 import Ed25519SigningKey
from crypto.statements import OperatorRole

console = Console()

app = typer.Typer(
    name="operator",
    help="The alarm-receiving centre: alarm queue, releases, live view, consents, telemetry.",
    no_args_is_help=True,
)
consent_app = typer.Typer(help="Technicians: ask a customer for a consent.", no_args_is_help=True)
app.add_typer(consent_app, name="consent")

StateOpt = Annotated[
    Path | None,
    typer.Option(
        "--state",
        envvar="CAMVAULT_OPERATOR_DIR",
        help="state directory (default ~/.camvault/operator)",
    ),
]


def load(state: Path | None) -> OperatorState:
    return OperatorState(state or default_state_dir())


def _print_item(r: lib.Released) -> None:
    tag = "pre-alarm " if r.pre_alarm else ""
    if r.path is not None:
        console.print(f"  {tag}{r.camera_id}/{r.recording_id} ({r.kind}) -> {r.path}")
    else:
        console.print(f"  {tag}{r.camera_id}/{r.recording_id} ({r.kind}) refused: {r.refused}")


@app.command()
def init(
    operator_id: Annotated[str, typer.Option("--id", help="operator id")],
    storage: Annotated[str, typer.Option(help="storage service URL")],
    custodian: Annotated[list[str], typer.Option(help="custodian URL (repeat)")],
    role: Annotated[OperatorRole, typer.Option(help="operator or technician")] = (
        OperatorRole.OPERATOR
    ),
    witness: Annotated[
        list[str] | None,
        typer.Option(
            help="a witness of the custodians' logs: '<url> <witness verifier key>' (repeat; "
            "the key from the witness's operator, never from a custodian)"
        ),
    ] = None,
    witness_quorum: Annotated[
        int | None,
        typer.Option(min=1, help="witnesses that must cosign a receipt (default: all)"),
    ] = None,
    state: StateOpt = None,
) -> None:
    """Create the operator's signing key, pin the custodians' public keys and the witnesses."""
    with guarded():
        policy, urls = lib.witness_policy(witness or [], witness_quorum)
        st = lib.init_operator(
            state or default_state_dir(), operator_id, role, storage, custodian, policy, urls
        )
    console.print(f"operator {operator_id} ({role.value}): {st.key().public_key.to_text()}")
    if policy is None:
        console.print(
            "no witnesses configured: receipts are checked against each custodian's log key "
            "only (a custodian's split view is not caught here; see docs/THREAT_MODEL.md)",
            markup=False,
            highlight=False,
        )
    else:
        console.print(
            f"witnesses: {policy.quorum} of {len(policy.witnesses)} must cosign every receipt "
            f"({', '.join(w.name for w in policy.witnesses)})",
            markup=False,
            highlight=False,
        )


@app.command()
def register(
    arc_key: Annotated[Path, typer.Option(help="file holding the ARC's ed25519-secret key")],
    state: StateOpt = None,
) -> None:
    """(ARC administrator) sign the OperatorRegistration; register at storage and custodians."""
    with guarded():
        out = lib.register(load(state), Ed25519SigningKey.from_text(arc_key.read_text().strip()))
    for where, status in out.items():
        console.print(f"registered at {where}: {status}")


@app.command()
def alarms(
    all_states: Annotated[bool, typer.Option("--all", help="closed/cancelled too")] = False,
    as_json: JsonOpt = False,
    state: StateOpt = None,
) -> None:
    """The alarm queue (open and acknowledged alarms, newest first)."""
    states = (
        ("open", "acknowledged", "closed", "cancelled") if all_states else ("open", "acknowledged")
    )
    with guarded():
        items = lib.alarm_queue(load(state), states)
    if as_json:
        print_json(items)
        return
    table = new_table(
        f"{len(items)} alarm(s)",
        *("alarm", "site", "state", "type", "triggered", "access until", "open"),
        ids=("alarm", "site"),
    )
    for a in items:
        table.add_row(
            a["alarm_id"],
            a["site_id"],
            a["state"],
            a["event"]["body"]["alarm_type"],
            fmt_time(a["triggered_at_ms"]),
            fmt_time(a["access_until_ms"]),
            "yes" if a["access_open"] else "no",
        )
    console.print(table)


@app.command()
def ack(alarm_id: Annotated[str, typer.Argument()], state: StateOpt = None) -> None:
    """Acknowledge an alarm."""
    with guarded():
        a = lib.transition(load(state), alarm_id, "ack")
    console.print(f"alarm {alarm_id}: {a['state']}")


@app.command()
def close(alarm_id: Annotated[str, typer.Argument()], state: StateOpt = None) -> None:
    """Close an acknowledged alarm, at the storage service and at every custodian."""
    with guarded():
        closed = close_alarm(load(state), alarm_id)
    console.print(f"alarm {alarm_id}: {closed.alarm['state']}")
    print_acks(console, closed.custodians, "closed")


@app.command()
def release(
    out: Annotated[Path, typer.Option(help="output directory for decrypted files")],
    alarm: Annotated[str | None, typer.Option(help="alarm id (ARC operators)")] = None,
    consent: Annotated[str | None, typer.Option(help="consent id (technicians)")] = None,
    site: Annotated[str | None, typer.Option(help="site, without justification")] = None,
    as_json: JsonOpt = False,
    state: StateOpt = None,
) -> None:
    """Request releases from t custodians and decrypt (alarm window: pre-alarm first)."""
    if sum(x is not None for x in (alarm, consent, site)) != 1:
        fail("give exactly one of --alarm, --consent or --site")
    show = None if as_json else _print_item
    with guarded():
        st = load(state)
        if alarm is not None:
            res = lib.release_alarm(st, alarm, out, on_item=show)
        elif consent is not None:
            res = lib.release_consent(st, consent, out, on_item=show)
        else:
            assert site is not None
            lib.release_unjustified(st, site)
            fail("the storage service listed recordings without a justification")
    # a custodian whose shares were not used says why (refused, unwitnessed, unreachable)
    for cid, reason in sorted(res.custodian_errors.items()):
        err_console.print(
            f"warning: custodian {cid}: {reason}", markup=False, highlight=False, soft_wrap=True
        )
    for warning in res.warnings:
        err_console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    if as_json:
        print_json(
            {
                "decrypted": len(res.decrypted),
                "recordings": len(res.items),
                "custodians": res.custodians,
                "custodian_errors": res.custodian_errors,
                "warnings": res.warnings,
                "items": [
                    {
                        "camera_id": r.camera_id,
                        "recording_id": r.recording_id,
                        "kind": r.kind,
                        "path": None if r.path is None else str(r.path),
                        "refused": r.refused,
                    }
                    for r in res.items
                ],
            }
        )
    else:
        console.print(
            f"{len(res.decrypted)} of {len(res.items)} recording(s) decrypted into {out} "
            f"(custodians {', '.join(res.custodians) or '-'})"
        )
    if len(res.decrypted) < len(res.items):
        raise typer.Exit(1)


@app.command()
def live(
    alarm_id: Annotated[str, typer.Argument()],
    out: Annotated[Path, typer.Option(help="output directory (growing <camera>-live.ts)")],
    max_segments: Annotated[int | None, typer.Option(help="stop after N segments")] = None,
    timeout: Annotated[float, typer.Option(help="stop after this many seconds")] = 1800.0,
    play: Annotated[bool, typer.Option(help="also play through ffplay (if installed)")] = False,
    state: StateOpt = None,
) -> None:
    """Follow the alarm's live feed; release, decrypt and append each segment as it arrives."""
    player: subprocess.Popen[bytes] | None = None
    if play:
        ffplay = shutil.which("ffplay")
        if ffplay is None:
            err_console.print("ffplay not found: writing the growing file only")
        else:
            player = subprocess.Popen(
                [ffplay, "-loglevel", "error", "-autoexit", "-i", "-"], stdin=subprocess.PIPE
            )

    played: dict[str, int] = {}  # bytes of each camera's live file given to the player

    def show(seg: live_view.LiveSegment) -> None:
        r = seg.released
        what = "backlog" if seg.backlog else "live"
        if r.path is None:
            console.print(f"{r.camera_id}/{r.recording_id} ({r.kind}) refused: {r.refused}")
        else:
            console.print(
                f"{r.camera_id}/{r.recording_id} ({r.kind}, {what}) decrypted, "
                f"latency {seg.latency_ms} ms"
            )
            if r.unplayable:
                err_console.print(f"{r.camera_id}/{r.recording_id}: {r.unplayable}")
            if player is not None and player.stdin is not None and r.path.suffix == ".ts":
                # the player follows the camera's growing live file (one clock for the whole
                # feed; the decrypted segment alone restarts at zero)
                grown = out / f"{r.camera_id}-live.ts"
                with grown.open("rb") as fh, contextlib.suppress(BrokenPipeError):
                    fh.seek(played.get(r.camera_id, 0))
                    player.stdin.write(fh.read())
                    player.stdin.flush()
                    played[r.camera_id] = fh.tell()

    skipped = 0

    def skip(item: dict[str, Any]) -> None:
        nonlocal skipped
        skipped += 1
        console.print(
            f"pre-alarm {item['camera_id']}/{item['recording_id']} ({item['kind']}, "
            f"{fmt_time(item['start_ms'])} - {fmt_time(item['end_ms'])}): for `operator "
            "release --alarm`, not released again here",
            style="dim",
            markup=False,
            highlight=False,
        )

    try:
        with guarded():
            res = live_view.live(
                load(state),
                alarm_id,
                out,
                on_segment=show,
                on_skip=skip,
                max_segments=max_segments,
                timeout_s=timeout,
            )
        console.print(f"feed ended ({res.ended}): {len(res.segments)} segment(s)")
    finally:
        # also on Ctrl-C (the usual way to stop following) or an error
        if player is not None and player.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                player.stdin.close()
            player.wait()
        if skipped:
            console.print(
                f"{skipped} pre-alarm recording(s) not released here: "
                f"`camvault operator release --alarm {alarm_id} --out DIR` "
                "releases them in one batch",
                markup=False,
                highlight=False,
            )


@consent_app.command("request")
def consent_request(
    site: Annotated[str, typer.Option(help="site id")],
    camera: Annotated[list[str], typer.Option(help="camera (repeat)")],
    from_: Annotated[str, typer.Option("--from", help="recordings from (ms or ISO 8601)")],
    to: Annotated[str, typer.Option(help="recordings to (ms or ISO 8601)")],
    reason: Annotated[str, typer.Option(help="why (shown to the customer)")],
    scope: Annotated[list[str], typer.Option(help="recordings, live, stills")] = ["recordings"],  # noqa: B006
    duration: Annotated[int, typer.Option(help="seconds of access asked")] = 3600,
    state: StateOpt = None,
) -> None:
    """Ask the customer for a maintenance consent."""
    with guarded():
        request = ConsentRequest(
            cameras=camera,
            scope=scope,
            from_ms=parse_time(from_) or 0,
            to_ms=parse_time(to) or 0,
            duration_s=duration,
            reason=reason,
        )
        r = lib.request_consent(load(state), site, request)
    console.print(f"consent request {r['request_id']}: {r['state']}")


@consent_app.command("list")
def consent_list(as_json: JsonOpt = False, state: StateOpt = None) -> None:
    """My consent requests and the consents granted to me."""
    with guarded():
        st = load(state)
        reqs, consents = lib.my_requests(st), lib.my_consents(st)
    if as_json:
        print_json({"requests": reqs, "consents": consents})
        return
    table = new_table(
        "consent requests",
        *("request", "site", "state", "consent", "refusal"),
        ids=("request", "site", "consent"),
    )
    for r in reqs:
        table.add_row(
            r["request_id"],
            r["site_id"],
            r["state"],
            r["consent_id"] or "-",
            r["refusal_reason"] or "-",
        )
    console.print(table)
    table = new_table(
        "consents granted", "consent", "site", "until", "revoked", ids=("consent", "site")
    )
    for c in consents:
        table.add_row(
            c["consent_id"],
            c["site_id"],
            fmt_time(c["not_after_ms"]),
            "yes" if c["revoked"] else "no",
        )
    console.print(table)


@app.command()
def telemetry(
    site: Annotated[str, typer.Option(help="site id")],
    device: Annotated[str | None, typer.Option(help="one device")] = None,
    limit: Annotated[int, typer.Option(min=1, help="rows")] = 50,
    as_json: JsonOpt = False,
    state: StateOpt = None,
) -> None:
    """Devices' technical telemetry (battery, signal, firmware, storage health)."""
    with guarded():
        items = lib.telemetry(load(state), site, device, limit)
    if as_json:
        print_json(items)
        return
    cols = ("device", "reported", "battery %", "signal dBm", "firmware", "storage", "temp °C")
    table = new_table(f"telemetry of {site}", *cols, ids=("device",))
    for t in items:
        table.add_row(
            t["device_id"],
            fmt_time(t["reported_ms"]),
            cell(t["battery_pct"]),
            cell(t["signal_dbm"]),
            cell(t["firmware"]),
            cell(t["storage_health"]),
            cell(t["temperature_c"]),
        )
    console.print(table)


__all__ = ["app", "err_console"]
