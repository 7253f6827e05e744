"""The alarm panel: signs AlarmEvents with its device key and posts them to the storage
service (POST /v1/sites/{site}/alarms); and the customer's AlarmCancel.

The counter must grow strictly per panel (the service and the custodians refuse replays):
it is ``max(last + 1, now in ms)``, persisted (fsync, atomic rename) BEFORE the event is
signed, so neither a crash nor a lost state file can make the panel reuse a counter.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import httpx

from clients.api.errors import ServiceRefused
from clients.api.storage import StorageApi
from common.http import SignedClient
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.statements import AlarmCancel, AlarmEvent, AlarmType, SignedStatement, sign_statement


class PanelError(RuntimeError):
    """The service refused the alarm (code and message from its error body)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code

    @classmethod
    def of(cls, refused: ServiceRefused) -> PanelError:
        return cls(refused.status, refused.code, refused.message)


def next_counter(state: Path) -> int:
    """Advance and persist the panel's counter; returns the new value."""
    last = -1
    if state.is_file():
        last = int(json.loads(state.read_text())["counter"])
    counter = max(last + 1, now_ms())
    tmp = state.with_name(state.name + ".tmp")
    with tmp.open("w") as f:
        json.dump({"counter": counter}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, state)
    return counter


def alarm_event(
    site_id: str,
    panel_id: str,
    key: Ed25519SigningKey,
    alarm_type: AlarmType,
    counter: int,
    *,
    event_id: str | None = None,
    triggered_at_ms: int | None = None,
) -> SignedStatement:
    return sign_statement(
        AlarmEvent(
            site_id=site_id,
            panel_id=panel_id,
            event_id=event_id or f"evt-{secrets.token_hex(8)}",
            alarm_type=alarm_type,
            triggered_at_ms=triggered_at_ms if triggered_at_ms is not None else now_ms(),
            counter=counter,
        ),
        key,
    )


def post_alarm(client: SignedClient, site_id: str, event: SignedStatement) -> dict[str, Any]:
    """POST the signed event; the same event again is answered with the same alarm."""
    try:
        return StorageApi(client).post_alarm(site_id, event)
    except ServiceRefused as exc:
        raise PanelError.of(exc) from None


def trigger(
    url: str,
    site_id: str,
    panel_id: str,
    key: Ed25519SigningKey,
    state: Path,
    alarm_type: AlarmType = AlarmType.INTRUSION,
) -> dict[str, Any]:
    """Raise an alarm: next counter, sign, post (retried once on a network error with the
    SAME event, which the service deduplicates)."""
    event = alarm_event(site_id, panel_id, key, alarm_type, next_counter(state))
    with SignedClient(url, f"device:{site_id}/{panel_id}", key) as client:
        try:
            return post_alarm(client, site_id, event)
        except httpx.TransportError:
            time.sleep(1)
            return post_alarm(client, site_id, event)


def alarm_cancel(
    site_id: str, panel_id: str, event_id: str, customer_key: Ed25519SigningKey
) -> SignedStatement:
    """The customer's signed cancel of an alarm (closes its access period)."""
    return sign_statement(AlarmCancel(site_id, panel_id, event_id, now_ms()), customer_key)


def cancel(
    url: str, site_id: str, panel_id: str, event_id: str, customer_key: Ed25519SigningKey
) -> dict[str, Any]:
    signed = alarm_cancel(site_id, panel_id, event_id, customer_key)
    with StorageApi.connect(url, f"customer:{site_id}", customer_key) as storage:
        try:
            return storage.cancel_alarm(site_id, signed)
        except ServiceRefused as exc:
            raise PanelError.of(exc) from None
