"""What the operator console does: the ARC alarm queue, releases from the custodians for an
alarm window (pre-alarm recordings first) or under a maintenance consent, technicians'
consent requests, and device telemetry. The live view of an open alarm is live.py, built on
the release helpers here.

Reading a recording takes two independent permissions: the storage service hands out the
header and a presigned GET only when an open alarm or an active consent covers it (defence
in depth), and the file key comes only from t custodians that each check the signed
justification themselves (clients/operator/release.py). Every refusal keeps its reason code.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from clients.api.errors import ClientError, ServiceRefused
from clients.api.escrow import CustodianApi, CustodianEndpoint, fetch_custodian
from clients.api.storage import ConsentRequest, StorageApi, download, header_bytes
from clients.common import EXTENSIONS, signed_from_json
from clients.operator.receipts import Receipt, collect_receipts, new_report
from clients.operator.release import (
    CustodianRefused,
    Gathered,
    NothingReleased,
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
from common.http import CLIENT_LIMITS, SignedClient, tls_context
from common.time import now_ms
from crypto.age.format import parse_header
from crypto.age.stream import decrypt_payload
from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import CryptoError
from crypto.escrow import ESCROW_STANZA_TYPES, SessionKey, parse_escrow_stanza
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
    decrypted_ms: int = 0  # when its plaintext was written (before the live file's remux)
    end_ms: int = 0


@dataclass
class ReleaseResult:
    custodians: list[str]
    items: list[Released] = field(default_factory=list)
    released_ms: int = 0  # when t custodians had answered (before payloads were fetched)
    #: what each custodian whose shares were not used did (refused, unwitnessed, ...)
    custodian_errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def merge(self, other: ReleaseResult) -> None:
        self.custodians = other.custodians or self.custodians
        self.items.extend(other.items)
        self.custodian_errors.update(other.custodian_errors)
        self.warnings.extend(other.warnings)

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
        if st.type in ESCROW_STANZA_TYPES:  # X25519 or hybrid
            return parse_escrow_stanza(st).threshold
    raise ClientError("recording has no escrow stanza: the ARC cannot read it")


def _reason(e: Exception) -> str:
    if isinstance(e, CustodianRefused):
        return e.reason
    if isinstance(e, Unwitnessed):  # its shares are not used: the log may be split
        return f"unwitnessed ({e})"
    if isinstance(e, NothingReleased):
        return f"nothing_released ({e})"
    return f"unavailable ({e})"


def _refusal(exc: ThresholdNotMet) -> ReleaseRefused:
    return ReleaseRefused({cid: _reason(e) for cid, e in exc.errors.items()}, "")


#: how long, once t custodians released, the others still get to answer (their refusals are
#: reported and their receipts' checkpoints go to the customer)
LATE_ANSWERS_S = 10.0


def post_receipts(
    state: OperatorState,
    storage: StorageApi,
    site_id: str,
    session: SessionKey,
    receipts: list[Receipt],
) -> str | None:
    """Post the checkpoints of this request's receipts to the site's inbox, for the
    customer's split-view cross-check (clients/operator/receipts.py). Returns a warning if
    that failed: the release stands, the customer's audit just cannot cross-check it."""
    if not receipts:
        return None
    report = new_report(site_id, state.operator_id, session.public_key(), now_ms(), receipts)
    try:
        storage.post_release_receipts(site_id, report.report_id, report.to_text())
    except (ServiceRefused, httpx.HTTPError) as exc:
        return f"release receipts not delivered to the customer's inbox: {exc}"
    return None


#: Downloads and decryptions run at once by a batch release (and by the live view): enough to
#: overlap the object store's round trips, bounded so a 30 s pre-alarm window of 0.5 s
#: fragments does not open 60 connections at once.
FETCH_WORKERS = 4


class Links:
    """The connections of a release session, opened once and reused by every request: one
    signed client per custodian (``operator:<id>``) and one client for the object store's
    presigned GETs. Opening a client per request costs a TCP connection each (and, before
    ``common.http.tls_context``, a CA-bundle load: docs/PERFORMANCE.md "Live view")."""

    def __init__(self, state: OperatorState) -> None:
        key = state.key()
        self.custodians = {
            ep.custodian_id: SignedClient(ep.url, f"operator:{state.operator_id}", key, timeout=30)
            for ep in state.endpoints()
        }
        self.store = httpx.Client(timeout=120.0, limits=CLIENT_LIMITS, verify=tls_context())

    def close(self) -> None:
        for c in self.custodians.values():
            c.close()
        self.store.close()

    def __enter__(self) -> Links:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class _Rec:
    """One recording to release: its feed or listing item, header and presigned GET."""

    item: dict[str, Any]
    rec: Recording
    url: str


def _rec(storage: StorageApi, site_id: str, item: dict[str, Any]) -> _Rec | None:
    """The header and presigned GET of ``item``: those the live feed's event carries
    (docs/API.md, "Live feed"), else from the justified recording route (one GET). None once
    the recording is deleted."""
    detail = item if item.get("header") and item.get("download_url") else None
    if detail is None:
        detail = _arc_detail(storage, site_id, item)
    header = header_bytes(detail)
    if header is None:
        return None
    return _Rec(item, Recording(header, _metadata(site_id, item)), str(detail["download_url"]))


def _recs(
    storage: StorageApi, site_id: str, items: Sequence[dict[str, Any]], pool: Executor | None
) -> list[_Rec]:
    if pool is None or len(items) < 2:
        found = [_rec(storage, site_id, i) for i in items]
    else:
        found = list(pool.map(lambda i: _rec(storage, site_id, i), items))
    return [r for r in found if r is not None]


@dataclass
class _Batch:
    """One release request (to every custodian) and what it got."""

    session: SessionKey
    releases: Gathered
    released_ms: int


def _release(
    state: OperatorState,
    storage: StorageApi,
    site_id: str,
    recs: Sequence[_Rec],
    *,
    purpose: Purpose,
    justification: SignedStatement,
    links: Links | None,
) -> _Batch:
    """t custodians' releases of ``recs``, one request per custodian (each receipt checked,
    witnesses included: clients/operator/release.py). Refused: the receipts are posted for
    the customer's cross-check and :class:`ReleaseRefused` raised."""
    session = SessionKey.generate()
    try:
        releases = gather_releases(
            state.endpoints(),
            _threshold(recs[0].rec.header),
            state.operator_id,
            state.key(),
            purpose=purpose.value,
            justification=justification,
            session=session,
            recordings=[r.rec for r in recs],
            witnesses=state.config.witnesses,
            clients=None if links is None else links.custodians,
        )
    except ThresholdNotMet as exc:
        # the refused receipts are evidence too (an unwitnessed one may be a split view)
        post_receipts(state, storage, site_id, session, collect_receipts(exc.releases, exc.errors))
        raise _refusal(exc) from exc
    return _Batch(session, releases, now_ms())


def _report(
    state: OperatorState, storage: StorageApi, site_id: str, batch: _Batch, result: ReleaseResult
) -> None:
    """Once a batch is used: wait (bounded) for the custodians still answering, record what
    they did, and post every receipt's checkpoint to the customer's inbox."""
    releases = batch.releases
    releases.finish(LATE_ANSWERS_S)
    result.custodian_errors.update({cid: _reason(e) for cid, e in releases.errors.items()})
    receipts = collect_receipts([*releases, *releases.unused], releases.errors)
    warning = post_receipts(state, storage, site_id, batch.session, receipts)
    if warning is not None:
        result.warnings.append(warning)


def _open(r: _Rec, batch: _Batch, out_dir: Path, store: httpx.Client | None) -> Released:
    """Recover ``r``'s file key from the batch's shares, GET its payload and decrypt it into
    ``out_dir/<camera>/<recording><ext>`` (``refused`` says why when the key is not there)."""
    item = r.item
    out = Released(
        item["camera_id"], item["recording_id"], item["kind"], int(item["start_ms"]), None
    )
    out.end_ms = int(item["end_ms"])
    try:
        file_key = recover_file_key(batch.releases, r.rec, batch.session)
    except CryptoError:
        rid = r.rec.metadata.recording_id
        reasons = {rel.refused[rid][0] for rel in batch.releases if rid in rel.refused}
        out.refused = ", ".join(sorted(reasons)) or "not_released"
        return out
    buf = io.BytesIO()
    download(r.url, buf, client=store)
    buf.seek(0)
    plain = io.BytesIO()
    decrypt_payload(file_key, buf, plain)
    path = out_dir / out.camera_id / (out.recording_id + EXTENSIONS.get(out.kind, ".bin"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(plain.getvalue())
    out.decrypted_ms = now_ms()
    out.path = path
    return out


def _append(out: Released, append_to: Callable[[str], LiveFile]) -> None:
    """Append decrypted video to its camera's growing live file (one bad piece is said in
    ``unplayable`` and left out; it must not end the live view)."""
    if out.path is not None and out.path.suffix == ".ts":
        try:
            append_to(out.camera_id).append(out.path)
        except VideoError as exc:
            out.unplayable = str(exc)


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
    workers: int = FETCH_WORKERS,
) -> ReleaseResult:
    """Fetch headers (storage, justified route), gather t releases for the whole batch (one
    request per custodian), open the shares, GET and decrypt each payload into
    ``out_dir/<camera>/<recording><ext>``, ``workers`` at a time (``on_item`` is told of
    each in the order of ``items``); with ``append_to``, append video to the camera's growing
    live file. Returns once the custodians not waited for have answered (or
    :data:`LATE_ANSWERS_S` passed) and the receipts were posted."""
    with Links(state) as links, ThreadPoolExecutor(max(1, workers)) as pool:
        recs = _recs(storage, site_id, items, pool)
        if not recs:
            return ReleaseResult([])
        batch = _release(
            state,
            storage,
            site_id,
            recs,
            purpose=purpose,
            justification=justification,
            links=links,
        )
        result = ReleaseResult([r.custodian_id for r in batch.releases])
        result.released_ms = batch.released_ms
        opened: list[Future[Released]] = []
        try:
            opened = [pool.submit(_open, r, batch, out_dir, links.store) for r in recs]
            for fut in opened:
                out = fut.result()
                if append_to is not None:
                    _append(out, append_to)
                result.items.append(out)
                if on_item is not None:
                    on_item(out)
        finally:
            for fut in opened:
                fut.cancel()
            _report(state, storage, site_id, batch, result)
    return result


#: How long :func:`release_alarm` waits for a camera to commit the piece it was recording at
#: the trigger (a camera uploads in sequence: once something ending at or after the trigger
#: is committed, everything before it is), before releasing the rest of the pre-alarm window.
PRE_ALARM_SETTLE_S = 5.0


def _committed(storage: StorageApi, site_id: str) -> list[dict[str, Any]]:
    items = [i for i in storage.recordings(site_id, arc=True) if i["status"] == "committed"]
    items.sort(key=lambda i: (i["camera_id"], i["start_ms"]))
    return items


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return str(item["camera_id"]), str(item["recording_id"])


def _settled(storage: StorageApi, site_id: str, trigger: int, cameras: set[str]) -> list[Any]:
    """The committed recordings once every camera of ``cameras`` has committed one ending at
    or after the trigger (or :data:`PRE_ALARM_SETTLE_S` passed)."""
    deadline = time.monotonic() + PRE_ALARM_SETTLE_S
    while True:
        items = _committed(storage, site_id)
        reached = {i["camera_id"] for i in items if int(i["end_ms"]) >= trigger}
        if cameras <= reached or time.monotonic() >= deadline:
            return items
        time.sleep(0.1)


def release_alarm(
    state: OperatorState,
    alarm_id: str,
    out_dir: Path,
    on_item: Callable[[Released], None] | None = None,
    *,
    pre_alarm_only: bool = False,
) -> ReleaseResult:
    """Release and decrypt the recordings of an alarm window: pre-alarm recordings first
    (one batch), then those committed meanwhile (a second look, once each camera has
    committed past the trigger: the piece a camera was recording at the trigger is sealed
    once it sees the alarm, often after the first listing), then the rest (not with
    ``pre_alarm_only``, what an operator watching the live view asks for beside it: there
    the second look takes only what ended by the trigger, which the live view leaves to this
    batch)."""
    a = alarm(state, alarm_id)
    site_id = a["site_id"]
    event = signed_from_json(a["event"])
    trigger = int(a["triggered_at_ms"])
    done: set[tuple[str, str]] = set()
    total = ReleaseResult([])
    with state.storage() as storage:
        cameras: set[str] = set()
        for look in ("pre", "pre-late", "post"):
            if pre_alarm_only and look == "post":
                break
            if look == "pre-late":
                items = _settled(storage, site_id, trigger, cameras)
            else:
                items = _committed(storage, site_id)
                cameras = cameras or {i["camera_id"] for i in items}
            is_pre = look != "post"
            batch = [
                i
                for i in items
                if (i["start_ms"] < trigger) == is_pre
                and _key(i) not in done
                and not (look == "pre-late" and pre_alarm_only and i["end_ms"] > trigger)
            ]
            if not batch:
                continue
            done.update(_key(i) for i in batch)

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
            total.merge(res)
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
