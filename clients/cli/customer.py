"""`camvault customer ...`: the customer's commands (keys, site setup, recordings, consents,
inbox, audit). Thin: parse options, call clients.customer, render with rich. Expected
failures (a service refusal with its reason code, a missing state) print one line and exit 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from clients.audit import site as audit_lib
from clients.cli.helpers import (
    JsonOpt,
    err_console,
    fail,
    fmt_time,
    guarded,
    new_table,
    parse_time,
    print_acks,
    print_json,
)
from clients.common import write_json
from clients.customer import chain as chain_lib
from clients.customer import consents as consents_lib
from clients.customer import devices as devices_lib
from clients.customer import inbox as inbox_lib
from clients.customer import recordings as rec_lib
from clients.customer import site as site_lib
from clients.customer.outbox import Outbox
from clients.customer.state import CustomerState, default_state_dir
from clients.operator.release import WitnessPolicy
from clients.video import Container
from common.time import now_ms
from crypto.age.x25519 import X25519Recipient
from crypto.ed25519 import Ed25519PublicKey
from crypto.errors import CryptoError
from crypto.siteid import DEFAULT_LABEL, site_id_for
from crypto.statements import CameraProfile, DeviceKind
from crypto.tlog.cosignature import CosignatureVerifier

console = Console()

app = typer.Typer(
    name="customer",
    help="The customer: keys, site setup, recordings, consents, inbox, audit.",
    no_args_is_help=True,
)
site_app = typer.Typer(help="Create the site.", no_args_is_help=True)
consent_app = typer.Typer(help="Technicians' consent requests.", no_args_is_help=True)
alarm_app = typer.Typer(help="The site's alarms.", no_args_is_help=True)
witnesses_app = typer.Typer(
    help="The witnesses whose cosignatures the audit requires on every custodian's log.",
    no_args_is_help=True,
)
app.add_typer(site_app, name="site")
app.add_typer(witnesses_app, name="witnesses")
app.add_typer(consent_app, name="consent")
app.add_typer(alarm_app, name="alarm")
devices_app = typer.Typer(
    help="The site's cameras and panels: revoke or rotate a device's key.", no_args_is_help=True
)
app.add_typer(devices_app, name="devices")

StateOpt = Annotated[
    Path | None,
    typer.Option(
        "--state",
        envvar="CAMVAULT_CUSTOMER_DIR",
        help="state directory (default ~/.camvault/customer)",
    ),
]
TimeOpt = Annotated[str | None, typer.Option(help="ms since epoch or ISO 8601 (UTC if naive)")]
FromOpt = Annotated[str | None, typer.Option("--from", help="start (ms or ISO 8601)")]
CameraOpt = Annotated[str | None, typer.Option(help="camera")]
RecordingOpt = Annotated[str | None, typer.Option(help="one recording (with --camera)")]
HeadMarginOpt = Annotated[
    int,
    typer.Option(
        "--head-margin",
        min=0,
        max=86400,
        help="seconds a camera's chain head may be late beyond the interval it promises",
    ),
]


def _selection(
    camera: str | None, recording: str | None, from_: str | None, to: str | None
) -> rec_lib.Selection:
    return rec_lib.Selection(camera, recording, parse_time(from_), parse_time(to))


def load(state_dir: Path | None) -> CustomerState:
    """The customer's state; the statements a custodian has not acknowledged yet (the
    outbox: deletions, retention, cancels) are sent again first."""
    st = CustomerState(state_dir or default_state_dir())
    outbox = Outbox(st.root)
    if outbox.pending():
        for r in outbox.resend(st.config.custodians):
            mark = "sent" if r.delivered else "still pending"
            err_console.print(
                f"outbox: {r.item.kind} to custodian {r.item.custodian_id}: {mark} ({r.status})"
            )
    return st


@app.command()
def init(state: StateOpt = None) -> None:
    """Create this device's age identity and the site signing key (mode 0600)."""
    with guarded():
        st = CustomerState.init(state or default_state_dir())
        console.print(f"state      {st.root}")
        console.print(f"recipient  {st.identity().recipient()}")
        console.print(f"site key   {st.site_key().public_key.to_text()}")


@site_app.command("create")
def site_create(
    storage: Annotated[str, typer.Option(help="storage service URL")],
    custodian: Annotated[list[str], typer.Option(help="custodian URL (repeat, n times)")],
    label: Annotated[
        str, typer.Option(help="the site's name; its id is <label>-<tag of the site key>")
    ] = DEFAULT_LABEL,
    site_id: Annotated[
        str | None, typer.Option("--site-id", help="the whole site id, instead of --label")
    ] = None,
    threshold: Annotated[int, typer.Option(help="custodians needed for a release (t)")] = 2,
    retention_days: Annotated[int | None, typer.Option(help="keep recordings N days")] = None,
    pq_escrow: Annotated[
        bool | None,
        typer.Option(
            "--pq-escrow/--no-pq-escrow",
            help="list the custodians' hybrid ML-KEM-768 + X25519 escrow keys: cameras then "
            "escrow new recordings post-quantum (docs/ESCROW.md). Default: on when every "
            "custodian publishes one; --pq-escrow requires it of every custodian",
            show_default=False,
        ),
    ] = None,
    state: StateOpt = None,
) -> None:
    """Sign SiteKeys v1 and enroll the site with the storage service and every custodian.
    The site id is bound to the site key (nobody else can claim it)."""
    with guarded():
        st = load(state)
        sid = site_id or site_id_for(st.site_key().public_key, label)
        res = site_lib.create_site(
            st, storage, sid, custodian, threshold, retention_days, pq_escrow=pq_escrow
        )
        table = Table(title=f"site {res.site_id}: {res.threshold} of {len(res.custodians)}")
        for col in ("custodian", "url", "escrow key id", "log key"):
            table.add_column(col)
        for c in res.custodians:
            table.add_row(c.custodian_id, c.url, c.escrow_key.key_id(), c.log_key.to_text())
        console.print(table)
        console.print(
            "escrow     "
            + ("hybrid ML-KEM-768 + X25519 (post-quantum)" if res.pq_escrow else "X25519")
        )


def _enroll(
    state: Path | None,
    device_id: str,
    kind: DeviceKind,
    model: str,
    device_key: str,
    profile: CameraProfile | None,
) -> None:
    with guarded():
        site_lib.enroll_device(
            load(state), device_id, kind, model, Ed25519PublicKey.from_text(device_key), profile
        )
        console.print(f"enrolled {kind.value} {device_id} ({model}) with storage and custodians")


@app.command("enroll-camera")
def enroll_camera(
    device_id: Annotated[str, typer.Argument(help="camera id")],
    device_key: Annotated[str, typer.Option(help="the camera's ed25519:... public key")],
    model: Annotated[str, typer.Option(help="camera model")] = "generic-camera",
    pre_alarm: Annotated[int, typer.Option(help="pre-alarm seconds the ARC may see")] = 30,
    post_alarm: Annotated[int, typer.Option(help="post-alarm seconds the ARC may see")] = 60,
    live: Annotated[bool, typer.Option(help="live view allowed during an alarm")] = True,
    stills_only: Annotated[bool, typer.Option(help="the ARC may see stills only")] = False,
    state: StateOpt = None,
) -> None:
    """Sign a DeviceEnrollment (with the model profile) for a camera."""
    with guarded():  # an impossible profile (stills only with live view) is one line
        profile = CameraProfile(pre_alarm, post_alarm, live, stills_only)
    _enroll(state, device_id, DeviceKind.CAMERA, model, device_key, profile)


@app.command("enroll-panel")
def enroll_panel(
    device_id: Annotated[str, typer.Argument(help="panel id")],
    device_key: Annotated[str, typer.Option(help="the panel's ed25519:... public key")],
    model: Annotated[str, typer.Option(help="panel model")] = "generic-panel",
    state: StateOpt = None,
) -> None:
    """Sign a DeviceEnrollment for an alarm panel."""
    _enroll(state, device_id, DeviceKind.PANEL, model, device_key, None)


@app.command("list")
def list_cmd(
    camera: Annotated[str | None, typer.Option(help="one camera")] = None,
    from_: FromOpt = None,
    to: TimeOpt = None,
    labels: Annotated[bool, typer.Option(help="decrypt event records for labels")] = True,
    head_margin: HeadMarginOpt = chain_lib.DEFAULT_HEAD_MARGIN_S,
    as_json: JsonOpt = False,
    state: StateOpt = None,
) -> None:
    """Timeline of recordings per camera, with detection labels decrypted locally; the listing
    is checked against the cameras' signed manifest chains and chain heads (exit 1 on any
    mismatch, hidden recordings or a silent camera: one line each on stderr, with its code)."""
    with guarded():
        st = load(state)
        entries = rec_lib.timeline(
            st,
            camera_id=camera,
            from_ms=parse_time(from_),
            to_ms=parse_time(to),
            labels=labels,
        )
        heads = chain_lib.head_checks(st, camera, head_margin)
    bad = [e for e in entries if e.problem is not None]
    if as_json:
        print_json([{**e.item, "labels": e.labels, "problem": e.problem} for e in entries])
    else:
        _timeline_table(entries)
    for e in bad:
        err_console.print(f"[bold red]not as the camera signed[/bold red]: {e.problem}")
    findings = [(code, detail) for h in heads for code, detail in h.findings]
    for code, detail in findings:
        err_console.print(f"chain head: {code}: {detail}", markup=False, soft_wrap=True)
    if bad or findings:
        raise typer.Exit(1)


def _timeline_table(entries: list[rec_lib.TimelineEntry]) -> None:
    table = new_table(
        f"{len(entries)} recording(s)",
        *("camera", "start", "end", "kind", "recording", "seq", "bytes", "labels"),
        ids=("camera", "recording"),
    )
    for e in entries:
        i = e.item
        table.add_row(
            i["camera_id"],
            fmt_time(i["start_ms"]),
            fmt_time(i["end_ms"]),
            i["kind"],
            i["recording_id"],
            str(i["sequence"]),
            str(i["payload_size"]),
            ", ".join(f"{x.get('label')} {x.get('confidence')}" for x in e.labels),
        )
    console.print(table)


@app.command()
def download(
    out: Annotated[Path, typer.Option(help="output directory")],
    camera: CameraOpt = None,
    recording: RecordingOpt = None,
    from_: FromOpt = None,
    to: TimeOpt = None,
    join: Annotated[
        bool, typer.Option(help="also join each camera's segments into <camera>.ts")
    ] = False,
    mp4: Annotated[
        bool, typer.Option("--mp4", help="also join each camera's segments into <camera>.mp4")
    ] = False,
    no_audio: Annotated[
        bool, typer.Option("--no-audio", help="leave the sound out of the joined file")
    ] = False,
    state: StateOpt = None,
) -> None:
    """Decrypt one recording or a time range to playable files; --join / --mp4 also make one
    file per camera that plays and seeks across the whole range."""
    joined: list[Path] = []
    container = Container.MP4 if mp4 else Container.TS if join else None
    with guarded(), Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("decrypting", total=None)
        done = rec_lib.download(
            load(state),
            out,
            _selection(camera, recording, from_, to),
            join=container,
            audio=not no_audio,
            progress=lambda n, total: progress.update(task, completed=n, total=total),
            joined=joined,
        )
    if not done:
        fail("no recordings match")
    for d in done:
        console.print(f"{d.path}  {d.size} bytes")
    for path in joined:
        console.print(f"{path}  joined, {path.stat().st_size} bytes")
    console.print(f"{len(done)} recording(s) decrypted into {out}")


@app.command()
def verify(
    camera: Annotated[str | None, typer.Option(help="one camera")] = None,
    deep: Annotated[bool, typer.Option(help="also hash every payload and header")] = False,
    head_margin: HeadMarginOpt = chain_lib.DEFAULT_HEAD_MARGIN_S,
    as_json: JsonOpt = False,
    state: StateOpt = None,
) -> None:
    """Verify each camera's manifest chain and signed chain head; report gaps, tampering,
    hidden recordings and silent cameras (exit 1 if any; --json: reason codes)."""
    with guarded():
        st = load(state)
        results = rec_lib.verify_cameras(st, camera_id=camera, deep=deep)
        heads = {h.camera_id: h for h in chain_lib.head_checks(st, camera, head_margin)}
    now = now_ms()
    bad = 0
    report = []
    for r in results:
        head = heads.get(r.camera_id)
        ok = r.ok and (head is None or head.ok)
        bad += not ok
        if as_json:
            report.append(
                {
                    "camera_id": r.camera_id,
                    "ok": ok,
                    "manifests": r.count,
                    "deleted": r.deleted,
                    "last_sequence": r.last_sequence,
                    "problems": r.problems,
                    "payload_problems": r.payload_problems,
                    "chain_head": None if head is None else head.to_json(),
                }
            )
            continue
        status = "[green]intact[/green]" if ok else "[bold red]PROBLEMS[/bold red]"
        console.print(
            f"{r.camera_id}: {r.count} manifest(s), {r.deleted} deleted by the customer or "
            f"retention, last sequence {r.last_sequence}: {status}"
        )
        for p in r.problems:
            console.print(f"  {p}")
        for text in r.payload_problems:
            console.print(f"  tampered: {text}")
        if head is not None:
            lines = [f"{c}: {d}" for c, d in head.findings] or [head.summary(now)]
            for line in lines:
                console.print(f"  {line}", markup=False, soft_wrap=True, highlight=False)
    if as_json:
        print_json(report)
    if bad:
        raise typer.Exit(1)


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="output directory")],
    camera: CameraOpt = None,
    recording: RecordingOpt = None,
    from_: FromOpt = None,
    to: TimeOpt = None,
    state: StateOpt = None,
) -> None:
    """Export standard age files (decrypt with `age -d -i <state>/identity.txt`)."""
    with guarded():
        paths = rec_lib.export(load(state), out, _selection(camera, recording, from_, to))
    if not paths:
        fail("no recordings match")
    for p in paths:
        console.print(str(p))
    console.print(f"{len(paths)} age file(s) exported")


@app.command()
def delete(
    camera: CameraOpt = None,
    recording: RecordingOpt = None,
    from_: FromOpt = None,
    to: TimeOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    state: StateOpt = None,
) -> None:
    """Delete (crypto-shred) one recording or a time range. Cannot be undone: on a terminal
    it asks first (--yes does not)."""
    selection = _selection(camera, recording, from_, to)
    if not yes and sys.stdin.isatty():
        typer.confirm(f"Delete {_described(selection)}? This cannot be undone", abort=True)
    with guarded():
        deleted = rec_lib.delete(load(state), selection)
    if deleted.count:
        console.print(f"{deleted.count} recording(s) deleted")
    print_acks(console, deleted.custodians, "deleted")
    if deleted.count == 0:  # the deletion was still sent again to every custodian
        fail("no recordings were deleted: none match, or they are deleted already")


def _described(selection: rec_lib.Selection) -> str:
    one = selection.one()
    if one is not None:
        return f"recording {one[1]} of camera {one[0]}"
    cameras = f"camera {selection.camera_id}" if selection.camera_id else "every camera"
    span = f"{fmt_time(selection.from_ms)} to {fmt_time(selection.to_ms)}"
    return f"every recording of {cameras} from {span}"


@app.command()
def retention(
    days: Annotated[int | None, typer.Option(help="keep recordings this many days")] = None,
    keep: Annotated[bool, typer.Option(help="keep recordings until deleted")] = False,
    state: StateOpt = None,
) -> None:
    """Set the site's retention: signed for every custodian (they refuse shares of recordings
    past it), and the storage service's sweeper (it deletes them)."""
    if (days is None) == (not keep):
        fail("give exactly one of --days N or --keep")
    with guarded():
        out = site_lib.set_retention(load(state), None if keep else days)
    console.print(f"retention: {out.retention_days or 'until deleted'} day(s)")
    print_acks(console, out.custodians, "set")


@app.command()
def inbox(
    kind: Annotated[str | None, typer.Option(help="smart_alert, access_notice, ...")] = None,
    as_json: JsonOpt = False,
    state: StateOpt = None,
) -> None:
    """Smart alerts (decrypted locally), access notices, consent requests, alarms."""
    with guarded():
        items = inbox_lib.read_inbox(load(state), kind=kind)
    if as_json:
        print_json(
            [
                {"id": i.id, "created_ms": i.created_ms, "kind": i.kind, "from": i.source}
                | {"summary": i.summary, "data": i.data}
                for i in items
            ]
        )
        return
    table = new_table(f"inbox: {len(items)} item(s)", "#", "when", "kind", "from", "what")
    for i in items:
        table.add_row(str(i.id), fmt_time(i.created_ms), i.kind, i.source, i.summary)
    console.print(table)


@consent_app.command("requests")
def consent_requests(
    pending: Annotated[bool, typer.Option(help="pending only")] = False,
    as_json: JsonOpt = False,
    state: StateOpt = None,
) -> None:
    """Technicians' consent requests."""
    with guarded():
        reqs = consents_lib.list_requests(load(state), pending_only=pending)
    if as_json:
        print_json(reqs)
        return
    cols = ("request", "technician", "cameras", "scope", "recordings", "for", "reason", "state")
    table = new_table("consent requests", *cols, ids=("request", "technician"))
    for r in reqs:
        table.add_row(
            r["request_id"],
            r["operator_id"],
            ", ".join(r["cameras"]),
            ", ".join(r["scope"]),
            f"{fmt_time(r['recordings_from_ms'])} .. {fmt_time(r['recordings_to_ms'])}",
            f"{r['duration_s']} s",
            r["reason"],
            r["state"],
        )
    console.print(table)


@consent_app.command("list")
def consent_list(as_json: JsonOpt = False, state: StateOpt = None) -> None:
    """Consents given."""
    with guarded():
        items = consents_lib.list_consents(load(state))
    if as_json:
        print_json(items)
        return
    cols = ("consent", "grantee", "valid from", "until", "revoked")
    table = new_table("consents", *cols, ids=("consent", "grantee"))
    for c in items:
        table.add_row(
            c["consent_id"],
            c["grantee_id"],
            fmt_time(c["not_before_ms"]),
            fmt_time(c["not_after_ms"]),
            "yes" if c["revoked"] else "no",
        )
    console.print(table)


@consent_app.command("approve")
def consent_approve(
    request_id: Annotated[str, typer.Argument(help="the request to approve")],
    valid_for: Annotated[int | None, typer.Option(help="seconds (at most what was asked)")] = None,
    state: StateOpt = None,
) -> None:
    """Sign a Consent for what the technician asked, for the minimum time needed."""
    with guarded():
        out = consents_lib.approve(load(state), request_id, valid_for_s=valid_for)
    console.print(
        f"consent {out['consent_id']} for {out['grantee_id']} until {fmt_time(out['not_after_ms'])}"
    )


@consent_app.command("refuse")
def consent_refuse(
    request_id: Annotated[str, typer.Argument(help="the request to refuse")],
    reason: Annotated[str | None, typer.Option(help="told to the technician")] = None,
    state: StateOpt = None,
) -> None:
    """Refuse a consent request."""
    with guarded():
        consents_lib.refuse(load(state), request_id, reason)
    console.print(f"request {request_id} refused")


@consent_app.command("revoke")
def consent_revoke(
    consent_id: Annotated[str, typer.Argument(help="the consent to revoke")],
    state: StateOpt = None,
) -> None:
    """Sign a Revocation; send it to the storage service and straight to every custodian."""
    with guarded():
        statuses = consents_lib.revoke(load(state), consent_id)
    for cid, status in statuses.items():
        console.print(f"custodian {cid}: {status}")
    console.print(f"consent {consent_id} revoked")


@alarm_app.command("list")
def alarm_list(as_json: JsonOpt = False, state: StateOpt = None) -> None:
    """The site's alarms."""
    with guarded():
        items = site_lib.list_alarms(load(state))
    if as_json:
        print_json(items)
        return
    cols = ("alarm", "state", "triggered", "access until", "panel", "type")
    table = new_table("alarms", *cols, ids=("alarm", "panel"))
    for a in items:
        body = a["event"]["body"]
        table.add_row(
            a["alarm_id"],
            a["state"],
            fmt_time(a["triggered_at_ms"]),
            fmt_time(a["access_until_ms"]),
            body["panel_id"],
            body["alarm_type"],
        )
    console.print(table)


@alarm_app.command("cancel")
def alarm_cancel(
    alarm_id: Annotated[str, typer.Argument(help="the alarm to cancel")],
    state: StateOpt = None,
) -> None:
    """Cancel an alarm (signed AlarmCancel to the storage service and every custodian)."""
    with guarded():
        out = site_lib.cancel_alarm(load(state), alarm_id)
    console.print(f"alarm {alarm_id}: {out.state}")
    print_acks(console, out.custodians, "cancelled")


@app.command()
def sync(state: StateOpt = None) -> None:
    """Send again the statements a custodian has not acknowledged yet (deletions, retention,
    cancels: kept in the outbox when a custodian was down). Exit 1 while any is pending."""
    with guarded():
        left = Outbox(load(state).root).pending()
    if left:
        fail(f"{len(left)} statement(s) still pending: run `camvault customer sync` again")
    console.print("outbox empty: every custodian acknowledged every statement")


def _print_lifecycle(res: devices_lib.Lifecycle, what: str) -> None:
    console.print(
        f"{res.device_id}: enrollment v{res.version}; key {res.revoked_key} revoked from "
        f"{fmt_time(res.revoked_from_ms)}"
    )
    print_acks(console, res.custodians, what)


@devices_app.command("revoke")
def devices_revoke(
    device_id: Annotated[str, typer.Argument(help="camera or panel id")],
    reason: Annotated[str, typer.Option(help="why (kept in the signed statement)")] = "revoked",
    from_: Annotated[
        str | None,
        typer.Option("--from", help="refuse what the key signed from then (default now)"),
    ] = None,
    state: StateOpt = None,
) -> None:
    """Revoke a device's key (signed DeviceRevocation to the storage service and every
    custodian): uploads, alarms and recordings it signs from then on are refused."""
    with guarded():
        res = devices_lib.revoke_device(load(state), device_id, reason, parse_time(from_))
    _print_lifecycle(res, "revoked")


@devices_app.command("rotate")
def devices_rotate(
    device_id: Annotated[str, typer.Argument(help="camera or panel id")],
    key: Annotated[str, typer.Option("--key", help="the device's new ed25519:... public key")],
    reason: Annotated[str, typer.Option(help="why (kept in the signed statement)")] = (
        "key rotation"
    ),
    state: StateOpt = None,
) -> None:
    """Rotate a device's key: enrollment version n+1 with the new key, and the old key
    revoked from now (recordings it signed before stay valid)."""
    with guarded():
        res = devices_lib.rotate_device(
            load(state), device_id, Ed25519PublicKey.from_text(key), reason
        )
    _print_lifecycle(res, "rotated")


@app.command("add-device")
def add_device(
    recipient: Annotated[str, typer.Option(help="the new device's age1... recipient")],
    state: StateOpt = None,
) -> None:
    """Give a new customer device access: SiteKeys v+1, and re-wrap every stored header."""
    with guarded(), Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("re-wrapping headers", total=None)
        res = site_lib.add_device(
            load(state),
            X25519Recipient.parse(recipient),
            progress=lambda n, total: progress.update(task, completed=n, total=total),
        )
    console.print(f"SiteKeys v{res.keys_version} published; {res.rewrapped} header(s) re-wrapped")
    for cam, rid, why in res.skipped:
        console.print(f"  skipped {cam}/{rid}: {why}")


@app.command("remove-device")
def remove_device(
    recipient: Annotated[str, typer.Option(help="the age1... recipient of the device to remove")],
    state: StateOpt = None,
) -> None:
    """Take a customer device out of the site (lost or stolen phone): SiteKeys v+1 without
    its recipient, logged by every custodian; recordings made from then on are not sealed
    to it (those already stored keep their stanza)."""
    with guarded():
        res = devices_lib.remove_recipient(load(state), X25519Recipient.parse(recipient))
    console.print(f"SiteKeys v{res.keys_version} published: {res.recipients} recipient(s)")


@app.command()
def audit(state: StateOpt = None) -> None:
    """Verify every custodian's log; list every access (who/when/why). Exit 1 on findings."""
    with guarded():
        results = audit_lib.audit_site(load(state))
    bad = 0
    cols = ("custodian", "#", "when", "outcome", "operator", "purpose", "why", "cameras")
    table = new_table("accesses to the site's recordings", *cols, ids=("operator", "why"))
    for r in results:
        size = r.report.checkpoint.size if r.report and r.report.checkpoint else "?"
        if r.ok:
            console.print(
                f"custodian {r.custodian.custodian_id}: log verified (size {size}), "
                f"{r.notices} notice(s) included"
            )
        else:
            bad += 1
            console.print(f"[bold red]custodian {r.custodian.custodian_id}: PROBLEMS[/bold red]")
            if r.error:
                console.print(f"  {r.error}")
            for f in r.findings:
                console.print(f"  {f.kind} (entry {f.index}): {f.detail}")
        for a in r.accesses:
            outcome = {"release": f"released {a.released}", "refusal": f"refused {a.reason}"}.get(
                a.kind, a.kind
            )
            table.add_row(
                a.custodian_id,
                str(a.log_index),
                fmt_time(a.time_ms),
                outcome,
                a.operator_id,
                a.purpose,
                a.justification,
                ", ".join(a.cameras),
            )
    console.print(table)
    if bad:
        raise typer.Exit(1)


# --- witnesses (docs/WITNESS.md) ------------------------------------------------------------


def _witness_file(state: Path | None) -> tuple[Path, dict[str, Any]]:
    """``<state>/witnesses.json`` and its content (empty list when absent), checked."""
    st = CustomerState(state or default_state_dir())
    path = st.root / audit_lib.WITNESSES_FILE
    audit_lib.witness_policy(st)  # a one-line error if the file is not a witness list
    if not path.exists():
        return path, {"witnesses": [], "urls": {}}
    obj = json.loads(path.read_text())
    return path, {
        "witnesses": [str(k) for k in obj["witnesses"]],
        "urls": {str(k): str(v) for k, v in dict(obj.get("urls", {})).items()},
        **({"quorum": int(obj["quorum"])} if "quorum" in obj else {}),
    }


def _save_witnesses(path: Path, obj: dict[str, Any]) -> WitnessPolicy | None:
    if not obj["witnesses"]:
        path.unlink(missing_ok=True)
        return None
    try:
        policy = WitnessPolicy.from_json(obj)
    except ValueError as exc:
        fail(f"witness quorum: {exc}")
    write_json(path, obj)
    return policy


def _print_policy(policy: WitnessPolicy | None) -> None:
    if policy is None:
        console.print("no witnesses: the audit checks each custodian's own checkpoint only")
    else:
        console.print(
            f"the audit requires {policy.quorum} of {len(policy.witnesses)} witness "
            "cosignatures on every custodian's checkpoint",
            markup=False,
            highlight=False,
        )


@witnesses_app.command("add")
def witnesses_add(
    key: Annotated[str, typer.Argument(help="the witness's verifier key (from its operator)")],
    url: Annotated[str | None, typer.Option(help="the witness's URL (kept for reference)")] = None,
    quorum: Annotated[
        int | None, typer.Option(min=1, help="cosignatures required (default: all)")
    ] = None,
    state: StateOpt = None,
) -> None:
    """Require this witness's cosignature on the custodians' logs (never taken from them)."""
    with guarded():
        path, obj = _witness_file(state)
        try:
            text = CosignatureVerifier.from_text(key.strip()).to_text()
        except CryptoError as exc:
            fail(f"not a witness verifier key ({exc})")
        if text in obj["witnesses"]:
            fail(f"witness {text} is already listed")
        obj["witnesses"].append(text)
        if url:
            obj["urls"][text] = url.rstrip("/")
        if quorum is not None:
            obj["quorum"] = quorum
        policy = _save_witnesses(path, obj)
    console.print(f"witness added: {text}", markup=False, highlight=False)
    _print_policy(policy)


@witnesses_app.command("remove")
def witnesses_remove(
    key: Annotated[str, typer.Argument(help="the witness's verifier key")],
    quorum: Annotated[
        int | None, typer.Option(min=1, help="cosignatures required (default: all)")
    ] = None,
    state: StateOpt = None,
) -> None:
    """Stop requiring a witness."""
    with guarded():
        path, obj = _witness_file(state)
        if key.strip() not in obj["witnesses"]:
            fail(f"no witness {key.strip()} is listed")
        obj["witnesses"].remove(key.strip())
        obj["urls"].pop(key.strip(), None)
        if quorum is not None:
            obj["quorum"] = quorum
        policy = _save_witnesses(path, obj)
    _print_policy(policy)


@witnesses_app.command("list")
def witnesses_list(as_json: JsonOpt = False, state: StateOpt = None) -> None:
    """The witnesses the audit requires, and the quorum."""
    with guarded():
        _, obj = _witness_file(state)
        policy = audit_lib.witness_policy(CustomerState(state or default_state_dir()))
    if as_json:
        print_json(
            {
                "witnesses": [{"key": k, "url": obj["urls"].get(k)} for k in obj["witnesses"]],
                "quorum": policy.quorum if policy else None,
            }
        )
        return
    table = new_table("witnesses", "name", "key", "url", ids=("key",))
    for k in obj["witnesses"]:
        table.add_row(k.split("+", 1)[0], k, obj["urls"].get(k, "-"))
    console.print(table)
    _print_policy(policy)
