"""Signed requests (RFC 9421, as common.http.SignedClient signs them) on httpx.AsyncClient,
each timed and classified into :class:`~tests.reliability.load.stats.Stats`.

One client per service keeps its connections alive across the simulated devices (a fleet of
real cameras would each hold their own connection; here they share a pool large enough that
waiting for a free connection is rare)."""

from __future__ import annotations

import json as jsonlib
import secrets
import time
from collections.abc import Mapping
from typing import Any

import httpx

from common.bodies import loads
from common.http import BASE_COMPONENTS, JSON_TYPE, to_http_request
from crypto.ed25519 import Ed25519SigningKey
from crypto.httpsig import SignatureParams, content_digest, sign_request
from tests.reliability.load.stats import Stats

#: Idle connections are dropped by the client before the services' keep-alive timeout
#: (``http_keep_alive_s``, 5 s) can close them under a request being sent (with httpx's own
#: default, also 5 s, the two race and a POST fails with ReadError).
KEEPALIVE_EXPIRY_S = 2.0

#: (status, reason) refusals a step expects: recorded apart, not as errors
Expected = frozenset[tuple[int, str]]
NONE: Expected = frozenset()


class Refused(Exception):  # noqa: N818 (named after what happened)
    """A request failed (status or transport); it was recorded already."""

    def __init__(self, endpoint: str, status: int, reason: str) -> None:
        super().__init__(f"{endpoint}: {status} {reason}")
        self.status = status
        self.reason = reason


def reason_of(resp: httpx.Response) -> str:
    try:
        err = loads(resp.content).get("error", {})
        return str(err.get("code", "no_reason"))
    except (ValueError, AttributeError):
        return "no_reason"


class Http:
    """Timed, classified requests; ``signed`` builds a request signed as ``keyid``."""

    def __init__(self, stats: Stats, *, connections: int = 200, timeout: float = 120.0) -> None:
        self.stats = stats
        limits = httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=KEEPALIVE_EXPIRY_S,
        )
        self.client = httpx.AsyncClient(timeout=timeout, limits=limits)

    async def aclose(self) -> None:
        await self.client.aclose()

    def signed(
        self,
        method: str,
        url: str,
        keyid: str,
        key: Ed25519SigningKey,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Request:
        headers: dict[str, str] = {}
        body = b""
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":")).encode()
            headers = {"content-type": JSON_TYPE, "content-digest": content_digest(body)}
        request = self.client.build_request(
            method, url, params=params, content=body or None, headers=headers
        )
        now = int(time.time())
        sig_params = SignatureParams(
            created=now, expires=now + 60, keyid=keyid, nonce=secrets.token_urlsafe(18)
        )
        covered = BASE_COMPONENTS + (("content-digest", "content-type") if body else ())
        sig_input, sig = sign_request(to_http_request(request), covered, sig_params, key)
        request.headers["signature-input"] = sig_input
        request.headers["signature"] = sig
        return request

    async def send(
        self,
        endpoint: str,
        request: httpx.Request,
        *,
        ok: tuple[int, ...] = (200, 201),
        expected: Expected = NONE,
    ) -> httpx.Response:
        """Send, time and record; a status outside ``ok`` raises :class:`Refused` (recorded
        as expected if listed in ``expected``, else as an error)."""
        try:
            with self.stats.timed(endpoint):
                resp = await self.client.send(request)
                await resp.aread()
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            what = type(exc).__name__
            self.stats.outcome(endpoint, what)
            if isinstance(exc, httpx.TimeoutException):  # no answer in TIMEOUT_S: an error
                self.stats.error(endpoint, what)
            else:
                self.stats.transport_error(endpoint, what)
            raise Refused(endpoint, 0, what) from exc
        self.stats.outcome(endpoint, str(resp.status_code))
        if resp.status_code in ok:
            return resp
        reason = reason_of(resp)
        if (resp.status_code, reason) in expected:
            self.stats.refusal(endpoint, resp.status_code, reason)
        else:
            self.stats.error(endpoint, f"HTTP {resp.status_code} {reason}")
        raise Refused(endpoint, resp.status_code, reason)
