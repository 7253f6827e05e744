"""A key custodian's API as the clients call it (docs/ESCROW.md): its public keys, the
statements a customer or the ARC sends it directly, the release requests of operators, the
customer's notices, and its transparency log.

The public routes (keys, statements, log) are plain HTTP; a release and an alarm close
(operator) and the notices (customer) are signed requests, sent through the
:class:`~common.http.SignedClient` given to :meth:`CustodianApi.release`,
:meth:`CustodianApi.close_alarm` / :meth:`CustodianApi.notices`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from clients.api.errors import ClientError, ServiceRefused, check
from common.http import CLIENT_LIMITS, SignedClient
from crypto.ed25519 import Ed25519PublicKey
from crypto.encoding import b64decode_padded
from crypto.escrow import (
    ESCROW_STANZA_TYPE,
    HYBRID_STANZA_TYPE,
    CustodianPublicKey,
    HybridCustodianPublicKey,
)
from crypto.statements import SignedStatement
from crypto.tlog.note import NoteVerifier

#: entries per page of ``GET /v1/log/entries``
LOG_PAGE = 1000
#: notices per page of ``GET /v1/sites/{site}/notices``
NOTICE_PAGE = 1000


#: Attempts of a request the custodian refuses as ``rate_limited`` (429), and the longest
#: wait between two (its ``Retry-After``, bounded).
RATE_LIMITED_ATTEMPTS = 5
MAX_RETRY_WAIT_S = 10.0


def retrying(send: Callable[[], httpx.Response]) -> httpx.Response:
    """``send()``, again after the ``Retry-After`` of a rate-limited (429) answer: a large
    deletion is many statements, an audit reads many log pages, and the custodians' public
    routes are rate limited per address."""
    for _ in range(RATE_LIMITED_ATTEMPTS - 1):
        resp = send()
        if resp.status_code != 429:
            return resp
        try:
            wait = float(resp.headers.get("retry-after", "1"))
        except ValueError:
            wait = 1.0
        time.sleep(min(max(wait, 0.0), MAX_RETRY_WAIT_S))
    return send()


def _hybrid(text: object) -> HybridCustodianPublicKey | None:
    """An optional ``hybrid_escrow_key`` member (absent or null: none)."""
    return None if text is None else HybridCustodianPublicKey.from_text(str(text))


@dataclass(frozen=True, slots=True)
class CustodianEndpoint:
    """A custodian as the clients know it: id, URL and public keys (as it published them at
    ``GET /v1/custodian`` and as the site's SiteKeys list them). ``hybrid_escrow_key``: its
    ML-KEM-768 + X25519 escrow key, if it publishes one."""

    custodian_id: str
    url: str
    escrow_key: CustodianPublicKey
    log_key: Ed25519PublicKey
    hybrid_escrow_key: HybridCustodianPublicKey | None = None

    def escrow_key_ids(self) -> dict[str, str]:
        """Escrow stanza type -> the key id its stanzas for this custodian carry."""
        ids = {ESCROW_STANZA_TYPE: self.escrow_key.key_id()}
        if self.hybrid_escrow_key is not None:
            ids[HYBRID_STANZA_TYPE] = self.hybrid_escrow_key.key_id()
        return ids

    @property
    def origin(self) -> str:
        return f"camvault.io/custodian/{self.custodian_id}"

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier.from_public_key(self.origin, self.log_key.raw)

    def to_json(self) -> dict[str, str]:
        out = {
            "custodian_id": self.custodian_id,
            "url": self.url,
            "escrow_key": self.escrow_key.to_text(),
            "log_key": self.log_key.to_text(),
        }
        if self.hybrid_escrow_key is not None:
            out["hybrid_escrow_key"] = self.hybrid_escrow_key.to_text()
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> CustodianEndpoint:
        return cls(
            str(obj["custodian_id"]),
            str(obj["url"]),
            CustodianPublicKey.from_text(str(obj["escrow_key"])),
            Ed25519PublicKey.from_text(str(obj["log_key"])),
            _hybrid(obj.get("hybrid_escrow_key")),
        )


class CustodianApi:
    """One custodian's routes. Refusals raise :class:`~clients.api.errors.ServiceRefused`;
    a custodian that cannot be reached raises ``httpx.HTTPError`` (or, for the statements
    and the keys, :class:`~clients.api.errors.ClientError` saying it is unreachable)."""

    def __init__(self, url: str, *, name: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.service = name or self.url
        self.http = httpx.Client(base_url=self.url, timeout=timeout, limits=CLIENT_LIMITS)

    @classmethod
    def of(cls, custodian: CustodianEndpoint, timeout: float = 30.0) -> CustodianApi:
        return cls(custodian.url, name=f"custodian {custodian.custodian_id}", timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> CustodianApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, **params: Any) -> Any:
        return check(retrying(lambda: self.http.get(path, params=params)), self.service, (200,))

    # --- keys and statements (public) ---------------------------------------------------------

    def info(self) -> CustodianEndpoint:
        """The custodian's id and public keys (``GET /v1/custodian``)."""
        try:
            info = self._get("/v1/custodian")
        except httpx.HTTPError as exc:
            raise ClientError(f"custodian at {self.url} unreachable: {exc}") from exc
        return CustodianEndpoint(
            str(info["custodian_id"]),
            self.url,
            CustodianPublicKey.from_text(str(info["escrow_key"])),
            Ed25519PublicKey.from_text(str(info["log_key"])),
            _hybrid(info.get("hybrid_escrow_key")),
        )

    def _post_statement(self, path: str, field: str, statement: SignedStatement) -> str:
        try:
            resp = retrying(lambda: self.http.post(path, json={field: statement.to_json()}))
        except httpx.HTTPError as exc:
            raise ClientError(f"{self.service} unreachable: {exc}") from exc
        data = check(resp, self.service)
        return str(data.get("status", "ok")) if isinstance(data, dict) else "ok"

    def enroll_site(self, site_keys: SignedStatement) -> str:
        """Pin (first SiteKeys) or log a key change; the custodian's status word."""
        return self._post_statement("/v1/sites", "site_keys", site_keys)

    def enroll_device(self, site_id: str, enrollment: SignedStatement) -> str:
        return self._post_statement(f"/v1/sites/{site_id}/devices", "device_enrollment", enrollment)

    def revoke(self, site_id: str, revocation: SignedStatement) -> str:
        return self._post_statement(f"/v1/sites/{site_id}/revocations", "revocation", revocation)

    def revoke_device(self, site_id: str, revocation: SignedStatement) -> str:
        """A customer-signed DeviceRevocation: alarms the key signs from its
        ``revoked_from_ms`` on are refused (logged)."""
        return self._post_statement(
            f"/v1/sites/{site_id}/device-revocations", "device_revocation", revocation
        )

    def cancel_alarm(self, site_id: str, cancel: SignedStatement) -> str:
        return self._post_statement(f"/v1/sites/{site_id}/alarm-cancels", "alarm_cancel", cancel)

    def register_operator(self, registration: SignedStatement) -> str:
        return self._post_statement("/v1/operators", "registration", registration)

    def delete_recordings(self, site_id: str, deletion: SignedStatement) -> str:
        """A customer-signed RecordingDeletion: the custodian refuses those recordings'
        stanzas from now on."""
        return self._post_statement(f"/v1/sites/{site_id}/deletions", "deletion", deletion)

    def set_retention(self, site_id: str, policy: SignedStatement) -> str:
        """A customer-signed RetentionPolicy: the custodian refuses the stanzas of recordings
        past it from now on."""
        return self._post_statement(f"/v1/sites/{site_id}/retention", "retention_policy", policy)

    def close_alarm(self, client: SignedClient, site_id: str, close: SignedStatement) -> str:
        """An operator-signed AlarmClose, in a request signed by the same operator
        (``client``): the custodian refuses every later release under the alarm."""
        path = f"/v1/sites/{site_id}/alarm-closes"
        try:
            # a fresh signature (and nonce) for each attempt
            resp = retrying(lambda: client.post(path, json={"alarm_close": close.to_json()}))
        except httpx.HTTPError as exc:
            raise ClientError(f"{self.service} unreachable: {exc}") from exc
        data = check(resp, self.service)
        return str(data.get("status", "ok")) if isinstance(data, dict) else "ok"

    # --- signed: releases (operator), notices (customer) -------------------------------------

    @staticmethod
    def release(client: SignedClient, body: dict[str, Any]) -> httpx.Response:
        """``POST /v1/releases`` signed by the operator; the answer as received (a release
        and a refusal both carry a log receipt the caller verifies)."""
        return client.post("/v1/releases", json=body)

    def notices(self, client: SignedClient, site_id: str) -> list[tuple[str, bool]]:
        """Every access notice the custodian holds for the site (signed by the customer), and
        whether the storage service acknowledged its delivery to the site's inbox."""
        out: list[tuple[str, bool]] = []
        after = 0
        while True:
            data = check(
                client.get(
                    f"/v1/sites/{site_id}/notices", params={"after": after, "limit": NOTICE_PAGE}
                ),
                self.service,
            )
            rows = data["notices"]
            out.extend((str(r["notice"]), r.get("delivered") is True) for r in rows)
            if len(rows) < NOTICE_PAGE:
                return out
            after = int(rows[-1]["id"])

    # --- the transparency log (public) --------------------------------------------------------

    def checkpoint(self) -> bytes:
        """The latest signed checkpoint, as the note's bytes."""
        resp = retrying(lambda: self.http.get("/v1/log/checkpoint"))
        check(resp, self.service, (200,))
        return resp.content

    def consistency(self, old: int, new: int) -> list[bytes]:
        data = self._get("/v1/log/consistency", old=old, new=new)
        return [b64decode_padded(h) for h in data["proof"]]

    def inclusion(self, index: int, tree_size: int) -> list[bytes]:
        data = self._get("/v1/log/inclusion", index=index, tree_size=tree_size)
        return [b64decode_padded(h) for h in data["proof"]]

    def entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """Entries ``start`` .. ``end`` - 1, as far as pages of :data:`LOG_PAGE` reach (a
        short page ends the reading)."""
        out: list[tuple[int, bytes]] = []
        pos = start
        while pos < end:
            stop = min(end, pos + LOG_PAGE)
            data = self._get("/v1/log/entries", start=pos, end=stop)
            page = [(int(e["index"]), str(e["entry"]).encode("utf-8")) for e in data["entries"]]
            out.extend(page)
            if len(page) != stop - pos:
                break
            pos = stop
        return out


@dataclass(frozen=True, slots=True)
class Ack:
    """One custodian's answer to a statement sent to every custodian: ``status`` is its
    status word (``logged``, ``unchanged``) or, when not acknowledged, why."""

    custodian_id: str
    acknowledged: bool
    status: str


def to_every_custodian(
    custodians: Sequence[CustodianEndpoint],
    send: Callable[[CustodianApi, CustodianEndpoint], str],
    timeout: float = 30.0,
) -> list[Ack]:
    """``send`` a statement to each custodian in turn; one custodian down or refusing does
    not stop the others, and its answer says so."""
    acks = []
    for c in custodians:
        try:
            with CustodianApi.of(c, timeout) as api:
                acks.append(Ack(c.custodian_id, True, send(api, c)))
        except ServiceRefused as exc:
            acks.append(Ack(c.custodian_id, False, f"refused ({exc.code}): {exc.message}"))
        except (ClientError, httpx.HTTPError) as exc:
            acks.append(Ack(c.custodian_id, False, f"unreachable: {exc}"))
    return acks


def fetch_custodian(url: str, timeout: float = 10.0) -> CustodianEndpoint:
    """A custodian's id and public keys, from its ``GET /v1/custodian``."""
    with CustodianApi(url, timeout=timeout) as api:
        return api.info()
