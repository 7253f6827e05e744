"""The release protocol: one request checked, its stanzas opened and re-sealed, logged, answered.

Transaction boundaries ("every release is in the log before the share leaves"): a release
request is checked, its stanzas opened and re-sealed in memory, then ONE writer transaction
registers the alarm (first presentation), appends the log entry (release or refusal), writes
the access notice and its outbox row and remembers the request nonce, and commits; only then
are the sealed shares put into the response. A refusal is logged the same way, before the
error is returned.

Group commit (groupcommit.py): the requests that reach the writer while it is busy share its
next transaction: one nonce INSERT, the alarm/consent state decided once per justification,
one deletion and retention re-check, one log INSERT, one notice and one outbox INSERT, one
COMMIT, all decided at one time (the group's clock); each is answered with its receipt
against the checkpoint of the group's last entry. The checks before the lock share one
connection (reads in autocommit on PostgreSQL: LogStore.reader).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from crypto.age.x25519 import check_public_key
from crypto.ed25519 import Ed25519PublicKey
from crypto.errors import KeyFormatError, SignatureError, StatementError
from crypto.metadata import RecordingMetadata
from crypto.statements import (
    AlarmEvent,
    Consent,
    DeviceKind,
    OperatorRole,
    Purpose,
    SignedStatement,
    parse_signed,
    verify,
)
from crypto.tlog import leaf_hash, root_from_leaf_hashes
from escrow_service.core.auth import Caller
from escrow_service.core.errors import Reason, Refusal
from escrow_service.schemas.release import ItemResult, ReleaseIn, ReleaseItemIn, ReleaseOutcome
from escrow_service.services.custodian import Custodian, stored_key
from escrow_service.services.ends import deleted_among, recording_key
from escrow_service.services.groupcommit import GroupCommit
from escrow_service.services.justification import alarm_state, camera_profile, consent_state
from escrow_service.services.nonces import NonceStore
from escrow_service.services.notices import Notices
from escrow_service.services.opener import Item, Opener
from escrow_service.services.policy import AlarmWindow, check_alarm_item, check_consent_item
from escrow_service.services.queries import Q
from escrow_service.services.record import (
    ReleaseRecord,
    request_fields,
    safe_text,
    statement_summary,
)
from escrow_service.services.retention import expired_before, refuse_expired
from escrow_service.services.tlog_store import Appended

SESSION_KEY_SIZE = 32

Operator = tuple[str, Ed25519PublicKey, OperatorRole]
#: Decides a request under the lock: (connection, the group's time, the group's memo of
#: decisions by justification); raises the refusal.
Decide = Callable[[Connection, int, dict[Any, Refusal | None]], None]


@dataclass(frozen=True, slots=True)
class Plan:
    """How a justified request is decided: ``check`` each recording (raises the item's
    refusal), ``decide`` under the lock before logging, and (large batches only) check the
    request-level state ``before_opening`` the stanzas."""

    check: Callable[[RecordingMetadata], None]
    decide: Decide
    before_opening: Callable[[], None] | None = None


@dataclass(slots=True)
class Pending:
    """A request waiting for the writer: a release to decide and log (``decide`` set), or a
    refusal to log (``refusal`` set)."""

    rec: ReleaseRecord
    nonce: Caller | None
    req: ReleaseIn | None = None
    results: list[ItemResult] = field(default_factory=list)
    decide: Decide | None = None
    refusal: Refusal | None = None


@dataclass(frozen=True, slots=True)
class Written:
    """A request's logged outcome: its entry, the group's tree size, per-item results and the
    refusal (None: released)."""

    appended: Appended
    size: int
    results: list[ItemResult]
    refusal: Refusal | None


def _memoized(memo: dict[Any, Refusal | None], key: Any, decide: Callable[[], None]) -> None:
    """Decide once per ``key`` in a group: in one transaction at one time the same
    justification's state decides the same (the writes in between are this decision's own)."""
    if key in memo:
        known = memo[key]
        if known is not None:
            raise Refusal(known.reason, known.message)
        return
    try:
        decide()
    except Refusal as refusal:
        memo[key] = refusal
        raise
    memo[key] = None


def _refuse_gone(
    conn: Connection,
    site_id: str | None,
    items: Sequence[ReleaseItemIn],
    results: list[ItemResult | None] | list[ItemResult],
    indexes: list[int],
    now: int,
) -> list[int]:
    """Refuse the items at ``indexes`` that the customer deleted (``recording_deleted``) or
    whose end is past the site's retention (``retention_expired``); the indexes still
    passing."""
    passing = _refuse_deleted(conn, items, results, indexes)
    return refuse_expired(conn, site_id, items, results, passing, now)


def _refuse_deleted(
    conn: Connection,
    items: Sequence[ReleaseItemIn],
    results: list[ItemResult | None] | list[ItemResult],
    indexes: list[int],
) -> list[int]:
    """Refuse, in ``results``, each of the items at ``indexes`` whose recording the customer
    deleted (``recording_deleted``); returns the indexes still passing."""
    gone = deleted_among(conn, (recording_key(items[i].metadata) for i in indexes))
    if not gone:
        return indexes
    still = []
    for i in indexes:
        m = items[i].metadata
        if recording_key(m) in gone:
            results[i] = ItemResult(
                m.recording_id, None, Reason.RECORDING_DELETED, "the customer deleted it"
            )
        else:
            still.append(i)
    return still


def _claimed_site(justification: bytes | None) -> str | None:
    """The site a justification names, before anything is verified (as the alarm and consent
    checks record it): a request refused earlier (purpose, role, session key, operator) is
    then among that site's log entries, so its customer's audit shows who tried."""
    if justification is None:
        return None
    try:
        claimed = parse_signed(justification).unverified_statement
    except StatementError:
        return None
    return claimed.site_id if isinstance(claimed, AlarmEvent | Consent) else None


class Releases:
    """The release protocol over the custodian's state, opener, nonces and notices."""

    def __init__(
        self, custodian: Custodian, opener: Opener, nonces: NonceStore, notices: Notices
    ) -> None:
        self._custodian = custodian
        self._settings = custodian.settings
        self._opener = opener
        self._nonces = nonces
        self._notices = notices
        self._group: GroupCommit[Pending, Written] = GroupCommit(custodian.log, self._write_group)

    def release(
        self,
        claimed_operator: str | None,
        auth: Callable[[], Caller],
        body: Callable[[], ReleaseIn],
    ) -> ReleaseOutcome:
        """Run the release protocol for one request; always returns a logged outcome.

        ``auth()`` verifies the request signature and returns the caller; ``body()`` decodes
        the request; both raise :class:`Refusal`.
        """
        now = self._custodian.clock()
        rec = ReleaseRecord(release_id=secrets.token_urlsafe(12), time_ms=now)
        rec.operator_id = claimed_operator
        nonce: Caller | None = None
        try:
            caller = auth()
            if caller.kind != "operator":
                raise Refusal(Reason.WRONG_PRINCIPAL, "releases are requested by operators")
            operator_id = caller.ident
            rec.operator_id, rec.operator_verified = operator_id, True
            nonce = caller
            req = body()
            rec.site_id = _claimed_site(req.justification)
            rec.item_count = len(req.items)
            rec.purpose = safe_text(req.purpose)
            signed = self._check_request(rec, req)
            with self._custodian.log.reader() as conn:  # one connection for the checks
                operator = self._operator(conn, operator_id)
                claimed = signed.unverified_statement
                if isinstance(claimed, AlarmEvent):
                    plan = self._alarm_plan(conn, rec, signed, claimed, operator)
                elif isinstance(claimed, Consent):
                    plan = self._consent_plan(conn, rec, signed, claimed, operator)
                else:  # pragma: no cover - checked by _check_request
                    raise Refusal(Reason.WRONG_PURPOSE, "not an alarm event or consent")
                prelim, passing = self._check_items(req, plan.check)
                passing = _refuse_gone(conn, rec.site_id, req.items, prelim, passing, now)
            if (
                plan.before_opening is not None
                and len(passing) >= self._settings.parallel_threshold
            ):
                # Request-level checks before an expensive opening (decided again under the lock).
                plan.before_opening()
            results = self._open(rec, req, prelim, passing)
            return self._logged(Pending(rec, nonce, req, results, plan.decide))
        except Refusal as refusal:
            return self._logged(Pending(rec, nonce, refusal=refusal))

    def _check_request(self, rec: ReleaseRecord, req: ReleaseIn) -> SignedStatement:
        """Request-level checks: justification present and of the purpose's type, session
        key, batch size. Returns the (not yet verified) justification."""
        if req.justification is None:
            raise Refusal(Reason.NO_JUSTIFICATION, "a release needs an AlarmEvent or Consent")
        if req.purpose not in {p.value for p in Purpose}:
            raise Refusal(
                Reason.WRONG_PURPOSE,
                "purpose must be 'alarm-verification' or 'maintenance'",
            )
        if len(req.session_key) != SESSION_KEY_SIZE:
            raise Refusal(Reason.BAD_SESSION_KEY, "session key must be 32 bytes (X25519)")
        try:
            # A low-order or non-canonical point would make every sealing fail (or seal
            # to a key everyone can compute): refuse the request, logged, before opening.
            check_public_key(req.session_key, "session key")
        except KeyFormatError as exc:
            raise Refusal(Reason.BAD_SESSION_KEY, str(exc)) from None
        rec.session_key = req.session_key
        if len(req.items) > self._settings.max_batch:
            raise Refusal(Reason.BATCH_TOO_LARGE, f"at most {self._settings.max_batch} recordings")
        try:
            signed = parse_signed(req.justification)
        except StatementError as exc:
            raise Refusal(Reason.MALFORMED_JUSTIFICATION, str(exc)) from None
        rec.justification = statement_summary(signed)
        purpose = Purpose(req.purpose)
        want = AlarmEvent if purpose is Purpose.ALARM_VERIFICATION else Consent
        if not isinstance(signed.unverified_statement, want):
            raise Refusal(
                Reason.WRONG_PURPOSE,
                f"purpose {purpose.value} needs a {want.TYPE} justification, "
                f"got {signed.statement_type}",
            )
        return signed

    @staticmethod
    def _operator(conn: Connection, operator_id: str) -> Operator:
        row = conn.execute(Q.operator, {"operator_id": operator_id}).first()
        if row is None:
            raise Refusal(Reason.OPERATOR_NOT_REGISTERED, f"operator {operator_id!r} unknown")
        return operator_id, stored_key(row.operator_key), OperatorRole(row.role)

    @staticmethod
    def _site_state(
        conn: Connection, site_id: str
    ) -> tuple[Ed25519PublicKey, int | None, dict[str, Mapping[str, Any]]]:
        """The pinned customer key, the site's access period and its enrolled devices."""
        row = conn.execute(Q.site_state, {"site_id": site_id}).first()
        if row is None:
            raise Refusal(Reason.UNKNOWN_SITE, f"site {site_id!r} is not enrolled here")
        devs = conn.execute(Q.site_devices, {"site_id": site_id}).mappings()
        by_id: dict[str, Mapping[str, Any]] = {str(d["device_id"]): dict(d) for d in devs}
        period = None if row.access_period_s is None else int(row.access_period_s)
        return stored_key(row.customer_key), period, by_id

    @staticmethod
    def _check_items(
        req: ReleaseIn, check: Callable[[RecordingMetadata], None]
    ) -> tuple[list[ItemResult | None], list[int]]:
        """Policy of each item; returns per-item refusals (None = passed) and passing indexes."""
        results: list[ItemResult | None] = []
        passing: list[int] = []
        seen: set[tuple[str, str, str]] = set()
        for i, item in enumerate(req.items):
            m = item.metadata
            key = (m.site_id, m.camera_id, m.recording_id)
            try:
                if key in seen:
                    raise Refusal(Reason.DUPLICATE_ITEM, "recording listed twice in the request")
                seen.add(key)
                check(m)
            except Refusal as r:
                results.append(ItemResult(m.recording_id, None, r.reason, r.message))
                continue
            results.append(None)
            passing.append(i)
        return results, passing

    def _open(
        self,
        rec: ReleaseRecord,
        req: ReleaseIn,
        results: list[ItemResult | None],
        passing: list[int],
    ) -> list[ItemResult]:
        items: list[Item] = [
            (
                req.items[i].stanza_args,
                req.items[i].stanza_body,
                req.items[i].metadata,
                req.items[i].stanza_type,
            )
            for i in passing
        ]

        def meanwhile() -> None:
            rec.leaves = [leaf_hash(it.metadata.associated_data()) for it in req.items]
            rec.root_if_all_pass = (
                passing,
                root_from_leaf_hashes([rec.leaves[i] for i in passing]),
            )

        opened = self._opener.open_and_seal(items, req.session_key, rec.release_id, meanwhile)
        for i, o in zip(passing, opened, strict=True):
            rid = req.items[i].metadata.recording_id
            results[i] = ItemResult(rid, o.sealed, o.reason, o.message)
        return [r for r in results if r is not None]

    def _alarm_plan(
        self,
        conn: Connection,
        rec: ReleaseRecord,
        signed: SignedStatement,
        claimed: AlarmEvent,
        operator: Operator,
    ) -> Plan:
        """Checks of an alarm verification: an ARC operator, the site's panel signed the
        event; each recording inside the alarm window of its camera."""
        if operator[2] is not OperatorRole.OPERATOR:
            raise Refusal(Reason.ROLE_NOT_ALLOWED, "alarm verification is for ARC operators")
        rec.site_id = claimed.site_id
        _, site_period, devs = self._site_state(conn, claimed.site_id)
        panel = devs.get(claimed.panel_id)
        if panel is None or panel["kind"] != DeviceKind.PANEL.value:
            raise Refusal(
                Reason.PANEL_NOT_OF_SITE,
                f"{claimed.panel_id!r} is not an enrolled panel of site {claimed.site_id!r}",
            )
        self._check_panel_key(conn, signed, claimed)
        try:
            event = verify(signed, stored_key(panel["device_key"]), AlarmEvent)
        except (SignatureError, KeyFormatError) as exc:
            raise Refusal(Reason.BAD_SIGNATURE, f"alarm event: {exc}") from None
        digest = bytes.fromhex(rec.justification["sha256"]) if rec.justification else b""
        period_s = site_period or self._settings.access_period_s
        window = AlarmWindow(
            event.site_id, event.triggered_at_ms, event.triggered_at_ms + period_s * 1000
        )
        profiles = {cid: camera_profile(d) for cid, d in devs.items()}
        custodian = self._custodian

        def check(m: RecordingMetadata) -> None:
            check_alarm_item(m, window, profiles.get(m.camera_id))

        def before_opening() -> None:
            alarm_state(custodian, None, event, digest, period_s, rec.time_ms)

        def decide(conn: Connection, now: int, memo: dict[Any, Refusal | None]) -> None:
            def state() -> None:
                register = alarm_state(custodian, conn, event, digest, period_s, now)
                if register is not None:
                    conn.execute(Q.alarm_insert, register)

            key = ("alarm", event.site_id, event.panel_id, event.event_id, digest, period_s)
            _memoized(memo, key, state)

        return Plan(check, decide, before_opening)

    @staticmethod
    def _check_panel_key(conn: Connection, signed: SignedStatement, claimed: AlarmEvent) -> None:
        """Refuse an alarm whose signer the customer revoked (DeviceRevocation) at or before
        its trigger time; after a rotation the old key no longer verifies anyway."""
        key = {
            "site_id": claimed.site_id,
            "device_id": claimed.panel_id,
            "device_key": signed.signer.to_text(),
        }
        revoked_from = conn.execute(Q.device_revoked_from, key).scalar()
        if revoked_from is not None and claimed.triggered_at_ms >= int(revoked_from):
            raise Refusal(
                Reason.DEVICE_REVOKED,
                f"alarm signed by a key of panel {claimed.panel_id!r} the customer revoked "
                f"from {int(revoked_from)} ms",
            )

    def _consent_plan(
        self,
        conn: Connection,
        rec: ReleaseRecord,
        signed: SignedStatement,
        claimed: Consent,
        operator: Operator,
    ) -> Plan:
        """Checks of a release under consent: signed by the pinned customer key, naming this
        operator, valid and not revoked; each recording inside what it covers."""
        rec.site_id = claimed.site_id
        customer_key, _, devs = self._site_state(conn, claimed.site_id)
        try:
            consent = verify(signed, customer_key, Consent)
        except (SignatureError, KeyFormatError) as exc:
            raise Refusal(Reason.BAD_SIGNATURE, f"consent: {exc}") from None
        operator_id, operator_key, _ = operator
        if consent.grantee_id != operator_id or (
            consent.grantee_key is not None and consent.grantee_key != operator_key
        ):
            raise Refusal(Reason.CONSENT_WRONG_GRANTEE, "the consent names another grantee")
        custodian = self._custodian
        consent_state(custodian, conn, consent, rec.time_ms)
        profiles = {cid: camera_profile(d) for cid, d in devs.items()}

        def check(m: RecordingMetadata) -> None:
            check_consent_item(m, consent, profiles.get(m.camera_id))

        digest = rec.justification["sha256"] if rec.justification else ""

        def decide(conn: Connection, now: int, memo: dict[Any, Refusal | None]) -> None:
            key = ("consent", consent.site_id, consent.consent_id, digest)
            _memoized(memo, key, lambda: consent_state(custodian, conn, consent, now))

        return Plan(check, decide)

    def _logged(self, pending: Pending) -> ReleaseOutcome:
        """Log ``pending`` (with the requests that wait for the writer with it) and answer it
        with its receipt, once its transaction committed."""
        written = self._group.submit(pending)
        receipt = self._custodian.receipt(written.appended, written.size)
        return ReleaseOutcome(pending.rec.release_id, receipt, written.results, written.refusal)

    def _write_group(self, conn: Connection, group: Sequence[Pending]) -> list[Written]:
        """Decide the releases of ``group`` under the lock and log every outcome, with the
        notices and nonces, in the writer transaction ``conn``; a refusal decided here (replay,
        cancel, period, revocation) is logged instead, nothing released."""
        custodian = self._custodian
        now = custodian.clock()
        fresh = self._nonces.remember_many(
            conn,
            [
                None
                if p.nonce is None
                or (p.refusal is not None and p.refusal.reason is Reason.REPLAYED_REQUEST)
                else (p.nonce.keyid, p.nonce.nonce, p.nonce.expires_ms)
                for p in group
            ],
        )
        memo: dict[Any, Refusal | None] = {}
        refusals: list[Refusal | None] = []
        # Copies: a group that fails is written again job by job, from the same results.
        results_of = [list(p.results) for p in group]
        for p, new in zip(group, fresh, strict=True):
            refusal = p.refusal
            if not new:
                message = "this request signature nonce was already used"
                refusal = Refusal(
                    Reason.REPLAYED_REQUEST, message if refusal is None else "nonce already used"
                )
            elif refusal is None and p.decide is not None:
                try:
                    p.decide(conn, now, memo)
                except Refusal as decided:
                    refusal = decided
            refusals.append(refusal)
        # A deletion or retention taken since the items were checked wins: decided under the
        # lock, once for the group.
        self._refuse_gone_now(
            conn,
            [(p, res) for p, res, r in zip(group, results_of, refusals, strict=True) if r is None],
            now,
        )
        entries: list[tuple[Mapping[str, Any], str, str | None, int]] = []
        # Per request: item results, released recordings, the fields of its entry.
        outcomes: list[tuple[list[ItemResult], list[RecordingMetadata], dict[str, Any]]] = []
        for p, results, refusal in zip(group, results_of, refusals, strict=True):
            rec = p.rec
            metas = [it.metadata for it in p.req.items] if p.req is not None else []
            if refusal is None:
                released = [
                    m for m, r in zip(metas, results, strict=True) if r.sealed_share is not None
                ]
                fields = request_fields(rec, results, metas)
                kind = "release" if released else "refusal"
                entry = custodian.entry(kind, rec.time_ms, {"reason": None, **fields})
                outcomes.append((results, released, fields))
            else:
                fields = request_fields(rec, [], [])
                fields["refused"] = {"count": rec.item_count, "reasons": {}}
                kind = "refusal"
                entry = custodian.entry(
                    kind, rec.time_ms, {"reason": refusal.reason.value, **fields}
                )
                items = [
                    ItemResult(m.recording_id, None, refusal.reason, refusal.message)
                    for m in (metas if p.refusal is None else [])
                ]
                outcomes.append((items, [], fields))
            entries.append((entry, kind, rec.site_id, rec.time_ms))
        appended = custodian.log.append_many(conn, entries)
        self._notices.queue_many(
            conn,
            [
                (p.rec, a.index, fields, released)
                for p, a, (_, released, fields) in zip(group, appended, outcomes, strict=True)
                if released and p.rec.site_id is not None
            ],
        )
        size = appended[-1].index + 1
        return [
            Written(a, size, results, refusal)
            for a, (results, _, _), refusal in zip(appended, outcomes, refusals, strict=True)
        ]

    @staticmethod
    def _refuse_gone_now(
        conn: Connection, group: Sequence[tuple[Pending, list[ItemResult]]], now: int
    ) -> None:
        """:func:`_refuse_gone` of the opened items of every release in ``group`` (in its
        results): one deletion query per camera and one retention read per site."""
        opened = [
            (p, results, i, p.req.items[i].metadata)
            for p, results in group
            if p.req is not None
            for i, r in enumerate(results)
            if r.sealed_share is not None
        ]
        if not opened:
            return
        gone = deleted_among(conn, (recording_key(m) for _, _, _, m in opened))
        sites = {p.rec.site_id for p, _, _, _ in opened}
        horizons = {site: expired_before(conn, site, now) for site in sites}
        for p, results, i, m in opened:
            horizon = horizons[p.rec.site_id]
            if recording_key(m) in gone:
                results[i] = ItemResult(
                    m.recording_id, None, Reason.RECORDING_DELETED, "the customer deleted it"
                )
            elif horizon is not None and m.end_ms < horizon:
                results[i] = ItemResult(
                    m.recording_id,
                    None,
                    Reason.RETENTION_EXPIRED,
                    "older than the customer's retention",
                )
