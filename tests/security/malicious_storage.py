"""A malicious storage service: a proxy in front of a real one that rewrites its answers.

:class:`MaliciousStorage` listens on a loopback port and forwards every request, unchanged,
to the real storage service (a uvicorn process); each answer is handed to the current
:attr:`~MaliciousStorage.lie` before the client sees it. Without a lie it passes everything
through: the control of every attack.

The proxy IS the storage service as far as everybody else knows: :func:`proxied_world` starts
the storage service with the proxy's URL as its public URL (so request signatures cover the
proxy's authority, and the presigned object URLs it hands out point at the proxy: payloads
pass through it too), and the custodians deliver their access notices through it. Customers,
cameras and panels set up with ``setup_customer(proxied.view, ...)`` are given the proxy's URL.

A lie is a function of one :class:`Exchange` (request and answer) returning the answer to
send instead (or None: unchanged); :func:`json_lie` builds the usual kind, a rewrite of the
JSON answers of the routes whose path matches a pattern.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from crypto.ed25519 import Ed25519SigningKey
from tests.clients.customer_world import ACCESS_PERIOD_S, World
from tests.escrow.harness import CustodianProc
from tests.storage.support import make_service

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade"}
ANSWER_DROP = HOP_BY_HOP | {"content-encoding"}


@dataclass
class Exchange:
    """One request and the answer the real service gave (or the one a lie makes of it)."""

    method: str
    path: str  # without the query
    query: str
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def with_json(self, obj: Any) -> Exchange:
        return replace(self, body=json.dumps(obj).encode())


Lie = Callable[[Exchange], Exchange | None]


def json_lie(pattern: str, rewrite: Callable[[Any], Any], query: str = "") -> Lie:
    """Rewrite the JSON answer (200) of every GET whose path matches ``pattern`` and whose
    query matches ``query`` (regexes, searched); ``rewrite`` may change the object in place
    and return None."""
    compiled, wanted = re.compile(pattern), re.compile(query)

    def lie(ex: Exchange) -> Exchange | None:
        if ex.method != "GET" or ex.status != 200 or not compiled.search(ex.path):
            return None
        if not wanted.search(ex.query):
            return None
        obj = ex.json()
        out = rewrite(obj)
        return ex.with_json(obj if out is None else out)

    return lie


def bytes_lie(pattern: str, rewrite: Callable[[bytes], bytes]) -> Lie:
    """Rewrite the raw body of every successful GET whose path matches ``pattern``."""
    compiled = re.compile(pattern)

    def lie(ex: Exchange) -> Exchange | None:
        if ex.method != "GET" or ex.status != 200 or not compiled.search(ex.path):
            return None
        return replace(ex, body=rewrite(ex.body))

    return lie


@dataclass
class MaliciousStorage:
    """The proxy. ``lie`` is read per request; ``lied`` counts the answers it changed and
    ``failures`` the lies that raised (the answer then passes unchanged)."""

    upstream: str = ""
    lie: Lie | None = None
    lied: int = 0
    failures: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60), repr=False)

    def __post_init__(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                resp = proxy._http.request(
                    self.command, proxy.upstream + self.path, headers=headers, content=body
                )
                path, _, query = self.path.partition("?")
                ex = Exchange(
                    self.command,
                    path,
                    query,
                    resp.status_code,
                    {k: v for k, v in resp.headers.items() if k.lower() not in ANSWER_DROP},
                    resp.content,
                )
                lie = proxy.lie
                try:
                    changed = lie(ex) if lie is not None else None
                except Exception as exc:  # a broken lie: the test fails on it (lying())
                    proxy.failures.append(f"{self.command} {self.path}: {exc!r}")
                    changed = None
                if changed is not None:
                    proxy.lied += 1
                    ex = changed
                self.send_response(ex.status)
                for k, v in ex.headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(ex.body)))
                self.send_header("connection", "close")
                self.end_headers()
                self.wfile.write(ex.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the storage service logs every request itself

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._http.close()

    @contextmanager
    def lying(self, lie: Lie) -> Iterator[None]:
        """Tell ``lie`` for the duration of the block (then pass everything through again)."""
        self.lie, before = lie, self.lied
        try:
            yield
        finally:
            self.lie = None
        assert not self.failures, f"the lie itself failed: {self.failures}"
        assert self.lied > before, "the lie never applied: the attack did not happen"


@dataclass
class ProxiedWorld:
    """A customer World whose storage service is reached only through ``proxy``."""

    world: World
    proxy: MaliciousStorage

    @property
    def view(self) -> World:
        """The world as its users see it: the storage service at the proxy's URL."""
        return replace(self.world, storage=replace(self.world.storage, url=self.proxy.url))


@contextmanager
def proxied_world(workdir: Path) -> Iterator[ProxiedWorld]:
    """Storage (SQLite + local object store: a lying proxy does not care about the backend)
    and three custodians, as tests/clients/customer_world.running_world starts them, except
    that the storage service's public URL and the custodians' notice URL are the proxy's."""
    proxy = MaliciousStorage()
    arc = Ed25519SigningKey.generate()
    storage = make_service(
        workdir / "storage",
        None,
        None,
        CAMVAULT_PUBLIC_URL=proxy.url,
        CAMVAULT_ARC_PUBLIC_KEY=arc.public_key.to_text(),
        CAMVAULT_ALARM_ACCESS_PERIOD_S=str(ACCESS_PERIOD_S),
    )
    proxy.upstream = storage.url
    (workdir / "storage").mkdir(parents=True, exist_ok=True)
    custodians = [
        CustodianProc(
            f"c{i}",
            workdir,
            f"sqlite:///{workdir / f'c{i}' / 'escrow.db'}",
            {
                "CAMVAULT_ESCROW_ARC_PUBLIC_KEY": arc.public_key.to_text(),
                "CAMVAULT_ESCROW_NOTIFY_URL": proxy.url + "/v1/notices",
                "CAMVAULT_ESCROW_ACCESS_PERIOD_S": str(ACCESS_PERIOD_S),
            },
        )
        for i in (1, 2, 3)
    ]
    try:
        starts: list[Callable[[], object]] = [storage.start, *(c.start for c in custodians)]
        with ThreadPoolExecutor(len(starts)) as pool:  # the four processes start side by side
            list(pool.map(lambda start: start(), starts))
        yield ProxiedWorld(World(storage, custodians, arc, workdir), proxy)
    finally:
        for c in custodians:
            c.stop()
        storage.stop()
        proxy.close()


@contextmanager
def proxied_world_dir() -> Iterator[ProxiedWorld]:
    workdir = Path(tempfile.mkdtemp(prefix=f"camvault-liar-{uuid.uuid4().hex[:6]}-"))
    try:
        with proxied_world(workdir) as pw:
            yield pw
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
