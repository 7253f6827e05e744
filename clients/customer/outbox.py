"""Statements a custodian has not acknowledged yet, kept in the customer's state directory
and sent again by the next customer command (or `camvault customer sync`).

A deletion, a retention policy or an alarm cancel ends access only at the custodians that
took it: a custodian that was down keeps releasing until it gets it. So the client keeps each
statement a custodian could not be reached for (or failed on its own side: ``internal_error``,
``rate_limited``, any 5xx) and sends it again later. A custodian that refused the statement
for a reason of its own (a 4xx code such as ``bad_signature``) is reported, not retried.
Sending again is safe: a custodian takes the same statement once (``unchanged``).

File ``outbox.json``: ``[{"custodian_id", "kind", "site_id", "statement"}]``, the statement
as its signed envelope (public: nothing secret is kept here).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from clients.api.errors import ClientError, ServiceRefused
from clients.api.escrow import Ack, CustodianApi, CustodianEndpoint
from clients.common import signed_from_json, write_json
from crypto.statements import SignedStatement

OUTBOX_FILE = "outbox.json"

#: How each kind of statement is posted to a custodian.
ROUTES: dict[str, Callable[[CustodianApi, str, SignedStatement], str]] = {
    "deletion": CustodianApi.delete_recordings,
    "retention": CustodianApi.set_retention,
    "cancel": CustodianApi.cancel_alarm,
    "device-enrollment": CustodianApi.enroll_device,
    "device-revocation": CustodianApi.revoke_device,
}
#: Refusals that say nothing about the statement: the custodian's failure or its load.
TRANSIENT = frozenset({"internal_error", "rate_limited"})
#: A custodian still down should not hold a command up for long.
RESEND_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Pending:
    custodian_id: str
    kind: str
    site_id: str
    statement: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Resent:
    """One pending statement sent again: ``delivered`` (acknowledged, or refused for good and
    dropped) or still kept; ``status`` says which and why."""

    item: Pending
    delivered: bool
    status: str


class Outbox:
    """The pending statements of one customer state directory."""

    def __init__(self, root: Path) -> None:
        self.path = root / OUTBOX_FILE

    def pending(self) -> list[Pending]:
        if not self.path.exists():
            return []
        try:
            rows = json.loads(self.path.read_text())
            return [Pending(**row) for row in rows]
        except (ValueError, TypeError) as exc:
            raise ClientError(f"{self.path}: not an outbox file ({exc})") from None

    def _save(self, items: Sequence[Pending]) -> None:
        if items:
            write_json(self.path, [asdict(p) for p in items])
        else:
            self.path.unlink(missing_ok=True)

    def send(
        self,
        custodians: Sequence[CustodianEndpoint],
        kind: str,
        site_id: str,
        statements: Sequence[SignedStatement],
    ) -> list[Ack]:
        """Send ``statements`` to every custodian; each one that could not take them now
        keeps them here. One acknowledgement per custodian (its status words)."""
        acks, kept = [], self.pending()
        for c in custodians:
            answers, why = _post(c, kind, site_id, statements, timeout=30.0)
            if why is None:
                acks.append(Ack(c.custodian_id, True, ", ".join(sorted(set(answers)))))
                continue
            transient, status = why
            if transient:
                kept += [Pending(c.custodian_id, kind, site_id, s.to_json()) for s in statements]
                status += " (kept: sent again by the next customer command, or `customer sync`)"
            acks.append(Ack(c.custodian_id, False, status))
        self._save(kept)
        return acks

    def resend(self, custodians: Sequence[CustodianEndpoint]) -> list[Resent]:
        """Send every pending statement again; keep those still not taken."""
        items = self.pending()
        if not items:
            return []
        by_id = {c.custodian_id: c for c in custodians}
        out, kept = [], []
        for p in items:
            c = by_id.get(p.custodian_id)
            if c is None:  # no longer one of the site's custodians
                out.append(Resent(p, True, "dropped: not a custodian of the site"))
                continue
            statement = signed_from_json(p.statement)
            answers, why = _post(c, p.kind, p.site_id, [statement], timeout=RESEND_TIMEOUT_S)
            if why is None:
                out.append(Resent(p, True, answers[0]))
            elif why[0]:
                kept.append(p)
                out.append(Resent(p, False, why[1]))
            else:
                out.append(Resent(p, True, f"dropped: {why[1]}"))
        self._save(kept)
        return out


def _post(
    custodian: CustodianEndpoint,
    kind: str,
    site_id: str,
    statements: Sequence[SignedStatement],
    *,
    timeout: float,
) -> tuple[list[str], tuple[bool, str] | None]:
    """Post the statements in turn; (status words, None) when all were taken, else
    (those so far, (transient, why))."""
    answers: list[str] = []
    try:
        with CustodianApi.of(custodian, timeout) as api:
            for st in statements:
                answers.append(ROUTES[kind](api, site_id, st))
    except ServiceRefused as exc:
        transient = exc.code in TRANSIENT or exc.status >= 500
        return answers, (transient, f"refused ({exc.code}): {exc.message}")
    except (ClientError, httpx.HTTPError) as exc:
        return answers, (True, f"unreachable: {exc}")
    return answers, None
