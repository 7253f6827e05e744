"""What every part of the custodian's logic shares: its database, keys, settings, log and clock,
and how a log entry is written and receipted."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from crypto.ed25519 import Ed25519PublicKey
from escrow_service.core.keys import CustodianKeys
from escrow_service.core.settings import EscrowSettings
from escrow_service.schemas.release import LogReceipt
from escrow_service.services.queries import Q
from escrow_service.services.tlog_store import Appended, LogStore
from escrow_service.services.witnessing import Cosigner, WitnessConfig

ENTRY_VERSION = 1


@functools.lru_cache(maxsize=4096)
def stored_key(text: str) -> Ed25519PublicKey:
    """A public key as this custodian stored it (operators, customers, devices), parsed.

    Parsing checks the point is in the prime-order subgroup, ~0.1 ms, four times per release
    request; the result is an immutable value of the text alone, so it is memoized.
    """
    return Ed25519PublicKey.from_text(text)


@dataclass(eq=False)
class Custodian:
    """One custodian's state: database engine, keys, settings, transparency log and clock."""

    engine: Engine
    keys: CustodianKeys
    settings: EscrowSettings
    log: LogStore
    clock: Callable[[], int]
    #: The key of the ARC that signs operator registrations, if configured.
    arc_key: Ed25519PublicKey | None = field(init=False, default=None)
    #: Collects the witnesses' cosignatures, if witnesses are configured (docs/WITNESS.md).
    cosigner: Cosigner | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.settings.arc_public_key:
            self.arc_key = Ed25519PublicKey.from_text(self.settings.arc_public_key, "ARC key")
        witnesses = WitnessConfig.parse_list(self.settings.witnesses)
        if witnesses:
            self.cosigner = Cosigner(
                self.log,
                witnesses,
                self.settings.witness_quorum or len(witnesses),
                interval_ms=self.settings.witness_interval_ms,
                timeout_s=self.settings.witness_timeout_s,
                refresh_s=self.settings.witness_refresh_s,
            )

    def append(
        self,
        conn: Connection,
        entry_type: str,
        now: int,
        fields: Mapping[str, Any],
        *,
        site_id: str | None,
    ) -> Appended:
        """Append a log entry of ``entry_type`` (version, custodian and time added to
        ``fields``) inside a :meth:`LogStore.writer` transaction."""
        entry = self.entry(entry_type, now, fields)
        return self.log.append(conn, entry, kind=entry_type, site_id=site_id, now_ms=now)

    def entry(self, entry_type: str, now: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        """A log entry of ``entry_type``: ``fields`` with version, custodian and time (what
        :meth:`append` appends; :meth:`LogStore.append_many` takes several)."""
        return {
            "v": ENTRY_VERSION,
            "type": entry_type,
            "custodian_id": self.keys.custodian_id,
            "time_ms": now,
            **fields,
        }

    def receipt(self, appended: Appended, size: int | None = None) -> LogReceipt:
        """The entry's index and bytes with its inclusion proof against a fresh checkpoint
        (of ``size`` leaves if given, e.g. a release group's: at least the entry's index + 1).

        With witnesses, the checkpoint is the latest one cosigned by a quorum of them that
        covers the entry (waiting for the next cosigning round if needed, shared by every
        request that waits); if the round fails, the log's own checkpoint, which clients that
        require witnesses refuse."""
        size = max(size or 0, appended.index + 1)
        if self.cosigner is not None:
            cosigned = self.cosigner.cosigned(size)
            if cosigned is not None:
                cosigned_size, note = cosigned
                return LogReceipt(
                    appended.index,
                    appended.entry,
                    note,
                    self.log.inclusion_proof(appended.index, cosigned_size),
                    cosigned_size,
                )
        return LogReceipt(
            appended.index,
            appended.entry,
            self.log.checkpoint(size),
            self.log.inclusion_proof(appended.index, size),
            size,
        )

    def key_for(self, kind: str, ident: str) -> Ed25519PublicKey | None:
        """The registered key of ``operator:<id>`` or ``customer:<site>``, if any."""
        with self.log.reader() as conn:  # one statement: no transaction round trips
            if kind == "operator":
                text = conn.execute(Q.operator_key, {"operator_id": ident}).scalar()
            else:
                text = conn.execute(Q.customer_key, {"site_id": ident}).scalar()
        if text is None:
            return None
        return stored_key(text)
