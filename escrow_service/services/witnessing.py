"""Collecting the witnesses' cosignatures on the custodian's checkpoints (C2SP tlog-witness).

One background thread per process runs rounds: each round takes the log's latest size, signs
its checkpoint, and submits it to every configured witness at once (``POST /add-checkpoint``
with a consistency proof from the size that witness last cosigned). When at least ``quorum``
witnesses answered with a cosignature that verifies, the checkpoint with their lines appended
is the latest cosigned checkpoint (served at ``GET /v1/log/cosigned-checkpoint`` and put in
receipts). A release does not wait for a round of its own: it waits for the first round that
starts after its entry was committed (group commit), so concurrent releases share one round,
and a round starts at most every ``witness_interval_ms``.

A witness that answers 409 with ``text/x.tlog.size`` tells the size it holds; the next
request to it uses that size (a witness that holds a size this log never had, or a root this
log never had, refuses every checkpoint of this log: that is the witness doing its job).
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
import urllib.parse
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Protocol

from common.http import tls_context
from common.metrics import WITNESS_ROUNDS
from crypto.errors import CryptoError
from crypto.tlog.cosignature import (
    AddCheckpoint,
    CosignatureVerifier,
    append_cosignatures,
    parse_cosignature_lines,
)
from crypto.tlog.note import NoteSignature, open_note
from escrow_service.core.settings import parse_witnesses

log = logging.getLogger("camvault.escrow.witness")


@dataclass(frozen=True, slots=True)
class WitnessConfig:
    url: str
    verifier: CosignatureVerifier

    @classmethod
    def parse_list(cls, text: str) -> list[WitnessConfig]:
        """``<url> <verifier key>`` entries, comma-separated (CAMVAULT_ESCROW_WITNESSES)."""
        return [cls(url, verifier) for url, verifier in parse_witnesses(text)]


#: The largest answer read from a witness (a cosignature line is under 200 bytes).
MAX_ANSWER_BYTES = 64 * 1024


class WitnessError(Exception):
    """The witness could not be asked, or its answer could not be read."""


class WitnessConnection:
    """One kept-alive HTTP/1.1 connection to a witness's ``/add-checkpoint``, used by one
    thread at a time (the cosigner has at most one request in flight per witness).

    ``http.client`` rather than httpx: a cosigning round asks every witness, for every new
    checkpoint, and httpx's layers cost several times the CPU of the request itself in the
    custodian's process, where the releases run. No proxy from the environment is used:
    witnesses are asked directly. HTTPS verifies the witness's certificate with the CAs every
    camvault client trusts (:func:`common.http.tls_context`: certifi's, or ``SSL_CERT_FILE``).
    """

    def __init__(self, url: str, timeout_s: float) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url[:60]!r}")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._path = parts.path.rstrip("/") + "/add-checkpoint"
        self._timeout_s = timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(
                self._host,
                self._port,
                timeout=self._timeout_s,
                context=tls_context(),
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout_s)

    def post(self, body: bytes) -> tuple[int, str, bytes]:
        """POST ``body``: (status, content type, body). A kept-alive connection the witness
        closed meanwhile is replaced once; any other failure raises :class:`WitnessError`."""
        for fresh in (self._conn is None, True):
            if self._conn is None:
                self._conn = self._connect()
            try:
                self._conn.request("POST", self._path, body=body)
                resp = self._conn.getresponse()
                data = resp.read(MAX_ANSWER_BYTES + 1)
                if len(data) > MAX_ANSWER_BYTES:
                    raise WitnessError(f"answer over {MAX_ANSWER_BYTES} bytes")
                if resp.will_close:
                    self.close()
                return resp.status, resp.getheader("content-type", ""), data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if fresh:
                    raise WitnessError(str(exc) or type(exc).__name__) from None
            except (OSError, http.client.HTTPException, WitnessError) as exc:
                self.close()
                raise WitnessError(str(exc) or type(exc).__name__) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class CosignedLog(Protocol):
    """What a cosigner needs of the log (:class:`escrow_service.services.tlog_store.LogStore`)."""

    def refresh(self) -> int: ...

    def checkpoint(self, size: int | None = None) -> bytes: ...

    def consistency_proof(self, old: int, new: int) -> list[bytes]: ...


class Cosigner:
    """The rounds of cosigning for one custodian log (see the module docstring)."""

    def __init__(
        self,
        logstore: CosignedLog,
        witnesses: list[WitnessConfig],
        quorum: int,
        *,
        interval_ms: int = 0,
        timeout_s: float = 5.0,
        refresh_s: float = 300.0,
    ) -> None:
        if not 1 <= quorum <= len(witnesses):
            raise ValueError(f"witness quorum {quorum} is not between 1 and {len(witnesses)}")
        self._log = logstore
        self.witnesses = witnesses
        self.quorum = quorum
        self._interval_s = interval_ms / 1000
        self._timeout_s = timeout_s
        self._refresh_s = refresh_s
        self._latest_at = 0.0  # time.monotonic() of the round that cosigned ``_latest``
        self._cond = threading.Condition()
        self._round_started = 0  # rounds started so far
        self._round_done = 0  # rounds finished so far
        self._wanted = 0  # the round a waiter needs
        self._latest: tuple[int, bytes] | None = None  # (size, cosigned note)
        self._known: dict[str, int | None] = {w.verifier.name: None for w in witnesses}
        #: The request in flight to each witness (at most one: see :meth:`_round`).
        self._inflight: dict[str, Future[NoteSignature | None]] = {}
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._pool = ThreadPoolExecutor(max_workers=len(witnesses), thread_name_prefix="witness")
        self._clients = {w.verifier.name: WitnessConnection(w.url, timeout_s) for w in witnesses}

    # --- what the custodian uses -----------------------------------------------------------

    def latest(self) -> tuple[int, bytes] | None:
        with self._cond:
            return self._latest

    def _covers(self, size: int) -> bool:
        return self._latest is not None and self._latest[0] >= size

    def _fresh(self) -> bool:
        return time.monotonic() - self._latest_at < self._refresh_s

    def cosigned(self, size: int, timeout_s: float | None = None) -> tuple[int, bytes] | None:
        """A cosigned checkpoint of at least ``size`` entries: the latest if it covers them
        and was cosigned less than ``refresh_s`` ago, else the one of the next round (started
        after this call). If that round fails or times out: the latest if it covers them
        (older), else None. Clients bound the age they accept (docs/THREAT_MODEL.md, frozen
        view), so an idle log is cosigned again when asked."""
        deadline = time.monotonic() + (self._timeout_s * 2 if timeout_s is None else timeout_s)
        with self._cond:
            if self._covers(size) and self._fresh():
                return self._latest
            self._ensure_thread()
            need = self._round_started + 1
            self._wanted = max(self._wanted, need)
            self._cond.notify_all()
            while True:
                if self._covers(size) and self._fresh():
                    return self._latest
                if self._round_done >= need:  # the round ran and did not reach the quorum
                    return self._latest if self._covers(size) else None
                left = deadline - time.monotonic()
                if left <= 0:
                    return self._latest if self._covers(size) else None
                self._cond.wait(left)

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self._timeout_s + 1)
        self._pool.shutdown(wait=False)
        for client in self._clients.values():
            client.close()

    # --- the rounds ------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None and not self._stopped:
            self._thread = threading.Thread(target=self._run, name="cosigner", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        last = 0.0
        while True:
            with self._cond:
                while not self._stopped and self._wanted <= self._round_started:
                    self._cond.wait()
                if self._stopped:
                    return
            pause = last + self._interval_s - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            with self._cond:
                self._round_started += 1
            last = time.monotonic()
            try:
                result = self._round()
            except Exception:  # a round must never kill the thread
                log.exception("cosigning round failed")
                result = None
            took = time.monotonic() - last
            WITNESS_ROUNDS.labels("cosigned" if result is not None else "failed").observe(took)
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "cosigning round",
                    extra={"size": None if result is None else result[0], "ms": took * 1000},
                )
            with self._cond:
                if result is not None and (self._latest is None or result[0] >= self._latest[0]):
                    self._latest = result
                    self._latest_at = last
                self._round_done += 1
                self._cond.notify_all()

    def _round(self) -> tuple[int, bytes] | None:
        """Cosign the log's latest size: ask every witness that is idle, and end as soon as
        ``quorum`` cosignatures verify (the slowest witness is off the waiting releases'
        path). A witness still answering an earlier round is asked once it is done, if the
        quorum is not reached by then; at most one request per witness is in flight, so its
        size stays in step (C2SP tlog-witness: ``old`` must be the size it last cosigned)."""
        size = self._log.refresh()
        note = self._log.checkpoint(size)
        deadline = time.monotonic() + self._timeout_s + 1
        order = {w.verifier.name: i for i, w in enumerate(self.witnesses)}
        lines: dict[str, NoteSignature] = {}
        asked: dict[Future[NoteSignature | None], str] = {}
        seen: set[Future[NoteSignature | None]] = set()
        while True:
            for w in self.witnesses:
                name = w.verifier.name
                busy = self._inflight.get(name)
                if name in asked.values() or (busy is not None and not busy.done()):
                    continue
                future = self._pool.submit(self._ask, w, size, note)
                self._inflight[name] = future
                asked[future] = name
            for future, name in asked.items():
                if future.done() and future not in seen:
                    seen.add(future)
                    got = future.result()
                    if got is not None:
                        lines[name] = got
            if len(lines) >= self.quorum:
                break
            pending = {f for f in asked if not f.done()}
            earlier = {
                f for n, f in self._inflight.items() if n not in asked.values() and not f.done()
            }
            left = deadline - time.monotonic()
            if not (pending or earlier) or left <= 0:
                break
            wait(pending | earlier, timeout=left, return_when=FIRST_COMPLETED)
        if len(lines) < self.quorum:
            log.warning(
                "witness quorum not reached",
                extra={"size": size, "cosigned": len(lines), "quorum": self.quorum},
            )
            return None
        ordered = [lines[n] for n in sorted(lines, key=order.__getitem__)]
        return size, append_cosignatures(note, ordered)

    def _ask(self, witness: WitnessConfig, size: int, note: bytes) -> NoteSignature | None:
        """One witness's cosignature of ``note`` (size ``size``), or None (logged)."""
        name = witness.verifier.name
        conn = self._clients[name]
        for _ in range(2):  # a 409 tells the witness's size: one more try with it
            old = self._known[name] or 0
            if old > size:
                log.warning("witness is ahead", extra={"witness": name, "size": old})
                return None
            try:
                proof = tuple(self._log.consistency_proof(old, size)) if old else ()
                body = AddCheckpoint(old, proof, note).to_bytes()
                status, ctype, answer = conn.post(body)
            except (WitnessError, ValueError) as exc:
                log.warning("witness unreachable", extra={"witness": name, "error": str(exc)})
                return None
            if status == 409 and ctype.startswith("text/x.tlog.size"):
                try:
                    self._known[name] = int(answer.strip())
                except ValueError:
                    return None
                continue
            if status != 200:
                text = answer[:200].decode("utf-8", "replace")
                log.warning(
                    "witness refused", extra={"witness": name, "status": status, "body": text}
                )
                return None
            try:
                sigs = parse_cosignature_lines(answer)
                mine = [s for s in sigs if (s.name, s.key_id) == (name, witness.verifier.key_id)]
                if not mine:
                    raise CryptoError("no cosignature by the witness's key")
                open_note(append_cosignatures(note, mine[:1]), [witness.verifier])
            except CryptoError as exc:
                log.warning("bad cosignature", extra={"witness": name, "error": str(exc)})
                return None
            self._known[name] = size
            return mine[0]
        return None
