"""What the operator console does: the ARC alarm queue, releases from the custodians for an
alarm window (pre-alarm recordings first) or under a maintenance consent, the live view of
an open alarm, technicians' consent requests, and device telemetry.

Reading a recording takes two independent permissions: the storage service hands out the
header and a presigned GET only when an open alarm or an active consent covers it (defence
in depth), and the file key comes only from t custodians that each check the signed
justification themselves (clients/operator/release.py). Every refusal keeps its reason code.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients.api.errors import ClientError, ServiceRefused
from clients.api.escrow import CustodianApi, CustodianEndpoint, fetch_custodian
from clients.api.storage import ConsentRequest, StorageApi, download, header_bytes
from clients.common import EXTENSIONS, signed_from_json
from clients.operator.release import (
    CustodianRefused,
    Recording,
    ReleaseError,
    ThresholdNotMet,
    Unwitnessed,
    WitnessPolicy,
    gather_releases,
    recover_file_key,
)
from clients.operator.state import OperatorConfig, OperatorState
from clients.video import LiveFile, VideoError
from common.time import now_ms
from crypto.age.format import parse_header
from crypto.age.stream import decrypt_payload
from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import CryptoError
from crypto.escrow import SessionKey, parse_escrow_stanza
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import (
    OperatorRegistration,
    OperatorRole,
    Purpose,
    SignedStatement,
    sign_statement,
)
from crypto.tlog.cosignature import CosignatureVerifier


class ReleaseRefused(ClientError):  # noqa: N818 (named after what happened)
    """Fewer than t custodians released; ``reasons`` maps custodian id to reason code."""

    def __init__(self, reasons: dict[str, str], detail: str) -> None:
        super().__init__(
            "custodians refused: "
            + "; ".join(f"{k}: {v}" for k, v in sorted(reasons.items()))
            + (f" ({detail})" if detail else "")
        )
        self.reasons = reasons


def witness_policy(
    entries: Sequence[str], quorum: int | None
) -> tuple[WitnessPolicy | None, list[str]]:
    """The site's witnesses from ``--witness`` entries (``"<url> <verifier key>"`` or the key
    alone) and ``--witness-quorum`` (default: all): the policy and the URLs given (kept for
    people; the operator never contacts a witness, it checks the cosignatures a custodian's
    receipt carries). No entries: None (receipts checked against the log key only)."""
    if not entries:
        if quorum is not None:
            raise ClientError("--witness-quorum without any --witness")
        return None, []
    keys: list[CosignatureVerifier] = []
    urls: list[str] = []
    for entry in entries:
        parts = entry.split()
        if len(parts) not in (1, 2) or (len(parts) == 2 and "://" not in parts[0]):
            raise ClientError(f"--witness {entry!r}: expected '<url> <witness verifier key>'")
        try:
            key = CosignatureVerifier.from_text(parts[-1])
        except CryptoError as exc:
            raise ClientError(f"--witness {entry!r}: not a witness verifier key ({exc})") from None
        if any(k.to_text() == key.to_text() for k in keys):
            raise ClientError(f"--witness {entry!r}: given twice")
        keys.append(key)
        urls.append(parts[0].rstrip("/") if len(parts) == 2 else "")
    try:
        return WitnessPolicy(tuple(keys), len(keys) if quorum is None else quorum), urls
    except ValueError as exc:
        raise ClientError(f"--witness-quorum: {exc}") from None


def init_operator(
    root: Path,
    operator_id: str,
    role: OperatorRole,
    storage_url: str,
    custodian_urls: list[str],
    witnesses: WitnessPolicy | None = None,
    witness_urls: Sequence[str] = (),
) -> OperatorState:
    custodians: list[CustodianEndpoint] = [fetch_custodian(u) for u in custodian_urls]
    config = OperatorConfig(
        operator_id, role, storage_url.rstrip("/"), custodians, witnesses, list(witness_urls)
    )
    return OperatorState.init(root, config)


def register(state: OperatorState, arc_key: Ed25519SigningKey) -> dict[str, str]:
    """(ARC administrator) sign this operator's OperatorRegistration with the ARC key and
    register it with the storage service and every custodian."""
    reg = sign_statement(
        OperatorRegistration(
            state.operator_id, state.key().public_key, state.config.role, now_ms()
        ),
        arc_key,
    )
    out: dict[str, str] = {}
    with state.storage() as storage:
        out["storage"] = str(storage.register_operator(reg))
    for c in state.config.custodians:
        with CustodianApi.of(c) as api:
            out[c.custodian_id] = api.register_operator(reg)
    return out


# --- alarms ---------------------------------------------------------------------------------


def alarm_queue(
    state: OperatorState, states: Sequence[str] = ("open", "acknowledged")
) -> list[Any]:
    with state.storage() as storage:
        return storage.alarm_queue(states)


def alarm(state: OperatorState, alarm_id: str) -> dict[str, Any]:
    with state.storage() as storage:
        return storage.alarm(alarm_id)


def transition(state: OperatorState, alarm_id: str, action: str) -> dict[str, Any]:
    with state.storage() as storage:
        return storage.alarm_action(alarm_id, action)


# --- releases -------------------------------------------------------------------------------


@dataclass
class Released:
    camera_id: str
    recording_id: str
    kind: str
    start_ms: int
    path: Path | None
    pre_alarm: bool = False
    refused: str | None = None  # reason code when this recording was not released
    unplayable: str | None = None  # decrypted, but not added to the live file: why


@dataclass
class ReleaseResult:
    custodians: list[str]
    items: list[Released] = field(default_factory=list)
    released_ms: int = 0  # when t custodians had answered (before payloads were fetched)

    @property
    def decrypted(self) -> list[Released]:
        return [i for i in self.items if i.path is not None]


def _metadata(site_id: str, item: dict[str, Any]) -> RecordingMetadata:
    return RecordingMetadata(
        site_id,
        item["camera_id"],
        item["recording_id"],
        RecordingKind(item["kind"]),
        int(item["start_ms"]),
        int(item["end_ms"]),
    )


def _arc_detail(storage: StorageApi, site_id: str, item: dict[str, Any]) -> dict[str, Any]:
    return storage.recording(site_id, item["camera_id"], item["recording_id"], arc=True)


def _threshold(header: bytes) -> int:
    for st in parse_header(header).stanzas:
        if st.type == "camvault-escrow":
            return parse_escrow_stanza(st).threshold
    raise ClientError("recording has no escrow stanza: the ARC cannot read it")


def _refusal(exc: ThresholdNotMet) -> ReleaseRefused:
    def reason(e: Exception) -> str:
        if isinstance(e, CustodianRefused):
            return e.reason
        if isinstance(e, Unwitnessed):  # its shares are not used: the log may be split
            return f"unwitnessed ({e})"
        return f"unavailable ({e})"

    reasons = {cid: reason(e) for cid, e in exc.errors.items()}
    return ReleaseRefused(reasons, "")


def release_batch(
    state: OperatorState,
    storage: StorageApi,
    site_id: str,
    items: Sequence[dict[str, Any]],
    *,
    purpose: Purpose,
    justification: SignedStatement,
    out_dir: Path,
    on_item: Callable[[Released], None] | None = None,
    append_to: Callable[[str], LiveFile] | None = None,
) -> ReleaseResult:
    """Fetch headers (storage, justified route), gather t releases for the whole batch,
    open the shares, decrypt each payload into ``out_dir/<camera>/<recording><ext>``
    (and, with ``append_to``, append video to the camera's growing live file)."""
    recs: list[tuple[dict[str, Any], Recording, str]] = []
    for item in items:
        detail = _arc_detail(storage, site_id, item)
        header = header_bytes(detail)
        if header is None:
            continue
        url = str(detail["download_url"])
        recs.append((item, Recording(header, _metadata(site_id, item)), url))
    if not recs:
        return ReleaseResult([])
    session = SessionKey.generate()
    try:
        releases = gather_releases(
            state.endpoints(),
            _threshold(recs[0][1].header),
            state.operator_id,
            state.key(),
            purpose=purpose.value,
            justification=justification,
            session=session,
            recordings=[r for _, r, _ in recs],
            witnesses=state.config.witnesses,
        )
    except ThresholdNotMet as exc:
        raise _refusal(exc) from exc
    result = ReleaseResult([r.custodian_id for r in releases], released_ms=now_ms())
    for item, rec, url in recs:
        out = Released(
            item["camera_id"], item["recording_id"], item["kind"], int(item["start_ms"]), None
        )
        try:
            file_key = recover_file_key(releases, rec, session)
        except CryptoError:
            reasons = {
                r.refused[rec.metadata.recording_id][0]
                for r in releases
                if rec.metadata.recording_id in r.refused
            }
            out.refused = ", ".join(sorted(reasons)) or "not_released"
        else:
            buf = io.BytesIO()
            download(url, buf)
            buf.seek(0)
            plain = io.BytesIO()
            decrypt_payload(file_key, buf, plain)
            path = out_dir / out.camera_id / (out.recording_id + EXTENSIONS.get(out.kind, ".bin"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(plain.getvalue())
            if append_to is not None and path.suffix == ".ts":
                try:
                    append_to(out.camera_id).append(path)
                except VideoError as exc:  # one bad segment must not end the live view
                    out.unplayable = str(exc)
            out.path = path
        result.items.append(out)
        if on_item is not None:
            on_item(out)
    return result


def release_alarm(
    state: OperatorState,
    alarm_id: str,
    out_dir: Path,
    on_item: Callable[[Released], None] | None = None,
) -> ReleaseResult:
    """Release and decrypt the recordings of an alarm window: pre-alarm recordings first
    (one batch), then the rest (a second batch)."""
    a = alarm(state, alarm_id)
    site_id = a["site_id"]
    event = signed_from_json(a["event"])
    trigger = int(a["triggered_at_ms"])
    with state.storage() as storage:
        items = [i for i in storage.recordings(site_id, arc=True) if i["status"] == "committed"]
        items.sort(key=lambda i: (i["camera_id"], i["start_ms"]))
        pre = [i for i in items if i["start_ms"] < trigger]
        post = [i for i in items if i["start_ms"] >= trigger]
        total = ReleaseResult([])
        for batch, is_pre in ((pre, True), (post, False)):
            if not batch:
                continue

            def mark(r: Released, is_pre: bool = is_pre) -> None:
                r.pre_alarm = is_pre
                if on_item is not None:
                    on_item(r)

            res = release_batch(
                state,
                storage,
                site_id,
                batch,
                purpose=Purpose.ALARM_VERIFICATION,
                justification=event,
                out_dir=out_dir,
                on_item=mark,
            )
            total.custodians = res.custodians
            total.items.extend(res.items)
    return total


def my_consents(state: OperatorState) -> list[dict[str, Any]]:
    with state.storage() as storage:
        return storage.operator_consents()


def release_consent(
    state: OperatorState,
    consent_id: str,
    out_dir: Path,
    on_item: Callable[[Released], None] | None = None,
) -> ReleaseResult:
    """Release and decrypt what a customer's consent covers (technicians)."""
    match = [c for c in my_consents(state) if c["consent_id"] == consent_id]
    if not match:
        raise ClientError(f"no consent {consent_id} granted to {state.operator_id}")
    c = match[0]
    consent = signed_from_json(c["consent"])
    site_id = c["site_id"]
    body = c["consent"]["body"]
    with state.storage() as storage:
        items = [
            i
            for i in storage.recordings(site_id, arc=True)
            if i["status"] == "committed"
            and i["camera_id"] in body["cameras"]
            and body["recordings_from_ms"] <= i["start_ms"]
            and i["end_ms"] <= body["recordings_to_ms"]
        ]
        items.sort(key=lambda i: (i["camera_id"], i["start_ms"]))
        return release_batch(
            state,
            storage,
            site_id,
            items,
            purpose=Purpose.MAINTENANCE,
            justification=consent,
            out_dir=out_dir,
            on_item=on_item,
        )


def release_unjustified(state: OperatorState, site_id: str) -> None:
    """Ask for a site's recordings without any justification: the storage service refuses
    (``no_justification``). Used to show the rule; raises ServiceRefused."""
    with state.storage() as storage:
        list(storage.recordings(site_id, arc=True))


# --- live -----------------------------------------------------------------------------------


@dataclass
class LiveSegment:
    """One recording of the feed, decrypted; times in ms on the wall clock."""

    released: Released
    end_ms: int  # end of the recording at the camera
    committed_ms: int  # committed at the storage service
    received_ms: int  # announced by the feed, at the operator
    released_ms: int  # t custodians had answered
    decrypted_ms: int  # decrypted (and appended) at the operator
    backlog: bool  # already committed when the feed was opened

    @property
    def latency_ms(self) -> int:
        """Decrypted at the operator - end of the recording at the camera."""
        return self.decrypted_ms - self.end_ms


@dataclass
class LiveResult:
    segments: list[LiveSegment]
    ended: str  # why the feed ended
    pre_alarm: int = 0  # recordings of the feed left to release_alarm (ended before the trigger)


def _pre_alarm(item: dict[str, Any], trigger_ms: int) -> bool:
    """A recording of the feed that :func:`release_alarm` released, not the live view: it
    ended before the trigger and is not a ``live`` segment (a camera seals those only once it
    has seen the alarm, whatever their dated end)."""
    return item.get("kind") != RecordingKind.LIVE and int(item["end_ms"]) <= trigger_ms


def live(
    state: OperatorState,
    alarm_id: str,
    out_dir: Path,
    *,
    on_segment: Callable[[LiveSegment], None] | None = None,
    on_skip: Callable[[dict[str, Any]], None] | None = None,
    max_segments: int | None = None,
    timeout_s: float = 1800.0,
) -> LiveResult:
    """Follow the alarm's live feed: per new recording, one release (t custodians), decrypt,
    append video to ``out_dir/<camera>-live.ts`` (remuxed to continue the file's clock, so it
    plays as one stream while it grows: :class:`clients.video.LiveFile`).

    The feed lists the whole alarm window, pre-alarm recordings first. Those that ended
    before the trigger are not released here (``on_skip`` is told of each): they are
    :func:`release_alarm`'s, which gets them in one batch; releasing them again, one request
    each, would put every pre-alarm recording twice in the custodians' logs and hold up the
    first live segment behind them. A ``live`` recording is always released, whatever its
    dated end: the camera sealed it after it saw the alarm, and segment times are dated
    ~0.1-0.2 s early (docs/CAMERA.md), so the first one can end "before" the trigger.
    A recording the feed lists twice (a reconnect) is released once."""
    a = alarm(state, alarm_id)
    site_id = a["site_id"]
    event = signed_from_json(a["event"])
    trigger = int(a["triggered_at_ms"])
    opened = now_ms()
    out_dir.mkdir(parents=True, exist_ok=True)
    result = LiveResult([], "timeout")
    seen: set[tuple[str, str]] = set()
    live_files: dict[str, LiveFile] = {}

    def live_file(camera_id: str) -> LiveFile:
        if camera_id not in live_files:
            live_files[camera_id] = LiveFile(out_dir / f"{camera_id}-live.ts")
        return live_files[camera_id]

    with state.storage() as storage, state.storage(timeout=timeout_s) as feed:
        for name, data in feed.alarm_feed(alarm_id, timeout_s):
            if name == "end":
                result.ended = str(data.get("reason", "end"))
                break
            if name != "recording":
                continue
            received = now_ms()
            key = (str(data["camera_id"]), str(data["recording_id"]))
            if key in seen:
                continue
            seen.add(key)
            if _pre_alarm(data, trigger):
                result.pre_alarm += 1
                if on_skip is not None:
                    on_skip(data)
                continue
            try:
                res = release_batch(
                    state,
                    storage,
                    site_id,
                    [data],
                    purpose=Purpose.ALARM_VERIFICATION,
                    justification=event,
                    out_dir=out_dir,
                    append_to=live_file,
                )
            except (ServiceRefused, ReleaseRefused):
                # A segment announced just before the access period closed is refused once
                # it has closed: that ends the feed, it is not a failure. Anything else is.
                if alarm(state, alarm_id).get("access_open", False):
                    raise
                result.ended = "access_period_over"
                break
            for r in res.items:
                committed = int(data.get("committed_ms", 0))
                seg = LiveSegment(
                    r,
                    end_ms=int(data["end_ms"]),
                    committed_ms=committed,
                    received_ms=received,
                    released_ms=res.released_ms,
                    decrypted_ms=now_ms(),
                    backlog=committed < opened,
                )
                result.segments.append(seg)
                if on_segment is not None:
                    on_segment(seg)
            if max_segments is not None and len(result.segments) >= max_segments:
                result.ended = "max_segments"
                break
    return result


# --- technicians, telemetry -----------------------------------------------------------------


def request_consent(state: OperatorState, site_id: str, request: ConsentRequest) -> dict[str, Any]:
    with state.storage() as storage:
        return storage.request_consent(site_id, request)


def my_requests(state: OperatorState) -> list[dict[str, Any]]:
    with state.storage() as storage:
        return storage.my_consent_requests()


def telemetry(
    state: OperatorState, site_id: str, device_id: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    with state.storage() as storage:
        return storage.telemetry(site_id, device_id, limit)


__all__ = [
    "ReleaseError",
    "ReleaseRefused",
    "ServiceRefused",
]
