"""Panels raising alarms and ARC operators working them, as the operator console does.

A panel signs an AlarmEvent and posts it (one alarm at a time per site). An operator polls
the ARC queue, acknowledges an open alarm (if another operator acknowledged it first, it
leaves it; if another closed it meanwhile, the ack is refused ``alarm_state_conflict``, an
expected refusal), lists the alarm's pre-alarm recordings on the justified route, fetches the newest
one's header and presigned GET, gets the file key from t of the 3 custodians with the
operator client's own code (``gather_releases`` / ``recover_file_key``: receipts and log
entries checked), decrypts the payload and compares it with the exact plaintext the camera
recorded, then closes the alarm at the storage service and, with a signed AlarmClose, at
every custodian. Finally it asks one custodian again for the same recording: that must be
refused ``alarm_closed`` (the run's expected refusal; anything else is an error).
"""

from __future__ import annotations

import asyncio
import base64
import io
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from clients.common import signed_from_json
from clients.operator.release import (
    Recording,
    ReleaseError,
    gather_releases,
    recover_file_key,
)
from clients.operator.state import OperatorState
from common.time import now_ms
from crypto.age.format import parse_header
from crypto.age.stream import decrypt_payload
from crypto.encoding import b64encode
from crypto.errors import CryptoError
from crypto.escrow import SessionKey
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import (
    AlarmClose,
    AlarmEvent,
    AlarmType,
    Purpose,
    SignedStatement,
    sign_statement,
)
from tests.reliability.load.fleet import Fleet, Site, plaintext
from tests.reliability.load.http import Http, Refused

QUEUE_POLL_S = 1.0
CLOSED: frozenset[tuple[int, str]] = frozenset({(403, "alarm_closed")})
#: another operator closed the alarm between this one's queue read and its ack
TAKEN: frozenset[tuple[int, str]] = frozenset({(409, "alarm_state_conflict")})


async def raise_alarm(http: Http, storage: str, site: Site) -> None:
    site.panel_counter += 1
    event = sign_statement(
        AlarmEvent(
            site_id=site.site_id,
            panel_id="panel-1",
            event_id=f"ev-{uuid.uuid4().hex[:10]}",
            alarm_type=AlarmType.INTRUSION,
            triggered_at_ms=now_ms(),
            counter=site.panel_counter,
        ),
        site.panel_key,
    )
    keyid = f"device:{site.site_id}/panel-1"
    url = f"{storage}/v1/sites/{site.site_id}/alarms"
    req = http.signed("POST", url, keyid, site.panel_key, json={"event": event.to_json()})
    try:
        await http.send("storage POST /v1/sites/{s}/alarms", req, ok=(201,))
        http.stats.counters["alarms raised"] += 1
    except Refused:
        site.alarm_open = False


async def panels(
    http: Http, storage: str, fleet: Fleet, start_at: float, stop_at: float, per_s: float
) -> None:
    """Raise alarms at random free sites, ``per_s`` on average, from ``start_at`` (once the
    cameras have pre-alarm segments) until ``stop_at``."""
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    tasks: set[asyncio.Task[None]] = set()
    while time.monotonic() < stop_at:
        free = [s for s in fleet.sites if not s.alarm_open]
        if free:
            site = random.choice(free)
            site.alarm_open = True
            task = asyncio.create_task(raise_alarm(http, storage, site))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(random.expovariate(per_s))
    if tasks:
        await asyncio.gather(*tasks)


class Operator:
    """One ARC operator's loop (its key and custodians from the console's own state)."""

    def __init__(
        self, http: Http, storage: str, state: OperatorState, fleet: Fleet, pool: ThreadPoolExecutor
    ) -> None:
        self.http, self.storage, self.state, self.pool = http, storage, state, pool
        self.key = state.key()
        self.keyid = f"operator:{state.operator_id}"
        self.endpoints = state.endpoints()
        self.sites = {s.site_id: s for s in fleet.sites}
        self.stats = http.stats

    def _req(self, method: str, path: str, **kw: Any) -> Any:
        return self.http.signed(method, self.storage + path, self.keyid, self.key, **kw)

    async def run(self, stop_at: float) -> None:
        while time.monotonic() < stop_at:
            try:
                req = self._req("GET", "/v1/alarms", params={"state": "open"})
                items = (await self.http.send("storage GET /v1/alarms", req, ok=(200,))).json()[
                    "items"
                ]
                if not items:
                    await asyncio.sleep(QUEUE_POLL_S)
                    continue
                alarm = random.choice(items)
                req = self._req("POST", f"/v1/alarms/{alarm['alarm_id']}/ack")
                endpoint = "storage POST /v1/alarms/{a}/ack"
                acked = (await self.http.send(endpoint, req, expected=TAKEN)).json()
                if acked["acknowledged_by"] != self.state.operator_id:
                    self.stats.counters["alarms taken by another operator first"] += 1
                    continue
                await self.work(acked)
            except Refused:
                await asyncio.sleep(QUEUE_POLL_S)

    async def work(self, alarm: dict[str, Any]) -> None:
        site = self.sites[alarm["site_id"]]
        try:
            rec, event = await self.read_pre_alarm(site, alarm)
            await self.close(site, alarm)
            if rec is not None:
                await self.release_after_close(rec, event)
            self.stats.counters["alarms worked and closed"] += 1
        finally:
            site.alarm_open = False  # the panel may raise the next one

    async def read_pre_alarm(
        self, site: Site, alarm: dict[str, Any]
    ) -> tuple[Recording | None, SignedStatement]:
        """The newest committed pre-alarm recording, released and decrypted (None if there
        is none yet, or the alarm's access period ended before the operator got to it:
        then the storage service refuses ``no_justification``, rightly)."""
        trigger = int(alarm["triggered_at_ms"])
        event = signed_from_json(alarm["event"])
        path = f"/v1/sites/{site.site_id}/arc/recordings"
        req = self._req("GET", path, params={"from_ms": trigger - 30_000, "to_ms": trigger})
        endpoint = "storage GET .../arc/recordings"
        try:
            listed = (await self.http.send(endpoint, req, ok=(200,))).json()
        except Refused as exc:
            if (exc.status, exc.reason) == (403, "no_justification") and now_ms() > int(
                alarm["access_until_ms"]
            ):
                self.stats.reclassify(endpoint, exc.status, exc.reason)
                self.stats.counters["alarms whose access period ended before they were read"] += 1
                return None, event
            raise
        pre = [i for i in listed["items"] if i["status"] == "committed"]
        if not pre:
            self.stats.counters["alarms without a committed pre-alarm recording"] += 1
            return None, event
        return await self.read_one(site, pre[0], event), event

    async def read_one(
        self, site: Site, item: dict[str, Any], event: SignedStatement
    ) -> Recording | None:
        cam, rid = item["camera_id"], item["recording_id"]
        path = f"/v1/sites/{site.site_id}/arc/cameras/{cam}/recordings/{rid}"
        detail = (
            await self.http.send("storage GET .../arc/.../recordings/{r}", self._req("GET", path))
        ).json()
        meta = RecordingMetadata(
            site.site_id,
            cam,
            rid,
            RecordingKind(item["kind"]),
            int(item["start_ms"]),
            int(item["end_ms"]),
        )
        rec = Recording(base64.b64decode(detail["header"]), meta)
        session = SessionKey.generate()
        endpoint = "custodians POST /v1/releases (t=2 of 3)"
        loop = asyncio.get_running_loop()
        try:
            with self.stats.timed(endpoint):
                releases = await loop.run_in_executor(
                    self.pool,
                    lambda: gather_releases(
                        self.endpoints,
                        2,
                        self.state.operator_id,
                        self.key,
                        purpose=Purpose.ALARM_VERIFICATION.value,
                        justification=event,
                        session=session,
                        recordings=[rec],
                    ),
                )
            file_key = recover_file_key(releases, rec, session)
        except (ReleaseError, CryptoError) as exc:
            self.stats.outcome(endpoint, type(exc).__name__)
            self.stats.error(endpoint, f"{type(exc).__name__}: {exc}"[:200])
            return None
        self.stats.outcome(endpoint, "released")
        get = self.http.client.build_request("GET", detail["download_url"])
        payload = (await self.http.send("minio GET (presigned)", get, ok=(200,))).content
        out = io.BytesIO()
        try:
            decrypt_payload(file_key, io.BytesIO(payload), out)
        except CryptoError as exc:
            self.stats.error("operator decrypt", str(exc))
            return None
        if out.getvalue() != plaintext(site.site_id, cam, rid):
            self.stats.error("operator decrypt", "plaintext differs from the camera's")
            return None
        self.stats.counters["pre-alarm recordings decrypted by operators"] += 1
        return rec

    async def close(self, site: Site, alarm: dict[str, Any]) -> None:
        req = self._req("POST", f"/v1/alarms/{alarm['alarm_id']}/close")
        await self.http.send("storage POST /v1/alarms/{a}/close", req)
        close = sign_statement(
            AlarmClose(
                site_id=site.site_id,
                panel_id=str(alarm["panel_id"]),
                event_id=str(alarm["event_id"]),
                operator_id=self.state.operator_id,
                closed_at_ms=now_ms(),
            ),
            self.key,
        )
        for c in self.endpoints:
            url = f"{c.url}/v1/sites/{site.site_id}/alarm-closes"
            req = self.http.signed(
                "POST", url, self.keyid, self.key, json={"alarm_close": close.to_json()}
            )
            await self.http.send("custodian POST .../alarm-closes", req)

    async def release_after_close(self, rec: Recording, event: SignedStatement) -> None:
        """The header kept from the closed alarm gets no share: refused ``alarm_closed``."""
        c = random.choice(self.endpoints)
        key_id = c.escrow_key.key_id()
        stanza = next(
            st
            for st in parse_header(rec.header).stanzas
            if st.type == "camvault-escrow" and st.args and st.args[0] == key_id
        )
        body = {
            "purpose": Purpose.ALARM_VERIFICATION.value,
            "justification": event.to_json(),
            "session_key": b64encode(SessionKey.generate().public_key()),
            "items": [
                {
                    "metadata": rec.metadata.to_json(),
                    "stanza": {"args": list(stanza.args), "body": b64encode(stanza.body)},
                }
            ],
        }
        req = self.http.signed("POST", f"{c.url}/v1/releases", self.keyid, self.key, json=body)
        try:  # no status is "ok": a release (2xx) is recorded as an error
            await self.http.send(
                "custodian POST /v1/releases (after close)", req, ok=(), expected=CLOSED
            )
        except Refused as exc:
            if (exc.status, exc.reason) in CLOSED:
                self.stats.counters["releases after close refused alarm_closed"] += 1
