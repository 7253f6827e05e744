"""The custodian client's statement posts: a rate-limited (429) answer is retried after its
Retry-After, a refusal keeps its code, and sending to every custodian reports each answer."""

from __future__ import annotations

import time

import httpx
import pytest

from clients.api import escrow as escrow_api
from clients.api.escrow import CustodianApi, CustodianEndpoint, to_every_custodian
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.escrow import CustodianKey
from crypto.statements import RecordingDeletion, sign_statement

DELETION = sign_statement(
    RecordingDeletion("site-1", "cam-1", ("r-1",), now_ms()), Ed25519SigningKey.generate()
)


def api_answering(answers: list[httpx.Response], seen: list[httpx.Request]) -> CustodianApi:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    api = CustodianApi("http://custodian.test", name="custodian c1")
    api.http = httpx.Client(base_url=api.url, transport=httpx.MockTransport(handle))
    return api


def test_a_rate_limited_statement_is_sent_again_after_retry_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    limited = httpx.Response(
        429, headers={"retry-after": "2"}, json={"error": {"code": "rate_limited"}}
    )
    seen: list[httpx.Request] = []
    api = api_answering([limited, limited, httpx.Response(200, json={"status": "logged"})], seen)
    assert api.delete_recordings("site-1", DELETION) == "logged"
    assert waits == [2.0, 2.0] and len(seen) == 3
    assert {r.url.path for r in seen} == {"/v1/sites/site-1/deletions"}


def test_retries_are_bounded_and_the_refusal_keeps_its_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    limited = httpx.Response(
        429,
        headers={"retry-after": "999"},
        json={"error": {"code": "rate_limited", "message": "slow down"}},
    )
    seen: list[httpx.Request] = []
    api = api_answering([limited] * escrow_api.RATE_LIMITED_ATTEMPTS, seen)
    endpoint = CustodianEndpoint(
        "c1", api.url, CustodianKey.generate().public_key(), Ed25519SigningKey.generate().public_key
    )
    monkeypatch.setattr(CustodianApi, "of", classmethod(lambda cls, c, timeout=30.0: api))
    acks = to_every_custodian([endpoint], lambda a, _c: a.delete_recordings("site-1", DELETION))
    assert len(seen) == escrow_api.RATE_LIMITED_ATTEMPTS
    assert [(a.custodian_id, a.acknowledged) for a in acks] == [("c1", False)]
    assert acks[0].status == "refused (rate_limited): slow down"
