"""The witness's HTTP application: ``POST /add-checkpoint`` (C2SP tlog-witness), ``GET
/witness`` (its name, verifier key and the logs it follows), ``GET /healthz``.

A plain ASGI application rather than a web framework: three fixed routes, and every
cosigning round of every custodian that uses this witness waits on ``/add-checkpoint``. In
the witnessed escrow benchmark a framework (routing, six middlewares, a hop to a thread for
the decision) was two thirds of the witness's CPU per request. The decision runs in the
event loop: it takes a fraction of a millisecond, and requests for one log are decided one
at a time anyway (one compare-and-set per log, witness_service/store.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from common import logs
from common.access import AccessLog
from crypto.tlog.cosignature import CosignatureSigner
from witness_service.keys import load_or_create
from witness_service.settings import WitnessSettings
from witness_service.store import Store, make_engine
from witness_service.witness import Answer, Witness


@dataclass(frozen=True, slots=True)
class _Route:
    """What :class:`common.access.AccessLog` labels a request with (``scope["route"].path``)."""

    path: str


#: path -> the method it answers.
ROUTES = {"/add-checkpoint": "POST", "/witness": "GET", "/healthz": "GET"}


class _TooLargeError(Exception):
    pass


class WitnessApp:
    """The ASGI application of one witness (see the module docstring)."""

    def __init__(self, witness: Witness, signer: CosignatureSigner, max_body_bytes: int) -> None:
        self.witness = witness
        self.signer = signer
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":  # pragma: no cover - uvicorn runs no websockets here
            return
        path, method = scope["path"], scope["method"]
        allowed = ROUTES.get(path)
        if allowed is None:
            await _answer(send, _refusal(scope, 404, "not_found", "no such path"))
            return
        scope["route"] = _Route(path)
        if method != allowed and not (method == "HEAD" and allowed == "GET"):
            answer = _refusal(scope, 405, "method_not_allowed", f"{path} takes {allowed}")
            await _answer(send, answer, [(b"allow", allowed.encode())])
            return
        if path == "/add-checkpoint":
            try:
                body = await self._body(receive)
            except _TooLargeError:
                answer = _refusal(scope, 413, "bad_request", "request body too large")
                await _answer(send, answer, [(b"connection", b"close")])
                return
            answer = self.witness.add_checkpoint(body)
            if answer.reason is not None:
                scope.setdefault("state", {})["error_code"] = answer.reason
        elif path == "/witness":
            info = {
                "name": self.signer.name,
                "verifier_key": self.signer.verifier.to_text(),
                "logs": sorted(self.witness.logs),
            }
            answer = Answer(200, json.dumps(info).encode(), "application/json")
        else:
            answer = Answer(200, b'{"status":"ok"}', "application/json")
        await _answer(send, answer, head=method == "HEAD")

    async def _body(self, receive: Receive) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return b""
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLargeError
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)


def _refusal(scope: Scope, status: int, reason: str, message: str) -> Answer:
    scope.setdefault("state", {})["error_code"] = reason
    return Answer(status, f"{reason}: {message}\n".encode(), reason=reason)


async def _answer(
    send: Send, answer: Answer, extra: list[tuple[bytes, bytes]] | None = None, head: bool = False
) -> None:
    headers = [
        (b"content-type", answer.content_type.encode()),
        (b"content-length", str(len(answer.body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else answer.body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app(settings: WitnessSettings | None = None) -> ASGIApp:
    """The witness application wrapped in the access log (an ASGI callable)."""
    settings = settings or WitnessSettings()
    logs.configure(settings.log_level)
    signer = load_or_create(settings.data_dir, settings.name)
    store = Store(make_engine(settings.effective_database_url))
    witness = Witness(signer, settings.log_verifiers(), store, lambda: int(time.time()))
    return AccessLog(WitnessApp(witness, signer, settings.max_body_bytes), "camvault.witness")


def create_app_from_env() -> ASGIApp:
    return create_app(WitnessSettings())
