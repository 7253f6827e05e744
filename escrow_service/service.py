"""The custodian's logic: pinning and enrollment, releases, revocations, cancels, notices.

Transaction boundaries (invariant 3, "every release is in the log before the share leaves"):
a release request is checked, its stanzas opened and re-sealed in memory, then ONE writer
transaction registers the alarm (first presentation), appends the log entry (release or
refusal), writes the access notice and its outbox row and remembers the request nonce, and
commits; only then are the sealed shares put into the response. A refusal is logged the same
way, before the error is returned. Every state change (enrollment, key change, operator
registration, revocation, cancel, site setting) is a log entry in the transaction that makes it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import secrets
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from crypto.ed25519 import Ed25519PublicKey
from crypto.errors import KeyFormatError, SignatureError, StatementError
from crypto.metadata import RecordingMetadata
from crypto.statements import (
    AlarmCancel,
    AlarmEvent,
    CameraProfile,
    Consent,
    DeviceEnrollment,
    DeviceKind,
    OperatorRegistration,
    OperatorRole,
    Purpose,
    Revocation,
    SignedStatement,
    SiteKeys,
    Statement,
    parse_signed,
    verify,
    verify_site_keys,
)
from crypto.tlog import leaf_hash, root_from_leaf_hashes
from crypto.x25519 import check_public_key
from escrow_service.auth import Caller
from escrow_service.db.models import (
    alarm_cancels,
    alarms,
    devices,
    nonces,
    notices,
    operators,
    outbox,
    revocations,
    sites,
)
from escrow_service.errors import Reason, Refusal
from escrow_service.keys import CustodianKeys
from escrow_service.opener import Item, Opener
from escrow_service.policy import AlarmWindow, check_alarm_item, check_consent_item
from escrow_service.settings import EscrowSettings
from escrow_service.tlog_store import Appended, LogStore

ENTRY_VERSION = 1
SESSION_KEY_SIZE = 32


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# --- inputs and outputs -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReleaseItemIn:
    metadata: RecordingMetadata
    stanza_args: tuple[str, ...]
    stanza_body: bytes


@dataclass(frozen=True, slots=True)
class ReleaseIn:
    """A release request after JSON decoding (shape checked, meaning not yet)."""

    purpose: str
    justification: bytes | None  # canonical bytes of the signed statement, if any
    session_key: bytes
    items: tuple[ReleaseItemIn, ...]


@dataclass(frozen=True, slots=True)
class ItemResult:
    recording_id: str
    sealed_share: bytes | None
    reason: Reason | None
    message: str | None


@dataclass(frozen=True, slots=True)
class LogReceipt:
    """Where an entry landed: its index, exact bytes, and the proof against a checkpoint."""

    index: int
    entry: bytes
    checkpoint: bytes
    inclusion_proof: list[bytes]

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "entry": self.entry.decode("utf-8"),
            "tree_size": self.index + 1,
            "checkpoint": self.checkpoint.decode("utf-8"),
            "inclusion_proof": [b64(h) for h in self.inclusion_proof],
        }


@dataclass(frozen=True, slots=True)
class ReleaseOutcome:
    release_id: str
    receipt: LogReceipt
    items: list[ItemResult]
    refusal: Refusal | None = None


class StatementRefused(Refusal):
    """A posted statement is refused (not a release: not logged)."""


@dataclass
class _Record:
    """What the log entry of one release request says, filled in as checks proceed."""

    release_id: str
    time_ms: int
    operator_id: str | None = None
    operator_verified: bool = False
    purpose: str | None = None
    site_id: str | None = None
    session_key: bytes | None = None
    justification: dict[str, Any] | None = None
    item_count: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # Computed while the opener works: leaf hash of each item's metadata AD (request order),
    # and the released-set root if every item that passed the policy is released.
    leaves: list[bytes] | None = None
    root_if_all_pass: tuple[list[int], bytes] | None = None


def _statement_summary(signed: SignedStatement) -> dict[str, Any]:
    st = signed.unverified_statement
    out: dict[str, Any] = {"sha256": signed.statement_hash().hex(), "type": signed.statement_type}
    if isinstance(st, AlarmEvent):
        out.update(
            panel_id=st.panel_id,
            event_id=st.event_id,
            counter=st.counter,
            alarm_type=st.alarm_type.value,
            triggered_at_ms=st.triggered_at_ms,
        )
    elif isinstance(st, Consent):
        out.update(consent_id=st.consent_id, not_after_ms=st.not_after_ms)
    return out


@functools.lru_cache(maxsize=4096)
def stored_key(text: str) -> Ed25519PublicKey:
    """A public key as this custodian stored it (operators, customers, devices), parsed.

    Parsing checks the point is in the prime-order subgroup, ~0.1 ms, four times per release
    request; the result is an immutable value of the text alone, so it is memoized.
    """
    return Ed25519PublicKey.from_text(text)


def _safe_text(value: object, limit: int = 64) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= limit and value.isprintable():
        return value
    return None


def _profile(row: Mapping[str, Any] | None) -> CameraProfile | None:
    if row is None or row["kind"] != DeviceKind.CAMERA.value:
        return None
    return CameraProfile(
        pre_alarm_s=int(row["pre_alarm_s"]),
        post_alarm_s=int(row["post_alarm_s"]),
        live_allowed=bool(row["live_allowed"]),
        stills_only=bool(row["stills_only"]),
    )


class _Q:
    """The statements of the release path, built once.

    Building a SQLAlchemy statement and its cache key took ~0.13 ms, about as long as running
    it on SQLite; a release runs a dozen. Values are bound at execution.
    """

    operator_key = select(operators.c.operator_key).where(
        operators.c.operator_id == bindparam("operator_id")
    )
    customer_key = select(sites.c.customer_key).where(sites.c.site_id == bindparam("site_id"))
    operator = select(operators).where(operators.c.operator_id == bindparam("operator_id"))
    site_state = select(sites.c.customer_key, sites.c.access_period_s).where(
        sites.c.site_id == bindparam("site_id")
    )
    site_devices = select(devices).where(devices.c.site_id == bindparam("site_id"))
    alarm = select(alarms).where(
        alarms.c.site_id == bindparam("site_id"),
        alarms.c.panel_id == bindparam("panel_id"),
        alarms.c.event_id == bindparam("event_id"),
    )
    alarm_last_counter = select(func.max(alarms.c.counter)).where(
        alarms.c.site_id == bindparam("site_id"), alarms.c.panel_id == bindparam("panel_id")
    )
    alarm_cancelled = select(alarm_cancels.c.cancelled_ms).where(
        alarm_cancels.c.site_id == bindparam("site_id"),
        alarm_cancels.c.panel_id == bindparam("panel_id"),
        alarm_cancels.c.event_id == bindparam("event_id"),
    )
    alarm_insert = alarms.insert()
    revoked = select(revocations.c.revoked_ms).where(
        revocations.c.site_id == bindparam("site_id"),
        revocations.c.consent_id == bindparam("consent_id"),
    )
    notice_insert = notices.insert()
    outbox_insert = outbox.insert()
    # INSERT ... ON CONFLICT DO NOTHING RETURNING, per dialect (see _remember_nonce).
    nonce_insert: ClassVar[Mapping[str, Any]] = {
        name: insert(nonces)
        .on_conflict_do_nothing(index_elements=[nonces.c.keyid, nonces.c.nonce])
        .returning(nonces.c.nonce)
        for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
    }


class EscrowService:
    def __init__(
        self,
        engine: Engine,
        keys: CustodianKeys,
        settings: EscrowSettings,
        log: LogStore,
        opener: Opener,
        clock: Callable[[], int],
    ) -> None:
        self.engine = engine
        self.keys = keys
        self.settings = settings
        self.log = log
        self.opener = opener
        self.clock = clock
        self.arc_key: Ed25519PublicKey | None = None
        if settings.arc_public_key:
            self.arc_key = Ed25519PublicKey.from_text(settings.arc_public_key, "ARC key")

    # --- common ---------------------------------------------------------------------------

    def _entry(self, entry_type: str, now: int, /, **fields: Any) -> dict[str, Any]:
        return {
            "v": ENTRY_VERSION,
            "type": entry_type,
            "custodian_id": self.keys.custodian_id,
            "time_ms": now,
            **fields,
        }

    def receipt(self, appended: Appended) -> LogReceipt:
        size = appended.index + 1
        return LogReceipt(
            appended.index,
            appended.entry,
            self.log.checkpoint(size),
            self.log.inclusion_proof(appended.index, size),
        )

    def key_for(self, kind: str, ident: str) -> Ed25519PublicKey | None:
        with self.engine.connect() as conn:
            if kind == "operator":
                text = conn.execute(_Q.operator_key, {"operator_id": ident}).scalar()
            else:
                text = conn.execute(_Q.customer_key, {"site_id": ident}).scalar()
        if text is None:
            return None
        return stored_key(text)

    def remember_nonce(self, keyid: str, nonce: str, expires_ms: int) -> None:
        # Every write goes through the log's writer: writers of this process queue on its
        # lock, rather than meeting on SQLite's write lock, whose busy handler sleeps
        # 1-100 ms (a release commit waiting on this one was a latency tail).
        with self.log.writer() as conn:
            self._remember_nonce(conn, keyid, nonce, expires_ms)

    def _remember_nonce(self, conn: Connection, keyid: str, nonce: str, expires_ms: int) -> None:
        """Record a signature nonce, or refuse it as a replay.

        One atomic ``INSERT ... ON CONFLICT DO NOTHING`` on the (keyid, nonce) primary key: two
        concurrent requests with the same nonce cannot both pass (a select-then-insert could,
        and the loser then died on the unique constraint with a 500). The statement never
        raises on a duplicate, so the transaction stays usable for logging the refusal.
        """
        values = {"keyid": keyid, "nonce": nonce, "expires_ms": expires_ms}
        stmt = _Q.nonce_insert.get(conn.dialect.name)
        if stmt is not None:
            inserted = conn.execute(stmt, values).first() is not None
        else:  # pragma: no cover - only PostgreSQL and SQLite are supported
            try:
                conn.execute(nonces.insert().values(**values))
                inserted = True
            except IntegrityError:
                inserted = False
        if not inserted:
            raise Refusal(Reason.REPLAYED_REQUEST, "this request signature nonce was already used")

    def purge_nonces(self) -> int:
        with self.log.writer() as conn:  # see remember_nonce
            res = conn.execute(nonces.delete().where(nonces.c.expires_ms < self.clock()))
            return int(res.rowcount or 0)

    @staticmethod
    def _parse(data: bytes, expected: type[Statement]) -> SignedStatement:
        try:
            signed = parse_signed(data)
        except StatementError as exc:
            raise StatementRefused(Reason.MALFORMED_REQUEST, f"statement: {exc}") from None
        if not isinstance(signed.unverified_statement, expected):
            raise StatementRefused(
                Reason.MALFORMED_REQUEST,
                f"expected a {expected.TYPE} statement, got {signed.statement_type}",
            )
        return signed

    def _pinned(self, conn: Connection, site_id: str) -> SiteKeys:
        row = conn.execute(select(sites.c.site_keys).where(sites.c.site_id == site_id)).first()
        if row is None:
            raise StatementRefused(Reason.UNKNOWN_SITE, f"site {site_id!r} is not enrolled here")
        st = parse_signed(bytes(row[0])).unverified_statement
        if not isinstance(st, SiteKeys):  # pragma: no cover - stored after verification
            raise RuntimeError("stored site keys are not SiteKeys")
        return st

    def _verify(self, signed: SignedStatement, key: Ed25519PublicKey, t: type[Any]) -> Any:
        try:
            return verify(signed, key, t)
        except (SignatureError, KeyFormatError) as exc:
            raise StatementRefused(Reason.BAD_SIGNATURE, str(exc)) from None
        except StatementError as exc:
            raise StatementRefused(Reason.MALFORMED_REQUEST, str(exc)) from None

    # --- enrollment (pinning) ----------------------------------------------------------------

    def enroll_site(self, data: bytes) -> LogReceipt | None:
        """Pin a site's keys (first enrollment) or apply a change signed by the pinned key.
        Returns None when the exact same statement is already pinned (idempotent)."""
        signed = self._parse(data, SiteKeys)
        claimed = signed.unverified_statement
        if not isinstance(claimed, SiteKeys):  # pragma: no cover - checked by _parse
            raise StatementRefused(Reason.MALFORMED_REQUEST, "not SiteKeys")
        now = self.clock()
        with self.log.writer() as conn:
            row = conn.execute(select(sites).where(sites.c.site_id == claimed.site_id)).first()
            pinned = None
            if row is not None:
                if bytes(row.site_keys) == data:
                    return None
                pinned = self._pinned(conn, claimed.site_id)
            try:
                site = verify_site_keys(signed, pinned)
            except (SignatureError, KeyFormatError) as exc:
                raise StatementRefused(
                    Reason.PIN_MISMATCH, f"not signed by the pinned customer key: {exc}"
                ) from None
            except StatementError as exc:
                raise StatementRefused(Reason.STATEMENT_CONFLICT, str(exc)) from None
            if not any(c.escrow_key == self.keys.escrow_public for c in site.custodians):
                raise StatementRefused(
                    Reason.CUSTODIAN_NOT_IN_SET,
                    "this custodian's escrow key is not in the site's custodian set",
                )
            values = {
                "customer_key": site.customer_key.to_text(),
                "keys_version": site.version,
                "site_keys": data,
                "threshold": site.threshold,
                "updated_ms": now,
            }
            if row is None:
                conn.execute(sites.insert().values(site_id=site.site_id, **values))
            else:
                conn.execute(sites.update().where(sites.c.site_id == site.site_id).values(**values))
            entry = self._entry(
                "site-keys",
                now,
                site_id=site.site_id,
                version=site.version,
                customer_key=site.customer_key.to_text(),
                previous_customer_key=None if pinned is None else pinned.customer_key.to_text(),
                threshold=site.threshold,
                custodians=[c.custodian_id for c in site.custodians],
                statement_sha256=signed.statement_hash().hex(),
            )
            appended = self.log.append(
                conn, entry, kind="site-keys", site_id=site.site_id, now_ms=now
            )
        return self.receipt(appended)

    def enroll_device(self, site_id: str, data: bytes) -> LogReceipt | None:
        signed = self._parse(data, DeviceEnrollment)
        now = self.clock()
        with self.log.writer() as conn:
            pinned = self._pinned(conn, site_id)
            dev: DeviceEnrollment = self._verify(signed, pinned.customer_key, DeviceEnrollment)
            if dev.site_id != site_id:
                raise StatementRefused(Reason.WRONG_SITE, "enrollment is for another site")
            row = conn.execute(
                select(devices).where(
                    devices.c.site_id == site_id, devices.c.device_id == dev.device_id
                )
            ).first()
            if row is not None and bytes(row.statement) == data:
                return None
            if row is not None and dev.issued_at_ms <= int(row.issued_at_ms):
                raise StatementRefused(
                    Reason.STATEMENT_CONFLICT, "a newer enrollment of this device is held"
                )
            p = dev.camera_profile
            values = {
                "kind": dev.kind.value,
                "model": dev.model,
                "device_key": dev.device_key.to_text(),
                "pre_alarm_s": None if p is None else p.pre_alarm_s,
                "post_alarm_s": None if p is None else p.post_alarm_s,
                "live_allowed": None if p is None else p.live_allowed,
                "stills_only": None if p is None else p.stills_only,
                "statement": data,
                "issued_at_ms": dev.issued_at_ms,
            }
            if row is None:
                conn.execute(
                    devices.insert().values(site_id=site_id, device_id=dev.device_id, **values)
                )
            else:
                conn.execute(
                    devices.update()
                    .where(devices.c.site_id == site_id, devices.c.device_id == dev.device_id)
                    .values(**values)
                )
            entry = self._entry(
                "device-enrollment",
                now,
                site_id=site_id,
                device_id=dev.device_id,
                kind=dev.kind.value,
                model=dev.model,
                device_key=dev.device_key.to_text(),
                camera_profile=None if p is None else p.to_json(),
                statement_sha256=signed.statement_hash().hex(),
            )
            appended = self.log.append(
                conn, entry, kind="device-enrollment", site_id=site_id, now_ms=now
            )
        return self.receipt(appended)

    def register_operator(self, data: bytes) -> LogReceipt | None:
        if self.arc_key is None:
            raise StatementRefused(
                Reason.ARC_KEY_NOT_CONFIGURED, "this custodian has no ARC key configured"
            )
        signed = self._parse(data, OperatorRegistration)
        reg: OperatorRegistration = self._verify(signed, self.arc_key, OperatorRegistration)
        now = self.clock()
        with self.log.writer() as conn:
            row = conn.execute(
                select(operators).where(operators.c.operator_id == reg.operator_id)
            ).first()
            if row is not None and bytes(row.statement) == data:
                return None
            if row is not None and reg.issued_at_ms <= int(row.issued_at_ms):
                raise StatementRefused(
                    Reason.STATEMENT_CONFLICT, "a newer registration of this operator is held"
                )
            values = {
                "operator_key": reg.operator_key.to_text(),
                "role": reg.role.value,
                "statement": data,
                "issued_at_ms": reg.issued_at_ms,
            }
            if row is None:
                conn.execute(operators.insert().values(operator_id=reg.operator_id, **values))
            else:
                conn.execute(
                    operators.update()
                    .where(operators.c.operator_id == reg.operator_id)
                    .values(**values)
                )
            entry = self._entry(
                "operator-registration",
                now,
                operator_id=reg.operator_id,
                operator_key=reg.operator_key.to_text(),
                role=reg.role.value,
                statement_sha256=signed.statement_hash().hex(),
            )
            appended = self.log.append(
                conn, entry, kind="operator-registration", site_id=None, now_ms=now
            )
        return self.receipt(appended)

    def revoke(self, site_id: str, data: bytes) -> LogReceipt | None:
        signed = self._parse(data, Revocation)
        now = self.clock()
        with self.log.writer() as conn:
            pinned = self._pinned(conn, site_id)
            rev: Revocation = self._verify(signed, pinned.customer_key, Revocation)
            if rev.site_id != site_id:
                raise StatementRefused(Reason.WRONG_SITE, "revocation is for another site")
            exists = conn.execute(
                select(revocations.c.consent_id).where(
                    revocations.c.site_id == site_id, revocations.c.consent_id == rev.consent_id
                )
            ).first()
            if exists is not None:
                return None
            conn.execute(
                revocations.insert().values(
                    site_id=site_id, consent_id=rev.consent_id, revoked_ms=now, statement=data
                )
            )
            entry = self._entry(
                "revocation",
                now,
                site_id=site_id,
                consent_id=rev.consent_id,
                statement_sha256=signed.statement_hash().hex(),
            )
            appended = self.log.append(conn, entry, kind="revocation", site_id=site_id, now_ms=now)
        return self.receipt(appended)

    def cancel_alarm(self, site_id: str, data: bytes) -> LogReceipt | None:
        signed = self._parse(data, AlarmCancel)
        now = self.clock()
        with self.log.writer() as conn:
            pinned = self._pinned(conn, site_id)
            cancel: AlarmCancel = self._verify(signed, pinned.customer_key, AlarmCancel)
            if cancel.site_id != site_id:
                raise StatementRefused(Reason.WRONG_SITE, "cancel is for another site")
            key = (
                alarm_cancels.c.site_id == site_id,
                alarm_cancels.c.panel_id == cancel.panel_id,
                alarm_cancels.c.event_id == cancel.event_id,
            )
            if conn.execute(select(alarm_cancels.c.event_id).where(*key)).first() is not None:
                return None
            conn.execute(
                alarm_cancels.insert().values(
                    site_id=site_id,
                    panel_id=cancel.panel_id,
                    event_id=cancel.event_id,
                    cancelled_ms=now,
                    statement=data,
                )
            )
            entry = self._entry(
                "alarm-cancel",
                now,
                site_id=site_id,
                panel_id=cancel.panel_id,
                event_id=cancel.event_id,
                statement_sha256=signed.statement_hash().hex(),
            )
            appended = self.log.append(
                conn, entry, kind="alarm-cancel", site_id=site_id, now_ms=now
            )
        return self.receipt(appended)

    def set_access_period(self, site_id: str, access_period_s: int | None) -> LogReceipt:
        """Per-site alarm access period (customer-authenticated), or None for the default."""
        if access_period_s is not None and not (
            1 <= access_period_s <= self.settings.max_access_period_s
        ):
            raise StatementRefused(
                Reason.MALFORMED_REQUEST,
                f"access_period_s must be 1..{self.settings.max_access_period_s} or null",
            )
        now = self.clock()
        with self.log.writer() as conn:
            self._pinned(conn, site_id)
            conn.execute(
                sites.update()
                .where(sites.c.site_id == site_id)
                .values(access_period_s=access_period_s)
            )
            entry = self._entry(
                "site-settings", now, site_id=site_id, access_period_s=access_period_s
            )
            appended = self.log.append(
                conn, entry, kind="site-settings", site_id=site_id, now_ms=now
            )
        return self.receipt(appended)

    # --- release ---------------------------------------------------------------------------

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
        now = self.clock()
        rec = _Record(release_id=secrets.token_urlsafe(12), time_ms=now)
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
            rec.item_count = len(req.items)
            rec.purpose = _safe_text(req.purpose)
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
            if len(req.items) > self.settings.max_batch:
                raise Refusal(
                    Reason.BATCH_TOO_LARGE, f"at most {self.settings.max_batch} recordings"
                )
            try:
                signed = parse_signed(req.justification)
            except StatementError as exc:
                raise Refusal(Reason.MALFORMED_JUSTIFICATION, str(exc)) from None
            rec.justification = _statement_summary(signed)
            purpose = Purpose(req.purpose)
            want = AlarmEvent if purpose is Purpose.ALARM_VERIFICATION else Consent
            if not isinstance(signed.unverified_statement, want):
                raise Refusal(
                    Reason.WRONG_PURPOSE,
                    f"purpose {purpose.value} needs a {want.TYPE} justification, "
                    f"got {signed.statement_type}",
                )
            operator = self._operator(operator_id)
            if purpose is Purpose.ALARM_VERIFICATION:
                return self._release_alarm(rec, signed, operator, req, nonce)
            return self._release_consent(rec, signed, operator, req, nonce)
        except Refusal as refusal:
            return self._log_refusal(rec, refusal, [], nonce)

    def _operator(self, operator_id: str) -> tuple[str, Ed25519PublicKey, OperatorRole]:
        with self.engine.connect() as conn:
            row = conn.execute(_Q.operator, {"operator_id": operator_id}).first()
        if row is None:
            raise Refusal(Reason.OPERATOR_NOT_REGISTERED, f"operator {operator_id!r} unknown")
        return operator_id, stored_key(row.operator_key), OperatorRole(row.role)

    def _site_state(
        self, site_id: str
    ) -> tuple[Ed25519PublicKey, int | None, dict[str, Mapping[str, Any]]]:
        """The pinned customer key, the site's access period and its enrolled devices."""
        with self.engine.connect() as conn:
            row = conn.execute(_Q.site_state, {"site_id": site_id}).first()
            if row is None:
                raise Refusal(Reason.UNKNOWN_SITE, f"site {site_id!r} is not enrolled here")
            devs = conn.execute(_Q.site_devices, {"site_id": site_id}).mappings()
            by_id: dict[str, Mapping[str, Any]] = {str(d["device_id"]): dict(d) for d in devs}
        period = None if row.access_period_s is None else int(row.access_period_s)
        return stored_key(row.customer_key), period, by_id

    def _check_items(
        self,
        req: ReleaseIn,
        check: Callable[[RecordingMetadata], None],
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
        rec: _Record,
        req: ReleaseIn,
        results: list[ItemResult | None],
        passing: list[int],
    ) -> list[ItemResult]:
        items: list[Item] = [
            (req.items[i].stanza_args, req.items[i].stanza_body, req.items[i].metadata)
            for i in passing
        ]

        def meanwhile() -> None:
            rec.leaves = [leaf_hash(it.metadata.associated_data()) for it in req.items]
            rec.root_if_all_pass = (
                passing,
                root_from_leaf_hashes([rec.leaves[i] for i in passing]),
            )

        opened = self.opener.open_and_seal(items, req.session_key, rec.release_id, meanwhile)
        for i, o in zip(passing, opened, strict=True):
            rid = req.items[i].metadata.recording_id
            results[i] = ItemResult(rid, o.sealed, o.reason, o.message)
        return [r for r in results if r is not None]

    def _release_alarm(
        self,
        rec: _Record,
        signed: SignedStatement,
        operator: tuple[str, Ed25519PublicKey, OperatorRole],
        req: ReleaseIn,
        nonce: Caller | None,
    ) -> ReleaseOutcome:
        claimed = signed.unverified_statement
        if not isinstance(claimed, AlarmEvent):  # pragma: no cover - checked by caller
            raise Refusal(Reason.WRONG_PURPOSE, "not an alarm event")
        if operator[2] is not OperatorRole.OPERATOR:
            raise Refusal(Reason.ROLE_NOT_ALLOWED, "alarm verification is for ARC operators")
        rec.site_id = claimed.site_id
        _, site_period, devs = self._site_state(claimed.site_id)
        panel = devs.get(claimed.panel_id)
        if panel is None or panel["kind"] != DeviceKind.PANEL.value:
            raise Refusal(
                Reason.PANEL_NOT_OF_SITE,
                f"{claimed.panel_id!r} is not an enrolled panel of site {claimed.site_id!r}",
            )
        try:
            event = verify(signed, stored_key(panel["device_key"]), AlarmEvent)
        except (SignatureError, KeyFormatError) as exc:
            raise Refusal(Reason.BAD_SIGNATURE, f"alarm event: {exc}") from None
        digest = bytes.fromhex(rec.justification["sha256"]) if rec.justification else b""
        period_s = site_period or self.settings.access_period_s
        window = AlarmWindow(
            event.site_id, event.triggered_at_ms, event.triggered_at_ms + period_s * 1000
        )
        profiles = {cid: _profile(d) for cid, d in devs.items()}

        def check(m: RecordingMetadata) -> None:
            check_alarm_item(m, window, profiles.get(m.camera_id))

        prelim, passing = self._check_items(req, check)
        if len(passing) >= self.settings.parallel_threshold:
            # Request-level checks before an expensive opening (decided again under the lock).
            self._alarm_state(None, event, digest, period_s, rec.time_ms)
        results = self._open(rec, req, prelim, passing)

        def decide(conn: Connection) -> None:
            register = self._alarm_state(conn, event, digest, period_s, self.clock())
            if register is not None:
                conn.execute(_Q.alarm_insert, register)

        return self._commit(rec, req, results, nonce, decide)

    def _alarm_state(
        self,
        conn: Connection | None,
        event: AlarmEvent,
        digest: bytes,
        period_s: int,
        now: int,
    ) -> dict[str, Any] | None:
        """Replay, freshness, cancel and access-period checks. Returns the row to insert when
        this is the alarm's first presentation (None if already registered)."""
        if conn is None:
            with self.engine.connect() as c:
                return self._alarm_state(c, event, digest, period_s, now)
        key = {"site_id": event.site_id, "panel_id": event.panel_id, "event_id": event.event_id}
        row = conn.execute(_Q.alarm, key).first()
        register: dict[str, Any] | None = None
        if row is not None:
            if bytes(row.statement_sha256) != digest:
                raise Refusal(
                    Reason.EVENT_REPLAYED,
                    "this event id was registered with a different alarm statement",
                )
            access_until = int(row.access_until_ms)
        else:
            skew = self.settings.clock_skew_s * 1000
            if event.triggered_at_ms > now + skew:
                raise Refusal(Reason.EVENT_IN_FUTURE, "alarm trigger time is in the future")
            age_ms = now - event.triggered_at_ms
            if age_ms > self.settings.alarm_freshness_s * 1000:
                raise Refusal(
                    Reason.EVENT_STALE,
                    f"alarm first presented {age_ms // 1000} s after it was triggered "
                    f"(limit {self.settings.alarm_freshness_s} s)",
                )
            last = conn.execute(
                _Q.alarm_last_counter, {"site_id": event.site_id, "panel_id": event.panel_id}
            ).scalar()
            if last is not None and event.counter <= int(last):
                raise Refusal(
                    Reason.EVENT_REPLAYED,
                    f"panel counter {event.counter} is not above the last seen {last}",
                )
            access_until = event.triggered_at_ms + period_s * 1000
            register = {
                "site_id": event.site_id,
                "panel_id": event.panel_id,
                "event_id": event.event_id,
                "counter": event.counter,
                "triggered_at_ms": event.triggered_at_ms,
                "first_seen_ms": now,
                "access_until_ms": access_until,
                "statement_sha256": digest,
            }
        cancelled = conn.execute(_Q.alarm_cancelled, key).first()
        if cancelled is not None:
            raise Refusal(Reason.ALARM_CANCELLED, "the customer cancelled this alarm")
        if now > access_until:
            raise Refusal(
                Reason.ACCESS_PERIOD_CLOSED,
                f"the alarm's access period ended {(now - access_until) // 1000} s ago",
            )
        return register

    def _release_consent(
        self,
        rec: _Record,
        signed: SignedStatement,
        operator: tuple[str, Ed25519PublicKey, OperatorRole],
        req: ReleaseIn,
        nonce: Caller | None,
    ) -> ReleaseOutcome:
        claimed = signed.unverified_statement
        if not isinstance(claimed, Consent):  # pragma: no cover - checked by caller
            raise Refusal(Reason.WRONG_PURPOSE, "not a consent")
        rec.site_id = claimed.site_id
        customer_key, _, devs = self._site_state(claimed.site_id)
        try:
            consent = verify(signed, customer_key, Consent)
        except (SignatureError, KeyFormatError) as exc:
            raise Refusal(Reason.BAD_SIGNATURE, f"consent: {exc}") from None
        operator_id, operator_key, _ = operator
        if consent.grantee_id != operator_id or (
            consent.grantee_key is not None and consent.grantee_key != operator_key
        ):
            raise Refusal(Reason.CONSENT_WRONG_GRANTEE, "the consent names another grantee")
        self._consent_state(None, consent, rec.time_ms)
        profiles = {cid: _profile(d) for cid, d in devs.items()}

        def check(m: RecordingMetadata) -> None:
            check_consent_item(m, consent, profiles.get(m.camera_id))

        prelim, passing = self._check_items(req, check)
        results = self._open(rec, req, prelim, passing)

        def decide(conn: Connection) -> None:
            self._consent_state(conn, consent, self.clock())

        return self._commit(rec, req, results, nonce, decide)

    def _consent_state(self, conn: Connection | None, consent: Consent, now: int) -> None:
        if conn is None:
            with self.engine.connect() as c:
                return self._consent_state(c, consent, now)
        if now < consent.not_before_ms:
            raise Refusal(Reason.CONSENT_NOT_YET_VALID, "the consent is not valid yet")
        if now > consent.not_after_ms:
            raise Refusal(Reason.CONSENT_EXPIRED, "the consent has expired")
        revoked = conn.execute(
            _Q.revoked, {"site_id": consent.site_id, "consent_id": consent.consent_id}
        ).first()
        if revoked is not None:
            raise Refusal(Reason.CONSENT_REVOKED, "the customer revoked this consent")
        return None

    # --- logging a request -----------------------------------------------------------------

    def _request_fields(
        self, rec: _Record, items: Sequence[ItemResult], metas: Sequence[RecordingMetadata]
    ) -> dict[str, Any]:
        indexes = [i for i, r in enumerate(items) if r.sealed_share is not None]
        released = [metas[i] for i in indexes]
        reasons = Counter(r.reason.value for r in items if r.reason is not None)
        if rec.root_if_all_pass is not None and rec.root_if_all_pass[0] == indexes:
            root = rec.root_if_all_pass[1]
        elif rec.leaves is not None and len(rec.leaves) == len(metas):
            root = root_from_leaf_hashes([rec.leaves[i] for i in indexes])
        else:
            root = root_from_leaf_hashes([leaf_hash(m.associated_data()) for m in released])
        return {
            "release_id": rec.release_id,
            "site_id": rec.site_id,
            "operator_id": rec.operator_id,
            "operator_verified": rec.operator_verified,
            "purpose": rec.purpose,
            "justification": rec.justification,
            "session_key": None if rec.session_key is None else b64url(rec.session_key),
            "requested": rec.item_count,
            "released": {
                "count": len(released),
                "root": root.hex(),
                "cameras": sorted({m.camera_id for m in released}),
                "from_ms": min((m.start_ms for m in released), default=None),
                "to_ms": max((m.end_ms for m in released), default=None),
            },
            "refused": {"count": sum(reasons.values()), "reasons": dict(sorted(reasons.items()))},
        }

    def _commit(
        self,
        rec: _Record,
        req: ReleaseIn,
        results: list[ItemResult],
        nonce: Caller | None,
        decide: Callable[[Connection], None],
    ) -> ReleaseOutcome:
        metas = [it.metadata for it in req.items]
        released = [m for m, r in zip(metas, results, strict=True) if r.sealed_share is not None]
        try:
            with self.log.writer() as conn:
                if nonce is not None:
                    self._remember_nonce(conn, nonce.keyid, nonce.nonce, nonce.expires_ms)
                decide(conn)
                fields = self._request_fields(rec, results, metas)
                kind = "release" if released else "refusal"
                entry = self._entry(kind, rec.time_ms, reason=None, **fields)
                appended = self.log.append(
                    conn, entry, kind=kind, site_id=rec.site_id, now_ms=rec.time_ms
                )
                if released and rec.site_id is not None:
                    self._queue_notice(conn, rec, appended.index, fields, released)
        except Refusal as refusal:
            # Decided under the lock (replay, cancel, period, revocation): nothing released.
            return self._log_refusal(rec, refusal, metas, nonce)
        return ReleaseOutcome(rec.release_id, self.receipt(appended), results)

    def _log_refusal(
        self,
        rec: _Record,
        refusal: Refusal,
        metas: Sequence[RecordingMetadata],
        nonce: Caller | None,
    ) -> ReleaseOutcome:
        items = [ItemResult(m.recording_id, None, refusal.reason, refusal.message) for m in metas]
        with self.log.writer() as conn:
            if nonce is not None and refusal.reason is not Reason.REPLAYED_REQUEST:
                try:
                    self._remember_nonce(conn, nonce.keyid, nonce.nonce, nonce.expires_ms)
                except Refusal:
                    refusal = Refusal(Reason.REPLAYED_REQUEST, "nonce already used")
            fields = self._request_fields(rec, [], [])
            fields["refused"] = {"count": rec.item_count, "reasons": {}}
            entry = self._entry("refusal", rec.time_ms, reason=refusal.reason.value, **fields)
            appended = self.log.append(
                conn, entry, kind="refusal", site_id=rec.site_id, now_ms=rec.time_ms
            )
        return ReleaseOutcome(rec.release_id, self.receipt(appended), items, refusal)

    # --- notices ---------------------------------------------------------------------------

    def _queue_notice(
        self,
        conn: Connection,
        rec: _Record,
        index: int,
        fields: Mapping[str, Any],
        released: Sequence[RecordingMetadata],
    ) -> None:
        notice = {
            "type": "camvault/v1/access-notice",
            "custodian_id": self.keys.custodian_id,
            "origin": self.keys.origin,
            "site_id": rec.site_id,
            "log_index": index,
            "time_ms": rec.time_ms,
            "release_id": rec.release_id,
            "operator_id": rec.operator_id,
            "purpose": rec.purpose,
            "justification": rec.justification,
            "cameras": fields["released"]["cameras"],
            "from_ms": fields["released"]["from_ms"],
            "to_ms": fields["released"]["to_ms"],
            "released_root": fields["released"]["root"],
            "recordings": [m.to_json() for m in released],
        }
        res = conn.execute(
            _Q.notice_insert,
            {
                "site_id": rec.site_id,
                "log_index": index,
                "body": json.dumps(notice, sort_keys=True, separators=(",", ":")),
                "created_ms": rec.time_ms,
            },
        )
        notice_id = res.inserted_primary_key[0] if res.inserted_primary_key else None
        if notice_id is None:  # pragma: no cover
            raise RuntimeError("notice id not returned")
        conn.execute(
            _Q.outbox_insert,
            {
                "notice_id": notice_id,
                "attempts": 0,
                "next_attempt_ms": rec.time_ms,
                "last_error": None,
            },
        )

    def site_notices(self, site_id: str, after_id: int, limit: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(notices.c.id, notices.c.body, notices.c.delivered_ms)
                .where(notices.c.site_id == site_id, notices.c.id > after_id)
                .order_by(notices.c.id)
                .limit(limit)
            ).all()
        return [
            {"id": int(r.id), "notice": r.body, "delivered": r.delivered_ms is not None}
            for r in rows
        ]


def statement_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
