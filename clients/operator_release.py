"""Operator side of a release: ask n custodians at once, keep t answers, combine, decrypt.

For each recording the operator holds its age header (from the storage service) and its
metadata. It sends, to every custodian concurrently, the justification, a fresh X25519
session public key and, per recording, the escrow stanza addressed to that custodian (found
by key id). Each answer is checked before use: the custodian's signed checkpoint must verify
under its log key and the request's log entry must be included in it (so what the operator
got is on the record). Shares are opened with the session key and combined; the result is
accepted only if it verifies the age header MAC (crypto.escrow.combine_file_key). One
custodian down or refusing does not matter while t others answer; fewer than t is an error.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import httpx

from clients.http import SignedClient
from crypto.ed25519 import Ed25519PublicKey, Ed25519SigningKey
from crypto.errors import CryptoError, EscrowError, ShareError
from crypto.escrow import CustodianPublicKey, SessionKey, combine_file_key, open_released_share
from crypto.format import FileKey, b64encode, parse_header
from crypto.metadata import RecordingMetadata
from crypto.note import NoteVerifier, open_checkpoint
from crypto.shamir import Share
from crypto.statements import SignedStatement
from crypto.stream import decrypt_payload
from crypto.tlog import entry_leaf_hash, verify_inclusion


class ReleaseError(Exception):
    """Base of the operator-side release errors."""


class CustodianRefused(ReleaseError):  # noqa: N818 (named after what happened)
    """A custodian refused the whole request; ``reason`` is its machine-readable code."""

    def __init__(
        self,
        custodian_id: str,
        status: int,
        reason: str,
        message: str,
        log: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"custodian {custodian_id} refused ({status} {reason}): {message}")
        self.log = log  # the refusal's log receipt (index, entry, checkpoint, proof)
        self.custodian_id = custodian_id
        self.status = status
        self.reason = reason
        self.message = message


class CustodianUnavailable(ReleaseError):  # noqa: N818
    """A custodian could not be reached or answered something unusable."""


class ThresholdNotMet(ReleaseError):  # noqa: N818
    """Fewer than t custodians released; ``errors`` says what each of the others did."""

    def __init__(self, message: str, errors: dict[str, Exception]) -> None:
        super().__init__(message)
        self.errors = errors


@dataclass(frozen=True, slots=True)
class CustodianEndpoint:
    """A custodian as the operator knows it (from the site's SiteKeys and its /v1/custodian)."""

    custodian_id: str
    url: str
    escrow_key: CustodianPublicKey
    log_key: Ed25519PublicKey

    @property
    def origin(self) -> str:
        return f"camvault.io/custodian/{self.custodian_id}"

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier.from_public_key(self.origin, self.log_key.raw)


@dataclass(frozen=True, slots=True)
class Recording:
    header: bytes
    metadata: RecordingMetadata


@dataclass
class CustodianRelease:
    """One custodian's verified answer."""

    custodian_id: str
    release_id: str
    log_index: int
    entry: bytes
    checkpoint: bytes
    receipt: dict[str, Any]  # the log receipt as received (index, entry, checkpoint, proof)
    sealed: dict[str, bytes] = field(default_factory=dict)  # recording id -> sealed share
    refused: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (reason, msg)

    @property
    def entry_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = json.loads(self.entry)
        return obj


def _stanza_for(recording: Recording, endpoint: CustodianEndpoint) -> dict[str, Any]:
    key_id = endpoint.escrow_key.key_id()
    for st in parse_header(recording.header).stanzas:
        if st.type == "camvault-escrow" and st.args and st.args[0] == key_id:
            return {"args": list(st.args), "body": b64encode(st.body)}
    raise EscrowError(
        f"recording {recording.metadata.recording_id} has no stanza for {endpoint.custodian_id}"
    )


def verify_receipt(endpoint: CustodianEndpoint, log: dict[str, Any]) -> tuple[int, bytes, bytes]:
    """Check a custodian's log receipt: signed checkpoint, and the entry's inclusion in it."""
    try:
        note = str(log["checkpoint"]).encode("utf-8")
        entry = str(log["entry"]).encode("utf-8")
        index = int(log["index"])
        proof = [base64.b64decode(h, validate=True) for h in log["inclusion_proof"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise CustodianUnavailable(f"{endpoint.custodian_id}: malformed log receipt") from exc
    cp = open_checkpoint(note, [endpoint.verifier], endpoint.origin)
    verify_inclusion(entry_leaf_hash(entry), index, cp.size, proof, cp.root_hash)
    return index, entry, note


def request_release(
    endpoint: CustodianEndpoint,
    operator_id: str,
    operator_key: Ed25519SigningKey,
    *,
    purpose: str,
    justification: SignedStatement | None,
    session: SessionKey,
    recordings: Sequence[Recording],
    timeout: float = 30.0,
) -> CustodianRelease:
    """One custodian's release for ``recordings`` (raises CustodianRefused/Unavailable)."""
    body = {
        "purpose": purpose,
        "justification": None if justification is None else justification.to_json(),
        "session_key": b64encode(session.public_key()),
        "items": [
            {"metadata": r.metadata.to_json(), "stanza": _stanza_for(r, endpoint)}
            for r in recordings
        ],
    }
    try:
        with SignedClient(
            endpoint.url, f"operator:{operator_id}", operator_key, timeout=timeout
        ) as client:
            resp = client.post("/v1/releases", json=body)
    except httpx.HTTPError as exc:
        raise CustodianUnavailable(f"{endpoint.custodian_id}: {exc}") from exc
    try:
        data = resp.json()
    except ValueError as exc:
        raise CustodianUnavailable(f"{endpoint.custodian_id}: HTTP {resp.status_code}") from exc
    if resp.status_code != 200:
        err = data.get("error", {}) if isinstance(data, dict) else {}
        raise CustodianRefused(
            endpoint.custodian_id,
            resp.status_code,
            str(err.get("code", "unknown")),
            str(err.get("message", "")),
            data.get("log") if isinstance(data, dict) else None,
        )
    try:
        index, entry, note = verify_receipt(endpoint, data["log"])
    except CryptoError as exc:
        raise CustodianUnavailable(f"{endpoint.custodian_id}: log receipt: {exc}") from exc
    release = CustodianRelease(
        endpoint.custodian_id, str(data["release_id"]), index, entry, note, data["log"]
    )
    if release.entry_json.get("release_id") != release.release_id:
        raise CustodianUnavailable(f"{endpoint.custodian_id}: entry is for another release")
    for item in data["items"]:
        rid = str(item["recording_id"])
        if item["status"] == "released":
            release.sealed[rid] = base64.b64decode(item["sealed_share"])
        else:
            release.refused[rid] = (str(item["reason"]), str(item["message"]))
    return release


def gather_releases(
    endpoints: Sequence[CustodianEndpoint],
    threshold: int,
    operator_id: str,
    operator_key: Ed25519SigningKey,
    *,
    purpose: str,
    justification: SignedStatement | None,
    session: SessionKey,
    recordings: Sequence[Recording],
    timeout: float = 30.0,
) -> list[CustodianRelease]:
    """Ask every custodian concurrently; return as soon as ``threshold`` have released.

    Raises :class:`ThresholdNotMet` (with each failure) when fewer than ``threshold`` can.
    """
    releases: list[CustodianRelease] = []
    errors: dict[str, Exception] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, len(endpoints)))
    try:
        pending: dict[Future[CustodianRelease], str] = {
            pool.submit(
                request_release,
                ep,
                operator_id,
                operator_key,
                purpose=purpose,
                justification=justification,
                session=session,
                recordings=recordings,
                timeout=timeout,
            ): ep.custodian_id
            for ep in endpoints
        }
        while pending and len(releases) < threshold:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                cid = pending.pop(fut)
                try:
                    releases.append(fut.result())
                except ReleaseError as exc:
                    errors[cid] = exc
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    if len(releases) < threshold:
        raise ThresholdNotMet(
            f"{len(releases)} of the {threshold} custodians needed released: "
            + "; ".join(f"{k}: {v}" for k, v in errors.items()),
            errors,
        )
    return releases


def recover_file_key(
    releases: Sequence[CustodianRelease], recording: Recording, session: SessionKey
) -> FileKey:
    """Open each custodian's share of ``recording`` and combine them (header MAC checked)."""
    shares: list[Share] = []
    rid = recording.metadata.recording_id
    for rel in releases:
        sealed = rel.sealed.get(rid)
        if sealed is None:
            continue
        shares.append(
            open_released_share(sealed, session, recording.metadata, release_id=rel.release_id)
        )
    if not shares:
        raise ShareError(f"no custodian released a share of {rid}")
    return combine_file_key(shares, recording.header)


def decrypt_recording(
    releases: Sequence[CustodianRelease],
    recording: Recording,
    session: SessionKey,
    payload: BinaryIO,
    out: BinaryIO,
) -> None:
    """Recover the file key from the releases and decrypt the payload into ``out``."""
    decrypt_payload(recover_file_key(releases, recording, session), payload, out)
