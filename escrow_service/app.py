"""The custodian's HTTP API (FastAPI). Routes are thin: decode, call the service, encode.

docs/ESCROW.md "HTTP API" documents every route. Errors are always
``{"error": {"code": <reason>, "message": ...}}`` with the status of
:func:`escrow_service.errors.http_status`; bad input never gives a 500.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from crypto.canonical import canonical_json
from crypto.errors import CryptoError, LogProofError
from crypto.format import b64decode
from crypto.httpsig import HttpRequest, request_from_asgi
from escrow_service.auth import Caller, authenticate, claimed_keyid
from escrow_service.db import make_engine, upgrade
from escrow_service.db.migrate import is_current
from escrow_service.errors import Reason, Refusal, http_status
from escrow_service.keys import load_or_create
from escrow_service.notify import Notifier
from escrow_service.opener import MemoMetadata, Opener
from escrow_service.service import (
    EscrowService,
    LogReceipt,
    ReleaseIn,
    ReleaseItemIn,
    ReleaseOutcome,
    b64,
)
from escrow_service.settings import EscrowSettings
from escrow_service.tlog_store import LogStore

log = logging.getLogger("camvault.escrow")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def error_body(reason: Reason, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": reason.value, "message": message}, **extra}


def refusal_response(r: Refusal, **extra: Any) -> JSONResponse:
    return JSONResponse(error_body(r.reason, r.message, **extra), status_code=http_status(r.reason))


def http_request(request: Request) -> HttpRequest:
    return request_from_asgi(
        request.method,
        request.headers.raw,
        request.scope.get("raw_path") or request.url.path.encode(),
        request.scope.get("query_string", b""),
    )


# --- request decoding ---------------------------------------------------------------------


def _malformed(message: str) -> Refusal:
    return Refusal(Reason.MALFORMED_REQUEST, message)


def decode_json(body: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _malformed("body is not JSON") from None
    if not isinstance(obj, dict):
        raise _malformed("body must be a JSON object")
    return obj


def statement_bytes(obj: object, what: str) -> bytes:
    """A signed statement given as its JSON envelope -> its canonical bytes."""
    if not isinstance(obj, dict):
        raise _malformed(f"{what} must be a signed statement (JSON object)")
    try:
        return canonical_json(obj)
    except CryptoError as exc:
        raise _malformed(f"{what}: {exc}") from None


_ITEM_KEYS = frozenset(("metadata", "stanza"))
_STANZA_KEYS = frozenset(("args", "body"))


def decode_release(body: bytes) -> ReleaseIn:
    obj = decode_json(body)
    unknown = set(obj) - {"purpose", "justification", "session_key", "items"}
    if unknown:
        raise _malformed(f"unknown field {sorted(unknown)[0]!r}")
    purpose = obj.get("purpose")
    if not isinstance(purpose, str):
        raise _malformed("purpose must be a string")
    just = obj.get("justification")
    justification = None if just is None else statement_bytes(just, "justification")
    sk = obj.get("session_key")
    try:
        session_key = b64decode(sk) if isinstance(sk, str) else None
    except ValueError:
        session_key = None
    if session_key is None:
        raise Refusal(Reason.BAD_SESSION_KEY, "session_key must be base64 (unpadded) of 32 bytes")
    raw_items = obj.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise _malformed("items must be a non-empty list")
    items: list[ReleaseItemIn] = []
    for i, it in enumerate(raw_items):
        if not isinstance(it, dict) or it.keys() != _ITEM_KEYS:
            raise _malformed(f"items[{i}] must have exactly metadata and stanza")
        st = it["stanza"]
        if not isinstance(st, dict) or st.keys() != _STANZA_KEYS:
            raise _malformed(f"items[{i}].stanza must have exactly args and body")
        args, sbody = st["args"], st["body"]
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise _malformed(f"items[{i}].stanza.args must be a list of strings")
        if not isinstance(sbody, str):
            raise _malformed(f"items[{i}].stanza.body must be base64")
        try:
            meta = MemoMetadata.from_json(it["metadata"])
            body_bytes = b64decode(sbody)
        except (CryptoError, ValueError) as exc:
            raise _malformed(f"items[{i}]: {exc}") from None
        items.append(ReleaseItemIn(meta, tuple(args), body_bytes))
    return ReleaseIn(purpose, justification, session_key, tuple(items))


#: Largest index or size a query may name: log indexes are stored as signed 64-bit integers
#: (a larger value overflows the database driver: it was a 500 on SQLite).
MAX_INDEX = 2**63 - 1


def check_index(name: str, value: int, *, low: int = 0) -> None:
    if not low <= value <= MAX_INDEX:
        raise Refusal(Reason.INVALID_RANGE, f"{name} must be between {low} and 2^63-1")


# --- encoding -----------------------------------------------------------------------------


def outcome_json(service: EscrowService, outcome: ReleaseOutcome) -> dict[str, Any]:
    return {
        "custodian_id": service.keys.custodian_id,
        "release_id": outcome.release_id,
        "log": outcome.receipt.to_json(),
        "items": [
            {
                "recording_id": r.recording_id,
                "status": "released" if r.sealed_share is not None else "refused",
                "sealed_share": None if r.sealed_share is None else b64(r.sealed_share),
                "reason": None if r.reason is None else r.reason.value,
                "message": r.message,
            }
            for r in outcome.items
        ],
    }


def receipt_json(receipt: LogReceipt | None) -> dict[str, Any]:
    if receipt is None:
        return {"status": "unchanged"}
    return {"status": "logged", "log": receipt.to_json()}


# --- application --------------------------------------------------------------------------


def create_app(settings: EscrowSettings | None = None) -> FastAPI:
    settings = settings or EscrowSettings()
    url = settings.effective_database_url

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            upgrade(url)
        engine = make_engine(url)
        if not is_current(engine, url):
            raise RuntimeError("escrow database schema is not current: run the migrations")
        keys = load_or_create(settings.data_dir, settings.custodian_id)
        logstore = LogStore(engine, keys)
        logstore.refresh()
        opener = Opener(
            keys.escrow_key,
            workers=settings.crypto_workers,
            parallel_threshold=settings.parallel_threshold,
        )
        service = EscrowService(engine, keys, settings, logstore, opener, now_ms)
        app.state.service = service
        if settings.authorities is None:
            log.warning(
                "CAMVAULT_ESCROW_PUBLIC_AUTHORITY is not set: request signatures made for "
                "another custodian's address are not refused"
            )
        notifier = Notifier(engine, service, settings)
        notifier.start()
        # Everything allocated so far (modules, app, engine, keys) lives as long as the
        # process: move it out of the collector's sight, so that a full collection triggered
        # by a big request scans only what requests allocated (it was a 40-60 ms pause, the
        # tail of single-release latency).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            notifier.stop()
            opener.close()
            engine.dispose()

    app = FastAPI(title="camvault key custodian", lifespan=lifespan)
    install_routes(app, settings)
    install_error_handlers(app)
    return app


def create_app_from_env() -> FastAPI:
    return create_app(EscrowSettings())


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Refusal)
    async def _refusal(_: Request, exc: Refusal) -> JSONResponse:
        return refusal_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        msg = f"{where}: {first.get('msg', 'invalid request')}"
        return refusal_response(Refusal(Reason.MALFORMED_REQUEST, msg))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = Reason.NOT_FOUND if exc.status_code == 404 else Reason.MALFORMED_REQUEST
        return JSONResponse(error_body(reason, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error", exc_info=exc)
        return JSONResponse(error_body(Reason.INTERNAL_ERROR, "internal error"), status_code=500)


def install_routes(app: FastAPI, settings: EscrowSettings) -> None:
    def svc(request: Request) -> EscrowService:
        service: EscrowService = request.app.state.service
        return service

    async def read_body(request: Request) -> bytes:
        body = await request.body()
        if len(body) > settings.max_body_bytes:
            raise Refusal(Reason.BATCH_TOO_LARGE, f"body larger than {settings.max_body_bytes}")
        return body

    def authenticate_request(request: Request, body: bytes) -> Caller:
        service = svc(request)
        return authenticate(
            http_request(request),
            body,
            service.key_for,
            now_s=now_ms() // 1000,
            clock_skew_s=settings.clock_skew_s,
            max_lifetime_s=settings.signature_max_lifetime_s,
            authorities=settings.authorities,
        )

    async def as_customer(request: Request, site_id: str, body: bytes = b"") -> Caller:
        caller = await run_in_threadpool(authenticate_request, request, body)
        if caller.kind != "customer" or caller.ident != site_id:
            raise Refusal(Reason.WRONG_PRINCIPAL, "only this site's customer may do this")
        await run_in_threadpool(
            svc(request).remember_nonce, caller.keyid, caller.nonce, caller.expires_ms
        )
        return caller

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/custodian")
    async def custodian(request: Request) -> dict[str, Any]:
        service = svc(request)
        return service.keys.public_info()

    async def post_statement(request: Request, field: str, call: Any, *args: str) -> Any:
        obj = decode_json(await read_body(request))
        data = statement_bytes(obj.get(field), field)
        receipt = await run_in_threadpool(functools.partial(call, *args), data)
        return receipt_json(receipt)

    @app.post("/v1/sites")
    async def enroll_site(request: Request) -> Any:
        return await post_statement(request, "site_keys", svc(request).enroll_site)

    @app.post("/v1/sites/{site_id}/devices")
    async def enroll_device(request: Request, site_id: str) -> Any:
        return await post_statement(
            request, "device_enrollment", svc(request).enroll_device, site_id
        )

    @app.post("/v1/operators")
    async def register_operator(request: Request) -> Any:
        return await post_statement(request, "registration", svc(request).register_operator)

    @app.post("/v1/sites/{site_id}/revocations")
    async def revoke(request: Request, site_id: str) -> Any:
        return await post_statement(request, "revocation", svc(request).revoke, site_id)

    @app.post("/v1/sites/{site_id}/alarm-cancels")
    async def cancel(request: Request, site_id: str) -> Any:
        return await post_statement(request, "alarm_cancel", svc(request).cancel_alarm, site_id)

    @app.put("/v1/sites/{site_id}/settings")
    async def site_settings(request: Request, site_id: str) -> Any:
        body = await read_body(request)
        await as_customer(request, site_id, body)
        obj = decode_json(body)
        period = obj.get("access_period_s")
        if set(obj) != {"access_period_s"} or not (
            period is None or (isinstance(period, int) and not isinstance(period, bool))
        ):
            raise _malformed('body must be {"access_period_s": <int seconds> | null}')
        receipt = await run_in_threadpool(svc(request).set_access_period, site_id, period)
        return receipt_json(receipt)

    @app.post("/v1/releases")
    async def release(request: Request) -> JSONResponse:
        service = svc(request)
        body = await request.body()
        hreq = http_request(request)
        claimed = claimed_keyid(hreq)
        claimed_operator = claimed[1] if claimed and claimed[0] == "operator" else None

        def auth() -> Caller:
            if len(body) > settings.max_body_bytes:
                raise Refusal(Reason.BATCH_TOO_LARGE, "request body too large")
            return authenticate_request(request, body)

        def run() -> JSONResponse:
            outcome = service.release(claimed_operator, auth, lambda: decode_release(body))
            # Encoded here, not on the event loop: a 1,800-item response takes ~5 ms.
            payload = outcome_json(service, outcome)
            if outcome.refusal is not None:
                return refusal_response(outcome.refusal, **payload)
            return JSONResponse(payload)

        return await run_in_threadpool(run)

    # --- log API -----------------------------------------------------------------------

    @app.get("/v1/log/checkpoint")
    async def checkpoint(request: Request) -> Response:
        note = await run_in_threadpool(svc(request).log.checkpoint)
        return PlainTextResponse(note.decode("utf-8"))

    def _check_size(service: EscrowService, size: int) -> None:
        if size > service.log.size():
            raise Refusal(Reason.INVALID_RANGE, f"tree size {size} is beyond the log")

    @app.get("/v1/log/entries")
    async def entries(request: Request, start: int, end: int) -> Any:
        service = svc(request)
        check_index("start", start)
        check_index("end", end, low=1)
        if end <= start or end - start > settings.max_entries_page:
            raise Refusal(
                Reason.INVALID_RANGE,
                f"need start < end and at most {settings.max_entries_page} entries",
            )
        if start > service.log.size():
            raise Refusal(Reason.INVALID_RANGE, f"start {start} is beyond the log")
        rows = await run_in_threadpool(service.log.entries, start, end)
        return {"entries": [{"index": i, "entry": e.decode("utf-8")} for i, e in rows]}

    @app.get("/v1/log/inclusion")
    async def inclusion(
        request: Request,
        tree_size: int,
        index: int | None = None,
        leaf_hash: str | None = None,
    ) -> Any:
        service = svc(request)
        check_index("tree_size", tree_size, low=1)
        if index is not None:
            check_index("index", index)

        def run() -> dict[str, Any]:
            _check_size(service, tree_size)
            idx = index
            if idx is None:
                try:
                    leaf = bytes.fromhex(leaf_hash or "")
                except ValueError:
                    raise _malformed("leaf_hash must be hex") from None
                if len(leaf) != 32:
                    raise _malformed("give index or leaf_hash (64 hex digits)")
                idx = service.log.index_of(leaf)
                if idx is None:
                    raise Refusal(Reason.NOT_FOUND, "no entry with this leaf hash")
            if idx >= tree_size:
                raise Refusal(Reason.INVALID_RANGE, f"index {idx} is not below tree size")
            proof = service.log.inclusion_proof(idx, tree_size)
            return {"index": idx, "tree_size": tree_size, "proof": [b64(h) for h in proof]}

        return await run_in_threadpool(run)

    @app.get("/v1/log/consistency")
    async def consistency(
        request: Request,
        old: int,
        new: int,
    ) -> Any:
        service = svc(request)
        check_index("old", old)
        check_index("new", new)

        def run() -> dict[str, Any]:
            if old > new:
                raise Refusal(Reason.INVALID_RANGE, "old must not exceed new")
            _check_size(service, new)
            try:
                proof = service.log.consistency_proof(old, new)
            except LogProofError as exc:
                raise Refusal(Reason.INVALID_RANGE, str(exc)) from None
            return {"old": old, "new": new, "proof": [b64(h) for h in proof]}

        return await run_in_threadpool(run)

    @app.get("/v1/sites/{site_id}/log-entries")
    async def site_entries(
        request: Request,
        site_id: str,
        after: int = -1,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> Any:
        check_index("after", after, low=-1)
        await as_customer(request, site_id)
        rows = await run_in_threadpool(svc(request).log.site_entries, site_id, after, limit)
        return {"entries": [{"index": i, "entry": e.decode("utf-8")} for i, e in rows]}

    @app.get("/v1/sites/{site_id}/notices")
    async def site_notices(
        request: Request,
        site_id: str,
        after: int = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Any:
        check_index("after", after)
        await as_customer(request, site_id)
        rows = await run_in_threadpool(svc(request).site_notices, site_id, after, limit)
        return {"notices": rows}
