"""Operator side of a release: ask n custodians at once, keep t answers, combine, decrypt.

For each recording the operator holds its age header (from the storage service) and its
metadata. It sends, to every custodian concurrently, the justification, a fresh X25519
session public key and, per recording, the escrow stanza addressed to that custodian (found
by key id). Each answer is checked before use: the custodian's signed checkpoint must verify
under its log key, the request's log entry must be included in it, and the entry must
describe this request and exactly the shares received (site, operator, session key,
justification, count and Merkle root): what the operator got is on the record, as the
customer's audit will see it. Shares are opened with the session key and combined; the
result is accepted only if it verifies the age header MAC (crypto.escrow.combine_file_key).
The threshold is counted per recording: a recording is recoverable when t custodians
released it. One custodian down or refusing does not matter while t others release.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import httpx

from clients.api.escrow import CustodianApi, CustodianEndpoint
from common.bodies import loads
from common.http import SignedClient
from crypto.age.format import FileKey, parse_header
from crypto.age.stream import decrypt_payload
from crypto.ed25519 import Ed25519SigningKey
from crypto.encoding import b64decode_padded, b64encode, b64url_encode
from crypto.errors import CryptoError, EscrowError, ShareError
from crypto.escrow import ReleaseOpener, SessionKey, combine_file_key
from crypto.escrow.shamir import Share
from crypto.metadata import RecordingMetadata
from crypto.statements import SignedStatement
from crypto.tlog import entry_leaf_hash, leaf_hash, root_from_leaf_hashes, verify_inclusion
from crypto.tlog.cosignature import CosignatureVerifier, QuorumError, open_cosigned_checkpoint
from crypto.tlog.note import open_checkpoint


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


class ReceiptMismatch(CustodianUnavailable):
    """The custodian's log entry does not describe this request or what was received.

    A custodian that logs something other than what it hands out (another site, operator
    or session key, fewer recordings) would make the customer's audit see a different
    release than the one that happened; its shares are not used.
    """


class Unwitnessed(CustodianUnavailable):
    """The receipt's checkpoint is not cosigned by a quorum of the site's witnesses: the
    custodian may be showing this operator a log that nobody else sees (a split view).
    ``checkpoint`` is the refused note: signed by the custodian, it is evidence for the
    customer's cross-check (``clients.audit.log.cross_check_checkpoint``)."""

    def __init__(self, message: str, checkpoint: bytes) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint


#: The customer's default freshness bound on a custodian's cosigned checkpoint, in seconds:
#: custodians refresh their cosignatures at least every 300 s when asked
#: (CAMVAULT_ESCROW_WITNESS_REFRESH_S), plus 10 minutes for a witness briefly down and for
#: clocks (docs/THREAT_MODEL.md, "Frozen view").
DEFAULT_MAX_AGE_S = 900


@dataclass(frozen=True)
class WitnessPolicy:
    """The site's witnesses (C2SP tlog-cosignature keys) and how many must cosign a receipt's
    checkpoint (docs/WITNESS.md). Configured like the custodians, not taken from them.
    ``max_age_s``: the customer's audit also requires that ``quorum`` of the cosignatures be
    at most this old (a custodian serving an old checkpoint forever: ``stale_checkpoint``)."""

    witnesses: tuple[CosignatureVerifier, ...]
    quorum: int
    max_age_s: int = DEFAULT_MAX_AGE_S

    def __post_init__(self) -> None:
        if not 1 <= self.quorum <= len(self.witnesses):
            raise ValueError(f"witness quorum {self.quorum} is not 1..{len(self.witnesses)}")
        if not 1 <= self.max_age_s <= 10**9:
            raise ValueError(f"witness max_age_s {self.max_age_s} is not 1..10^9")

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> WitnessPolicy:
        """``{"witnesses": [<verifier key>, ...], "quorum": k, "max_age_s": s}`` (quorum
        defaults to all, max_age_s to :data:`DEFAULT_MAX_AGE_S`)."""
        keys = tuple(CosignatureVerifier.from_text(str(k)) for k in obj["witnesses"])
        age = obj.get("max_age_s", DEFAULT_MAX_AGE_S)
        if not isinstance(age, int) or isinstance(age, bool):
            raise ValueError("max_age_s must be an integer number of seconds")
        return cls(keys, int(obj.get("quorum", len(keys))), age)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "witnesses": [w.to_text() for w in self.witnesses],
            "quorum": self.quorum,
        }
        if self.max_age_s != DEFAULT_MAX_AGE_S:
            out["max_age_s"] = self.max_age_s
        return out

    def fresh_as_of(self, cosigners: dict[str, int]) -> int:
        """The time by which ``quorum`` of these witnesses had cosigned: the quorum-th newest
        cosignature timestamp (POSIX seconds) among ``cosigners`` (name -> timestamp)."""
        names = {w.name for w in self.witnesses}
        times = sorted((t for n, t in cosigners.items() if n in names), reverse=True)
        return times[self.quorum - 1] if len(times) >= self.quorum else 0


class NothingReleased(ReleaseError):  # noqa: N818
    """A custodian answered (logged) but released none of the recordings asked for."""

    def __init__(self, release: CustodianRelease) -> None:
        reasons = sorted({r for r, _ in release.refused.values()})
        super().__init__(f"custodian {release.custodian_id} released nothing ({reasons})")
        self.release = release


class ThresholdNotMet(ReleaseError):  # noqa: N818
    """No recording was released by t custodians; ``errors`` says what the others did."""

    def __init__(
        self,
        message: str,
        errors: dict[str, Exception],
        releases: Sequence[CustodianRelease] = (),
    ) -> None:
        super().__init__(message)
        self.errors = errors
        self.releases = list(releases)  # answers that released too little to use


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
    # Opens the sealed shares: one X25519 per ephemeral key the custodian sealed them with.
    _opener: tuple[SessionKey, ReleaseOpener] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def open_share(
        self, session: SessionKey, recording_id: str, metadata: RecordingMetadata
    ) -> Share | None:
        """The share this custodian released for ``recording_id`` (None if it released
        none), opened with ``session`` (EscrowError if it does not open)."""
        sealed = self.sealed.get(recording_id)
        if sealed is None:
            return None
        if self._opener is None or self._opener[0] is not session:
            self._opener = session, ReleaseOpener(session, self.release_id)
        return self._opener[1].open(sealed, metadata)

    @property
    def entry_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = loads(self.entry)
        return obj


def _stanza_for(recording: Recording, endpoint: CustodianEndpoint) -> dict[str, Any]:
    key_ids = endpoint.escrow_key_ids()  # X25519, and hybrid if the custodian publishes one
    for st in parse_header(recording.header).stanzas:
        if st.args and key_ids.get(st.type) == st.args[0]:
            out: dict[str, Any] = {"args": list(st.args), "body": b64encode(st.body)}
            if st.type != "camvault-escrow":
                out["type"] = st.type
            return out
    raise EscrowError(
        f"recording {recording.metadata.recording_id} has no stanza for {endpoint.custodian_id}"
    )


def released_root(metadatas: Sequence[RecordingMetadata]) -> str:
    """The Merkle root a log entry gives for released recordings (docs/ESCROW.md)."""
    return root_from_leaf_hashes([leaf_hash(m.associated_data()) for m in metadatas]).hex()


def check_entry_binds_request(
    endpoint: CustodianEndpoint,
    entry: dict[str, Any],
    *,
    release_id: str,
    site_id: str | None,
    operator_id: str,
    purpose: str,
    justification: SignedStatement | None,
    session_public_key: bytes,
    released: Sequence[RecordingMetadata],
) -> None:
    """Refuse (ReceiptMismatch) a log entry that does not record exactly this request and
    exactly the recordings whose shares were received: the entry is what the customer's
    audit will see, so it must be the truth about what this operator got."""
    want: dict[str, Any] = {
        "type": "release" if released else "refusal",
        "custodian_id": endpoint.custodian_id,
        "release_id": release_id,
        "site_id": site_id,
        "operator_id": operator_id,
        "operator_verified": True,
        "purpose": purpose,
        "session_key": b64url_encode(session_public_key),
    }
    problems = [
        f"{k}: entry has {entry.get(k)!r}, expected {v!r}"
        for k, v in want.items()
        if entry.get(k) != v
    ]
    if justification is not None:
        just = entry.get("justification")
        digest = just.get("sha256") if isinstance(just, dict) else None
        if digest != justification.statement_hash().hex():
            problems.append("justification: entry names another statement")
    got = entry.get("released")
    if not isinstance(got, dict):
        problems.append("released: missing")
    else:
        if got.get("count") != len(released):
            problems.append(f"released.count: entry has {got.get('count')!r}, got {len(released)}")
        if got.get("root") != released_root(released):
            problems.append("released.root: not the root of the recordings received")
    if problems:
        raise ReceiptMismatch(
            f"{endpoint.custodian_id}: log entry does not match the request: " + "; ".join(problems)
        )


def verify_receipt(
    endpoint: CustodianEndpoint, log: dict[str, Any], witnesses: WitnessPolicy | None = None
) -> tuple[int, bytes, bytes]:
    """Check a custodian's log receipt: signed checkpoint, cosigned by a quorum of
    ``witnesses`` when given (else :class:`Unwitnessed`), and the entry's inclusion in it."""
    try:
        note = str(log["checkpoint"]).encode("utf-8")
        entry = str(log["entry"]).encode("utf-8")
        index = int(log["index"])
        proof = [b64decode_padded(h) for h in log["inclusion_proof"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise CustodianUnavailable(f"{endpoint.custodian_id}: malformed log receipt") from exc
    if witnesses is None:
        cp = open_checkpoint(note, [endpoint.verifier], endpoint.origin)
    else:
        try:
            cp = open_cosigned_checkpoint(
                note, [endpoint.verifier], endpoint.origin, witnesses.witnesses, witnesses.quorum
            ).checkpoint
        except QuorumError as exc:
            raise Unwitnessed(
                f"{endpoint.custodian_id}: receipt refused, its checkpoint is not witnessed: {exc}",
                note,
            ) from exc
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
    witnesses: WitnessPolicy | None = None,
    client: SignedClient | None = None,
) -> CustodianRelease:
    """One custodian's release for ``recordings`` (raises CustodianRefused/Unavailable).
    ``client``: an open client of this custodian signing as this operator, kept across
    requests (the live view's); else one is opened for this request.

    The answer is used only if its log receipt verifies and the logged entry is bound to
    this request (:func:`check_entry_binds_request`): same site, operator, session key,
    justification, and the count and Merkle root of the shares actually received.
    """
    ids = [r.metadata.recording_id for r in recordings]
    if len(set(ids)) != len(ids):
        raise ReleaseError("recording ids must be unique within one release request")
    # The custodian logs the site of the justification (the recordings of another site are
    # refused item by item); without one, the request is refused before binding matters.
    claimed = None if justification is None else justification.unverified_statement
    site_id = getattr(claimed, "site_id", None)
    if not isinstance(site_id, str):
        sites = {r.metadata.site_id for r in recordings}
        site_id = sites.pop() if len(sites) == 1 else None
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
        if client is not None:
            resp = CustodianApi.release(client, body)
        else:
            with SignedClient(
                endpoint.url, f"operator:{operator_id}", operator_key, timeout=timeout
            ) as own:
                resp = CustodianApi.release(own, body)
    except httpx.HTTPError as exc:
        raise CustodianUnavailable(f"{endpoint.custodian_id}: {exc}") from exc
    try:
        data = loads(resp.content)
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
        if not isinstance(data, dict):
            raise TypeError("answer is not a JSON object")
        index, entry, note = verify_receipt(endpoint, data["log"], witnesses)
        release = CustodianRelease(
            endpoint.custodian_id, str(data["release_id"]), index, entry, note, data["log"]
        )
        items = data["items"]
        if not isinstance(items, list) or len(items) != len(recordings):
            raise ValueError("not one result per recording asked for")
        received: list[RecordingMetadata] = []
        for rec, item in zip(recordings, items, strict=True):
            rid = rec.metadata.recording_id
            if item["recording_id"] != rid:
                raise ValueError("results are not in the order of the request")
            if item["status"] == "released":
                release.sealed[rid] = b64decode_padded(item["sealed_share"])
                received.append(rec.metadata)
            else:
                release.refused[rid] = (str(item["reason"]), str(item["message"]))
        entry_obj = loads(entry)
        if not isinstance(entry_obj, dict):
            raise ValueError("log entry is not a JSON object")
    except CryptoError as exc:
        raise CustodianUnavailable(f"{endpoint.custodian_id}: log receipt: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise CustodianUnavailable(f"{endpoint.custodian_id}: malformed answer: {exc}") from exc
    check_entry_binds_request(
        endpoint,
        entry_obj,
        release_id=release.release_id,
        site_id=site_id,
        operator_id=operator_id,
        purpose=purpose,
        justification=justification,
        session_public_key=session.public_key(),
        released=received,
    )
    return release


class Gathered(list[CustodianRelease]):
    """What :func:`gather_releases` returns: the releases used (a list, in arrival order), and
    what every other custodian did (``errors``, by custodian id: refused, unwitnessed,
    unreachable, nothing released). Custodians still answering when the threshold was met
    keep running; :meth:`finish` waits for them (bounded) so that their refusals are reported
    and their receipts' checkpoints reach the customer (``clients.audit.receipts``)."""

    def __init__(
        self,
        releases: Sequence[CustodianRelease],
        errors: dict[str, Exception],
        late: dict[Future[CustodianRelease], str],
    ) -> None:
        super().__init__(releases)
        self.errors = errors
        self.unused: list[CustodianRelease] = []  # answers whose shares were not needed
        self._late = late

    def finish(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the custodians still answering; a custodian
        that has not answered by then is recorded as such."""
        if self._late:
            done, not_done = wait(self._late, timeout=timeout)
            for fut in done:
                cid = self._late[fut]
                try:
                    rel = fut.result()
                except ReleaseError as exc:
                    self.errors[cid] = exc
                    continue
                except Exception as exc:  # reported, never raised late
                    self.errors[cid] = CustodianUnavailable(f"{cid}: {exc}")
                    continue
                if rel.sealed:
                    self.unused.append(rel)
                else:
                    self.errors[cid] = NothingReleased(rel)
            for fut in not_done:
                cid = self._late[fut]
                self.errors[cid] = CustodianUnavailable(
                    f"{cid}: no answer within {timeout:g} s after the threshold was met"
                )
            self._late = {}


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
    witnesses: WitnessPolicy | None = None,
    clients: Mapping[str, SignedClient] | None = None,
) -> Gathered:
    """Ask every custodian concurrently; return once each recording is settled.
    ``clients``: open clients by custodian id, reused (:func:`request_release`).

    Counting is per recording: a recording is recoverable when ``threshold`` custodians
    released IT (an answer releasing nothing, or other recordings, does not count for it).
    The answers are awaited until every recording either has ``threshold`` releases or can
    no longer get them from the custodians still pending. The returned releases are those
    that released something (in arrival order); :func:`recoverable` says which recordings
    can be decrypted; ``.errors`` says what the other custodians did (call ``.finish`` for
    those still answering). Raises :class:`ThresholdNotMet` (with what each custodian did)
    when no recording can be.
    """
    releases: list[CustodianRelease] = []
    unused: list[CustodianRelease] = []  # answers whose shares were not needed
    errors: dict[str, Exception] = {}
    wanted = [r.metadata.recording_id for r in recordings]
    counts: Counter[str] = Counter()

    def settled(n_pending: int) -> bool:
        return all(counts[r] >= threshold or counts[r] + n_pending < threshold for r in wanted)

    pool = ThreadPoolExecutor(max_workers=max(1, len(endpoints)))
    pending: dict[Future[CustodianRelease], str] = {}
    try:
        pending = {
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
                witnesses=witnesses,
                client=None if clients is None else clients.get(ep.custodian_id),
            ): ep.custodian_id
            for ep in endpoints
        }
        while pending and not settled(len(pending)):
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                cid = pending.pop(fut)
                try:
                    rel = fut.result()
                except ReleaseError as exc:
                    errors[cid] = exc
                    continue
                if not rel.sealed:
                    errors[cid] = NothingReleased(rel)
                    continue
                if any(counts[r] < threshold for r in rel.sealed):
                    releases.append(rel)
                    counts.update(rel.sealed.keys())
                else:  # answered with the one that settled it: its receipt is still reported
                    unused.append(rel)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    if not any(counts[r] >= threshold for r in wanted):
        raise ThresholdNotMet(
            f"no recording was released by {threshold} custodians: "
            + "; ".join(f"{k}: {v}" for k, v in errors.items()),
            errors,
            releases,
        )
    gathered = Gathered(releases, errors, pending)
    gathered.unused.extend(unused)
    return gathered


def recoverable(releases: Sequence[CustodianRelease], threshold: int) -> set[str]:
    """The recording ids that ``threshold`` of these releases released."""
    counts = Counter(rid for rel in releases for rid in rel.sealed)
    return {rid for rid, n in counts.items() if n >= threshold}


def receipt_checkpoints(releases: Sequence[CustodianRelease]) -> dict[str, str]:
    """The signed checkpoint each custodian gave with its release, by custodian id.

    Keep them with the release record: given to the customer, they let its audit check
    that the custodian showed the operator the same log it shows the customer
    (``clients.audit.log.cross_check_checkpoint``; docs/THREAT_MODEL.md, split view).
    """
    return {rel.custodian_id: rel.checkpoint.decode("utf-8") for rel in releases}


def recover_file_key(
    releases: Sequence[CustodianRelease], recording: Recording, session: SessionKey
) -> FileKey:
    """Open each custodian's share of ``recording`` and combine them (header MAC checked)."""
    shares: list[Share] = []
    rid = recording.metadata.recording_id
    for rel in releases:
        share = rel.open_share(session, rid, recording.metadata)
        if share is not None:
            shares.append(share)
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


__all__ = [
    "CustodianEndpoint",
    "CustodianRefused",
    "CustodianRelease",
    "CustodianUnavailable",
    "Gathered",
    "NothingReleased",
    "ReceiptMismatch",
    "Recording",
    "ReleaseError",
    "ThresholdNotMet",
    "Unwitnessed",
    "WitnessPolicy",
    "check_entry_binds_request",
    "decrypt_recording",
    "gather_releases",
    "receipt_checkpoints",
    "recover_file_key",
    "recoverable",
    "released_root",
    "request_release",
    "verify_receipt",
]
