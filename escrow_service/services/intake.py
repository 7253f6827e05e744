"""Statements posted to the custodian: site keys, device enrollments, operator registrations,
consent revocations and alarm cancels, plus the per-site settings.

Every statement goes through one step (:meth:`StatementIntake.take`): parse -> pin the
signer's key -> verify -> store -> log -> receipt, in one writer transaction, so that every
state change is a log entry of the transaction that makes it. Re-posting the statement that
is already held changes nothing and is not logged (the receipt is None). A refused statement
is not logged either: it changed nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Table, select

from crypto.ed25519 import Ed25519PublicKey
from crypto.errors import KeyFormatError, SignatureError, StatementError
from crypto.siteid import SiteIdError
from crypto.statements import (
    AlarmCancel,
    DeviceEnrollment,
    DeviceRevocation,
    OperatorRegistration,
    RecordingDeletion,
    RetentionPolicy,
    Revocation,
    SignedStatement,
    SiteKeys,
    Statement,
    parse_signed,
    verify,
    verify_site_keys,
)
from escrow_service.core.errors import Reason, Refusal
from escrow_service.db.models import (
    alarm_cancels,
    device_revocations,
    devices,
    operators,
    revocations,
    sites,
)
from escrow_service.schemas.release import LogReceipt
from escrow_service.services.custodian import Custodian

#: What a statement's verification yields, handed to :meth:`StatementIntake.store`.
V = TypeVar("V")
#: The site id (None: not a site's entry) and the fields of a statement's log entry.
Logged = tuple[str | None, dict[str, Any]]


class StatementRefused(Refusal):
    """A posted statement is refused (not a release: not logged)."""


def parse(data: bytes, expected: type[Statement]) -> SignedStatement:
    """The signed statement in ``data``, which must be of type ``expected``."""
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


def verified(signed: SignedStatement, key: Ed25519PublicKey, expected: type[Any]) -> Any:
    """The statement, verified as signed by ``key``."""
    try:
        return verify(signed, key, expected)
    except (SignatureError, KeyFormatError) as exc:
        raise StatementRefused(Reason.BAD_SIGNATURE, str(exc)) from None
    except StatementError as exc:
        raise StatementRefused(Reason.MALFORMED_REQUEST, str(exc)) from None


def pinned(conn: Connection, site_id: str) -> SiteKeys:
    """The site's pinned SiteKeys (refused when the site is not enrolled here)."""
    row = conn.execute(select(sites.c.site_keys).where(sites.c.site_id == site_id)).first()
    if row is None:
        raise StatementRefused(Reason.UNKNOWN_SITE, f"site {site_id!r} is not enrolled here")
    st = parse_signed(bytes(row[0])).unverified_statement
    if not isinstance(st, SiteKeys):  # pragma: no cover - stored after verification
        raise RuntimeError("stored site keys are not SiteKeys")
    return st


def _where(table: Table, key: Mapping[str, Any]) -> list[Any]:
    return [table.c[name] == value for name, value in key.items()]


def _store_newer(
    conn: Connection, table: Table, key: Mapping[str, Any], values: Mapping[str, Any], what: str
) -> bool:
    """Insert or replace the row of a statement carrying ``issued_at_ms``; False when the
    same statement is held, refused when a newer one is."""
    row = conn.execute(select(table).where(*_where(table, key))).first()
    if row is not None and bytes(row.statement) == values["statement"]:
        return False
    if row is not None and values["issued_at_ms"] <= int(row.issued_at_ms):
        raise StatementRefused(Reason.STATEMENT_CONFLICT, f"a newer {what} is held")
    if row is None:
        conn.execute(table.insert().values(**key, **values))
    else:
        conn.execute(table.update().where(*_where(table, key)).values(**values))
    return True


def store_once(
    conn: Connection, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]
) -> bool:
    """Insert the row of a statement that takes effect once; False if one is held already."""
    column = next(iter(key))
    if conn.execute(select(table.c[column]).where(*_where(table, key))).first() is not None:
        return False
    conn.execute(table.insert().values(**key, **values))
    return True


class StatementIntake(ABC, Generic[V]):
    """One kind of posted statement."""

    statement: type[Statement]
    entry_type: str  # also the kind of its log entries

    def __init__(self, custodian: Custodian) -> None:
        self.custodian = custodian

    def ready(self) -> None:
        """Refuse before the statement is read when this custodian cannot take it at all."""

    @abstractmethod
    def verify(
        self, conn: Connection, signed: SignedStatement, data: bytes, site_id: str | None
    ) -> V | None:
        """Pin the signer's key and verify the statement; None when it is held already."""

    @abstractmethod
    def store(self, conn: Connection, value: V, data: bytes, now: int) -> Logged | None:
        """Store the verified statement; its log entry, or None when nothing changed."""

    def take(
        self,
        data: bytes,
        site_id: str | None = None,
        *,
        first: Callable[[Connection, SignedStatement], None] | None = None,
    ) -> LogReceipt | None:
        """Parse, pin, verify, store and log the statement in ``data`` (posted for
        ``site_id`` where the route names a site); None when it was held already.
        ``first`` runs at the start of the writer transaction (e.g. to remember the request
        nonce with the statement, or to check who posts it)."""
        self.ready()
        signed = parse(data, self.statement)
        now = self.custodian.clock()
        with self.custodian.log.writer() as conn:
            if first is not None:
                first(conn, signed)
            value = self.verify(conn, signed, data, site_id)
            logged = None if value is None else self.store(conn, value, data, now)
            if logged is None:
                return None
            entry_site, fields = logged
            fields["statement_sha256"] = signed.statement_hash().hex()
            appended = self.custodian.append(conn, self.entry_type, now, fields, site_id=entry_site)
        return self.custodian.receipt(appended)


SiteKeysChange = tuple[SiteKeys, SiteKeys | None, bool]  # verified, pinned before, row exists


class SiteKeysIntake(StatementIntake[SiteKeysChange]):
    """Pin a site's keys (first enrollment) or apply a change signed by the pinned key."""

    statement = SiteKeys
    entry_type = "site-keys"

    def verify(
        self, conn: Connection, signed: SignedStatement, data: bytes, site_id: str | None
    ) -> SiteKeysChange | None:
        claimed = signed.unverified_statement
        if not isinstance(claimed, SiteKeys):  # pragma: no cover - checked by parse
            raise StatementRefused(Reason.MALFORMED_REQUEST, "not SiteKeys")
        query = select(sites.c.site_keys).where(sites.c.site_id == claimed.site_id)
        row = conn.execute(query).first()
        before = None
        if row is not None:
            if bytes(row.site_keys) == data:
                return None
            before = pinned(conn, claimed.site_id)
        try:
            site = verify_site_keys(signed, before)
        except SiteIdError as exc:
            raise StatementRefused(Reason.SITE_ID_NOT_BOUND, str(exc)) from None
        except (SignatureError, KeyFormatError) as exc:
            raise StatementRefused(
                Reason.PIN_MISMATCH, f"not signed by the pinned customer key: {exc}"
            ) from None
        except StatementError as exc:
            raise StatementRefused(Reason.STATEMENT_CONFLICT, str(exc)) from None
        if not any(c.escrow_key == self.custodian.keys.escrow_public for c in site.custodians):
            raise StatementRefused(
                Reason.CUSTODIAN_NOT_IN_SET,
                "this custodian's escrow key is not in the site's custodian set",
            )
        mine = next(c for c in site.custodians if c.escrow_key == self.custodian.keys.escrow_public)
        if mine.hybrid_escrow_key not in (None, self.custodian.keys.hybrid_public):
            # Shares sealed to a hybrid key this custodian does not hold could never be released.
            raise StatementRefused(
                Reason.CUSTODIAN_NOT_IN_SET,
                "the site lists a hybrid escrow key for this custodian that is not its own",
            )
        return site, before, row is not None

    def store(self, conn: Connection, value: SiteKeysChange, data: bytes, now: int) -> Logged:
        site, before, exists = value
        values = {
            "customer_key": site.customer_key.to_text(),
            "keys_version": site.version,
            "site_keys": data,
            "threshold": site.threshold,
            "updated_ms": now,
        }
        if exists:
            conn.execute(sites.update().where(sites.c.site_id == site.site_id).values(**values))
        else:
            conn.execute(sites.insert().values(site_id=site.site_id, **values))
        return site.site_id, {
            "site_id": site.site_id,
            "version": site.version,
            "customer_key": site.customer_key.to_text(),
            "previous_customer_key": None if before is None else before.customer_key.to_text(),
            "threshold": site.threshold,
            "custodians": [c.custodian_id for c in site.custodians],
        }


S = TypeVar(
    "S",
    bound=DeviceEnrollment
    | DeviceRevocation
    | Revocation
    | AlarmCancel
    | RecordingDeletion
    | RetentionPolicy,
)


class SiteStatementIntake(StatementIntake[S]):
    """A statement of one site signed by its pinned customer key, posted to that site."""

    what: str  # names the statement in the wrong-site refusal

    def verify(
        self, conn: Connection, signed: SignedStatement, data: bytes, site_id: str | None
    ) -> S:
        if site_id is None:  # pragma: no cover - the routes always name the site
            raise StatementRefused(Reason.UNKNOWN_SITE, "no site given")
        st: S = verified(signed, pinned(conn, site_id).customer_key, self.statement)
        if st.site_id != site_id:
            raise StatementRefused(Reason.WRONG_SITE, f"{self.what} is for another site")
        return st


class DeviceIntake(SiteStatementIntake[DeviceEnrollment]):
    """Enroll a panel or camera (a later enrollment of it needs a later ``issued_at_ms``)."""

    statement = DeviceEnrollment
    entry_type = "device-enrollment"
    what = "enrollment"

    def store(
        self, conn: Connection, value: DeviceEnrollment, data: bytes, now: int
    ) -> Logged | None:
        dev, p = value, value.camera_profile
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
        key = {"site_id": dev.site_id, "device_id": dev.device_id}
        revoked = _where(device_revocations, {**key, "device_key": dev.device_key.to_text()})
        if conn.execute(select(device_revocations.c.site_id).where(*revoked)).first():
            raise StatementRefused(Reason.DEVICE_REVOKED, "this device key was revoked")
        if not _store_newer(conn, devices, key, values, "enrollment of this device"):
            return None
        return dev.site_id, {
            **key,
            "kind": dev.kind.value,
            "model": dev.model,
            "device_key": dev.device_key.to_text(),
            "camera_profile": None if p is None else p.to_json(),
            "version": dev.version,
        }


class DeviceRevocationIntake(SiteStatementIntake[DeviceRevocation]):
    """Revoke a device key from ``revoked_from_ms`` on: alarms it signs from then on are
    refused. A later revocation of the same key may only move that time earlier."""

    statement = DeviceRevocation
    entry_type = "device-revocation"
    what = "device revocation"

    def store(
        self, conn: Connection, value: DeviceRevocation, data: bytes, now: int
    ) -> Logged | None:
        key = {
            "site_id": value.site_id,
            "device_id": value.device_id,
            "device_key": value.device_key.to_text(),
        }
        values = {"revoked_from_ms": value.revoked_from_ms, "received_ms": now, "statement": data}
        where = _where(device_revocations, key)
        row = conn.execute(select(device_revocations).where(*where)).first()
        if row is None:
            conn.execute(device_revocations.insert().values(**key, **values))
        elif value.revoked_from_ms < int(row.revoked_from_ms):
            conn.execute(device_revocations.update().where(*where).values(**values))
        else:
            return None  # held, or revoking from later changes nothing
        # the reason text stays in the statement (its hash is logged), out of the log entry
        return value.site_id, {
            **key,
            "kind": value.kind.value,
            "revoked_from_ms": value.revoked_from_ms,
        }


class OnceIntake(SiteStatementIntake[Revocation | AlarmCancel]):
    """A site statement that takes effect once, when it arrives: a consent revoked, an alarm
    cancelled. Its row is keyed by the table's primary key (the statement's fields of the same
    names, which its log entry lists) and records the arrival time in ``time_column``."""

    def __init__(
        self,
        custodian: Custodian,
        statement: type[Revocation | AlarmCancel],
        table: Table,
        time_column: str,
        *,
        entry_type: str,
        what: str,
    ) -> None:
        super().__init__(custodian)
        self.statement, self.entry_type, self.what = statement, entry_type, what
        self._table, self._time_column = table, time_column

    def store(
        self, conn: Connection, value: Revocation | AlarmCancel, data: bytes, now: int
    ) -> Logged | None:
        key = {c.name: getattr(value, c.name) for c in self._table.primary_key.columns}
        if not store_once(conn, self._table, key, {self._time_column: now, "statement": data}):
            return None
        return value.site_id, key


class OperatorIntake(StatementIntake[OperatorRegistration]):
    """Register an operator or technician (signed by the ARC key configured here)."""

    statement = OperatorRegistration
    entry_type = "operator-registration"

    def ready(self) -> None:
        if self.custodian.arc_key is None:
            raise StatementRefused(
                Reason.ARC_KEY_NOT_CONFIGURED, "this custodian has no ARC key configured"
            )

    def verify(
        self, conn: Connection, signed: SignedStatement, data: bytes, site_id: str | None
    ) -> OperatorRegistration:
        if self.custodian.arc_key is None:  # pragma: no cover - checked by ready
            raise RuntimeError("no ARC key")
        reg: OperatorRegistration = verified(signed, self.custodian.arc_key, OperatorRegistration)
        return reg

    def store(
        self, conn: Connection, value: OperatorRegistration, data: bytes, now: int
    ) -> Logged | None:
        reg = value
        values = {
            "operator_key": reg.operator_key.to_text(),
            "role": reg.role.value,
            "statement": data,
            "issued_at_ms": reg.issued_at_ms,
        }
        key = {"operator_id": reg.operator_id}
        if not _store_newer(conn, operators, key, values, "registration of this operator"):
            return None
        return None, {
            **key,
            "operator_key": reg.operator_key.to_text(),
            "role": reg.role.value,
        }


class Intake:
    """Every statement intake of a custodian, and the per-site settings."""

    def __init__(self, custodian: Custodian) -> None:
        self._custodian = custodian
        self.site_keys = SiteKeysIntake(custodian)
        self.devices = DeviceIntake(custodian)
        self.operators = OperatorIntake(custodian)
        self.device_revocations = DeviceRevocationIntake(custodian)
        self.revocations = OnceIntake(
            custodian,
            Revocation,
            revocations,
            "revoked_ms",
            entry_type="revocation",
            what="revocation",
        )
        self.alarm_cancels = OnceIntake(
            custodian,
            AlarmCancel,
            alarm_cancels,
            "cancelled_ms",
            entry_type="alarm-cancel",
            what="cancel",
        )

    def set_access_period(self, site_id: str, access_period_s: int | None) -> LogReceipt:
        """Per-site alarm access period (customer-authenticated), or None for the default."""
        custodian = self._custodian
        limit = custodian.settings.max_access_period_s
        if access_period_s is not None and not 1 <= access_period_s <= limit:
            raise StatementRefused(
                Reason.MALFORMED_REQUEST, f"access_period_s must be 1..{limit} or null"
            )
        now = custodian.clock()
        with custodian.log.writer() as conn:
            pinned(conn, site_id)
            conn.execute(
                sites.update()
                .where(sites.c.site_id == site_id)
                .values(access_period_s=access_period_s)
            )
            fields = {"site_id": site_id, "access_period_s": access_period_s}
            appended = custodian.append(conn, "site-settings", now, fields, site_id=site_id)
        return custodian.receipt(appended)
