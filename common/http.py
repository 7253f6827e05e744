"""A small HTTP client that signs every request (RFC 9421, Ed25519) for camvault's services.

Used by the clients, by the custodians (access notices to the storage service) and the tests::

    client = SignedClient("http://127.0.0.1:8000", "customer:site-1", signing_key)
    client.post("/v1/sites", json={"site_keys": ...})

Each request covers ``@method``, ``@authority``, ``@path``, ``@query`` and, with a body,
``content-digest`` (RFC 9530 sha-256) and ``content-type``; it carries a fresh nonce and a
short validity (``created`` .. ``expires``). :meth:`SignedClient.build` returns the signed
``httpx.Request`` without sending it, so a test can tamper with it first.
"""

from __future__ import annotations

import functools
import json as jsonlib
import os
import secrets
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from crypto.ed25519 import Ed25519SigningKey
from crypto.httpsig import HttpRequest, SignatureParams, content_digest, sign_request

JSON_TYPE = "application/json"
BASE_COMPONENTS = ("@method", "@authority", "@path", "@query")


def to_http_request(request: httpx.Request) -> HttpRequest:
    """What RFC 9421 components see of an httpx request (header names lowercased)."""
    headers: dict[str, str] = {}
    for name, value in request.headers.multi_items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    raw = request.url.raw_path.decode("ascii")
    return HttpRequest(
        method=request.method,
        authority=request.headers.get("host", ""),
        path=raw.split("?", 1)[0],
        query=request.url.query.decode("ascii"),
        headers=headers,
    )


#: Idle connections are dropped after 2 s, before the services' keep-alive timeout closes
#: them (5 s, common/serving.py): a request sent on a connection the server is closing at that
#: moment fails with ReadError (seen under load, tests/reliability/load).
CLIENT_LIMITS = httpx.Limits(keepalive_expiry=2.0)


def tls_context() -> ssl.SSLContext:
    """The TLS settings every HTTP client of this process shares: httpx's defaults
    (certifi's CA bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), built once per value of
    those two variables (a process that changes them, as a test trusting its own proxy
    does, gets a context that trusts what they name). httpx builds a new context for each
    ``httpx.Client`` (and each ``httpx.get``/``put``/``stream``), loading the whole CA
    bundle: 10-150 ms of CPU per client on a loaded 2-core machine, 80% of the operator's
    live view before it was shared (docs/PERFORMANCE.md, "Live view")."""
    return _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    del cert_file, cert_dir  # the cache key: httpx reads them from the environment
    return httpx.create_ssl_context()


class SignedClient:
    def __init__(
        self,
        base_url: str,
        keyid: str,
        key: Ed25519SigningKey,
        *,
        timeout: float = 120.0,
        lifetime_s: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keyid = keyid
        self.key = key
        self.lifetime_s = lifetime_s
        self.clock = clock
        self.http = httpx.Client(
            base_url=base_url, timeout=timeout, limits=CLIENT_LIMITS, verify=tls_context()
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SignedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def build(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        params: Mapping[str, Any] | None = None,
        created: int | None = None,
        expires: int | None = None,
        nonce: str | None = None,
        keyid: str | None = None,
    ) -> httpx.Request:
        """A signed request (not sent). ``json`` is serialized compactly; ``content`` is sent
        as is with ``content_type``."""
        headers: dict[str, str] = {}
        body = b""
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":")).encode()
            headers["content-type"] = JSON_TYPE
        elif content is not None:
            body = content
            headers["content-type"] = content_type or "application/octet-stream"
        if body:
            headers["content-digest"] = content_digest(body)
        request = self.http.build_request(
            method, path, params=params, content=body or None, headers=headers
        )
        now = int(self.clock()) if created is None else created
        sig_params = SignatureParams(
            created=now,
            expires=expires if expires is not None else now + self.lifetime_s,
            keyid=keyid or self.keyid,
            nonce=nonce or secrets.token_urlsafe(18),
        )
        covered = BASE_COMPONENTS + (("content-digest", "content-type") if body else ())
        sig_input, sig = sign_request(to_http_request(request), covered, sig_params, self.key)
        request.headers["signature-input"] = sig_input
        request.headers["signature"] = sig
        return request

    def send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        return self.http.send(request, stream=stream)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.send(self.build(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        response = self.send(self.build(method, path, **kwargs), stream=True)
        try:
            yield response
        finally:
            response.close()
