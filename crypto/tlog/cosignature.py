"""C2SP tlog-cosignature (``cosignature/v1``, Ed25519) and the C2SP tlog-witness messages.

A cosignature is a signed-note signature line on a checkpoint, by a witness::

    "— " <witness name> " " base64(key ID (4) || timestamp (8) || Ed25519 signature (64)) "\\n"

(the timestamp in POSIX seconds, big-endian).

``key ID = SHA-256(name || 0x0A || 0x04 || public key)[:4]`` (0x04 = cosignature/v1). The
Ed25519 signature covers::

    "cosignature/v1\\n" "time " <timestamp, decimal> "\\n" <checkpoint note text>

(https://c2sp.org/tlog-cosignature; checked against filippo.io/torchwood's CosignatureSigner,
tests/vectors/go_cosignature_vectors). The witness's verifier key text is
``<name>+<8 hex key ID>+base64(0x04 || public key)``; its secret key file holds
``PRIVATE+KEY+<name>+<8 hex key ID>+base64(0x04 || seed)`` (camvault's own form, as
sumdb/note spells an Ed25519 signer key).

The add-checkpoint request of https://c2sp.org/tlog-witness is ``old <size>\\n``, zero to 63
base64 consistency-proof lines, an empty line, then the signed checkpoint note; the answer is
one or more cosignature lines. Both are built and parsed here; no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crypto.encoding import Base64Error, b64decode_padded, b64encode_padded
from crypto.errors import KeyFormatError
from crypto.tlog.merkle import HASH_SIZE, MAX_TREE_SIZE
from crypto.tlog.note import (
    Checkpoint,
    CheckpointError,
    NoteError,
    NoteSignature,
    NoteVerifier,
    check_key_name,
    open_note,
)

__all__ = [
    "ALG_COSIGNATURE_V1",
    "MAX_PROOF_LINES",
    "AddCheckpoint",
    "CosignatureError",
    "CosignatureSigner",
    "CosignatureVerifier",
    "CosignedCheckpoint",
    "QuorumError",
    "WitnessRequestError",
    "append_cosignatures",
    "cosignature_key_id",
    "cosignature_message",
    "open_cosigned_checkpoint",
    "parse_cosignature_lines",
]

ALG_COSIGNATURE_V1 = 0x04
"""Signature type byte of Ed25519 cosignature/v1 (C2SP tlog-cosignature)."""

MAX_PROOF_LINES = 63
"""A client must not send more consistency proof lines than this (C2SP tlog-witness)."""

MAX_TIMESTAMP = 2**63 - 1
_SIG_SIZE = 8 + 64
_SIG_PREFIX = "\u2014 "
_PRIVATE_PREFIX = "PRIVATE+KEY+"
_HEX8 = re.compile(r"[0-9a-f]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


class CosignatureError(NoteError):
    """A cosignature, a cosigned checkpoint or a witness key is malformed or does not verify."""


class QuorumError(CosignatureError):
    """Fewer than the required number of known witnesses cosigned the checkpoint."""


class WitnessRequestError(CosignatureError):
    """An add-checkpoint request or response is malformed (HTTP 400 at a witness)."""


def cosignature_key_id(name: str, public_key: bytes) -> int:
    """``SHA-256(name || 0x0A || 0x04 || public_key)[:4]`` as a big-endian integer."""
    check_key_name(name)
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise KeyFormatError("Ed25519 public key must be 32 bytes")
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


def cosignature_message(checkpoint_text: str, timestamp: int) -> bytes:
    """The bytes a cosignature/v1 signs: header line, time line, the checkpoint note text.

    The text must be a well-formed checkpoint, exactly as it re-encodes (as torchwood
    requires), and the timestamp in 0..2**63-1.
    """
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise CosignatureError("cosignature timestamp must be an integer")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CosignatureError("cosignature timestamp is outside 0..2**63-1")
    checkpoint = Checkpoint.from_text(checkpoint_text)
    if checkpoint.to_text() != checkpoint_text:  # pragma: no cover - from_text is strict
        raise CheckpointError("checkpoint text is not canonical")
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


@dataclass(frozen=True, slots=True)
class CosignatureVerifier(NoteVerifier):
    """A witness's cosignature/v1 public key. It is a :class:`NoteVerifier`, so a list of
    log keys and witness keys can be given to :func:`crypto.tlog.note.open_note` at once:
    its :meth:`verify` checks ``timestamp || signature`` over the cosigned message."""

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, int) or not 0 <= self.key_id < 2**32:
            raise KeyFormatError("key ID must be an integer in 0..2**32-1")
        if cosignature_key_id(self.name, self.public_key) != self.key_id:
            raise KeyFormatError(f"key ID {self.key_id:08x} does not match witness {self.name!r}")

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> CosignatureVerifier:
        return cls(name, cosignature_key_id(name, public_key), public_key)

    @classmethod
    def from_text(cls, vkey: str) -> CosignatureVerifier:
        """Parse ``<name>+<hex key ID>+<base64(0x04 || public key)>``."""
        name, hex_id, key = _split_key(vkey, "witness key")
        if cosignature_key_id(name, key) != int(hex_id, 16):
            raise KeyFormatError(f"witness key ID {hex_id} does not match the key")
        return cls(name, int(hex_id, 16), key)

    def to_text(self) -> str:
        b64 = b64encode_padded(bytes([ALG_COSIGNATURE_V1]) + self.public_key)
        return f"{self.name}+{self.key_id:08x}+{b64}"

    def timestamp_of(self, message: bytes, signature: bytes) -> int | None:
        """The timestamp of a valid cosignature of the note text ``message``, else None."""
        if len(signature) != _SIG_SIZE:
            return None
        timestamp = int.from_bytes(signature[:8], "big")
        try:
            signed = cosignature_message(message.decode("utf-8"), timestamp)
        except (NoteError, UnicodeDecodeError):
            return None
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature[8:], signed)
        except (InvalidSignature, ValueError):
            return None
        return timestamp

    def verify(self, message: bytes, signature: bytes) -> bool:
        return self.timestamp_of(message, signature) is not None


class CosignatureSigner:
    """A witness's Ed25519 cosigning key. Its repr never shows the seed."""

    __slots__ = ("_name", "_private", "_seed", "_verifier")

    def __init__(self, name: str, seed: bytes) -> None:
        check_key_name(name)
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise KeyFormatError("Ed25519 seed must be 32 bytes")
        self._name = name
        self._seed = seed
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        public = self._private.public_key().public_bytes_raw()
        self._verifier = CosignatureVerifier.from_public_key(name, public)

    @classmethod
    def generate(cls, name: str) -> CosignatureSigner:
        return cls(name, Ed25519PrivateKey.generate().private_bytes_raw())

    @classmethod
    def from_text(cls, skey: str) -> CosignatureSigner:
        """Parse ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x04 || seed)>``."""
        if not isinstance(skey, str) or not skey.startswith(_PRIVATE_PREFIX):
            raise KeyFormatError("witness secret key must start with PRIVATE+KEY+")
        name, hex_id, seed = _split_key(skey[len(_PRIVATE_PREFIX) :], "witness secret key")
        signer = cls(name, seed)
        if signer.key_id != int(hex_id, 16):
            raise KeyFormatError(f"witness secret key ID {hex_id} does not match the key")
        return signer

    def to_text(self) -> str:
        b64 = b64encode_padded(bytes([ALG_COSIGNATURE_V1]) + self._seed)
        return f"{_PRIVATE_PREFIX}{self._name}+{self.key_id:08x}+{b64}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._verifier.key_id

    @property
    def verifier(self) -> CosignatureVerifier:
        return self._verifier

    def cosign(self, checkpoint_text: str, timestamp: int) -> NoteSignature:
        """A cosignature of the checkpoint note text at ``timestamp`` (POSIX seconds)."""
        message = cosignature_message(checkpoint_text, timestamp)
        signature = timestamp.to_bytes(8, "big") + self._private.sign(message)
        return NoteSignature(self._name, self.key_id, signature)

    def cosignature_line(self, checkpoint_text: str, timestamp: int) -> str:
        """The note signature line of :meth:`cosign`, ending in a newline."""
        return signature_line(self.cosign(checkpoint_text, timestamp))

    def __repr__(self) -> str:
        return f"CosignatureSigner(name={self._name!r}, key_id={self.key_id:08x}, seed=<redacted>)"

    __str__ = __repr__


def signature_line(sig: NoteSignature) -> str:
    raw = sig.key_id.to_bytes(4, "big") + sig.signature
    return f"{_SIG_PREFIX}{sig.name} {b64encode_padded(raw)}\n"


def parse_cosignature_lines(body: bytes) -> list[NoteSignature]:
    """Parse a witness's answer: one or more note signature lines, each ending in ``\\n``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WitnessRequestError("cosignature lines are not UTF-8") from None
    if not text.endswith("\n") or text == "\n":
        raise WitnessRequestError("cosignature lines must be non-empty and end in a newline")
    out = []
    for line in text[:-1].split("\n"):
        if not line.startswith(_SIG_PREFIX):
            raise WitnessRequestError("a cosignature line does not start with an em dash")
        name, sep, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        try:
            check_key_name(name)
            raw = b64decode_padded(b64) if sep else b""
        except (KeyFormatError, Base64Error):
            raise WitnessRequestError("malformed cosignature line") from None
        if len(raw) < 5:
            raise WitnessRequestError("cosignature line is too short")
        out.append(NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return out


def append_cosignatures(note: bytes, signatures: Iterable[NoteSignature]) -> bytes:
    """The signed note with each signature line added after its own (not repeated)."""
    if not note.endswith(b"\n"):
        raise CosignatureError("a signed note ends in a newline")
    present = set(note.split(b"\n"))
    extra = b""
    for sig in signatures:
        line = signature_line(sig).encode()
        if line[:-1] not in present:
            present.add(line[:-1])
            extra += line
    return note + extra


@dataclass(frozen=True, slots=True)
class CosignedCheckpoint:
    """A verified checkpoint and the witnesses (name -> timestamp) whose cosignature verified."""

    checkpoint: Checkpoint
    cosigners: dict[str, int]


def open_cosigned_checkpoint(
    message: bytes,
    log_verifiers: Iterable[NoteVerifier],
    origin: str,
    witnesses: Sequence[CosignatureVerifier],
    quorum: int,
    *,
    now_s: int | None = None,
    max_future_s: int = 300,
) -> CosignedCheckpoint:
    """Verify a checkpoint of ``origin`` signed by the log and cosigned by at least ``quorum``
    of ``witnesses`` (distinct names). A line naming a known key that does not verify refuses
    the whole note (signed-note rule); lines by unknown keys are ignored. With ``now_s``, a
    cosignature dated more than ``max_future_s`` ahead does not count.
    """
    if not isinstance(quorum, int) or quorum < 0 or quorum > len(witnesses):
        raise QuorumError(f"quorum {quorum} is not between 0 and {len(witnesses)} witnesses")
    log_keys = [v for v in log_verifiers if v.name == origin]
    if not log_keys:
        raise CheckpointError(f"no known key named after the expected origin {origin!r}")
    by_ident = {(w.name, w.key_id): w for w in witnesses}
    note = open_note(message, [*log_keys, *witnesses])
    if not any(
        (s.name, s.key_id) in {(k.name, k.key_id) for k in log_keys} for s in note.signatures
    ):
        raise CheckpointError(f"checkpoint is not signed by the log {origin!r}")
    checkpoint = Checkpoint.from_text(note.text)
    if checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    cosigners: dict[str, int] = {}
    text = note.text.encode()
    for sig in note.signatures:
        witness = by_ident.get((sig.name, sig.key_id))
        if witness is None:
            continue
        ts = witness.timestamp_of(text, sig.signature)
        if ts is None:  # pragma: no cover - open_note verified it
            raise CosignatureError(f"cosignature by {sig.name} does not verify")
        if now_s is not None and ts > now_s + max_future_s:
            continue
        cosigners[sig.name] = ts
    if len(cosigners) < quorum:
        raise QuorumError(
            f"checkpoint of size {checkpoint.size} is cosigned by {len(cosigners)} of the "
            f"{quorum} witnesses required"
        )
    return CosignedCheckpoint(checkpoint, cosigners)


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """A C2SP tlog-witness add-checkpoint request body."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes

    def to_bytes(self) -> bytes:
        if len(self.proof) > MAX_PROOF_LINES:
            raise WitnessRequestError(f"more than {MAX_PROOF_LINES} consistency proof lines")
        lines = [f"old {self.old_size}"] + [b64encode_padded(h) for h in self.proof]
        return ("".join(line + "\n" for line in lines) + "\n").encode() + self.checkpoint

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """Parse strictly; :class:`WitnessRequestError` says what is wrong."""
        head, sep, note = body.partition(b"\n\n")
        if not sep:
            raise WitnessRequestError("request has no empty line before the checkpoint")
        try:
            lines = head.decode("ascii").split("\n")
        except UnicodeDecodeError:
            raise WitnessRequestError("request head is not ASCII") from None
        first = lines[0]
        if not first.startswith("old ") or not _DECIMAL.fullmatch(first[4:]):
            raise WitnessRequestError("first line must be 'old <size>' in canonical decimal")
        old = int(first[4:])
        if old > MAX_TREE_SIZE:
            raise WitnessRequestError("old size does not fit in 64 bits")
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise WitnessRequestError(f"more than {MAX_PROOF_LINES} consistency proof lines")
        proof = []
        for line in lines[1:]:
            try:
                h = b64decode_padded(line)
            except Base64Error:
                raise WitnessRequestError("a proof line is not canonical base64") from None
            if len(h) != HASH_SIZE:
                raise WitnessRequestError("a proof line is not a 32-byte hash")
            proof.append(h)
        if old == 0 and proof:
            raise WitnessRequestError("the proof must be empty when the old size is 0")
        return cls(old, tuple(proof), note)


def _split_key(text: str, what: str) -> tuple[str, str, bytes]:
    if not isinstance(text, str):
        raise KeyFormatError(f"{what} must be a string")
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise KeyFormatError(f"{what} must have the form <name>+<key id>+<key>")
    name, hex_id, b64 = parts
    check_key_name(name)
    if not _HEX8.fullmatch(hex_id):
        raise KeyFormatError(f"{what} ID must be 8 lowercase hex digits")
    try:
        raw = b64decode_padded(b64)
    except Base64Error:
        raise KeyFormatError(f"{what} material is not canonical base64") from None
    if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
        raise KeyFormatError(f"{what} must be 0x04 followed by 32 bytes of Ed25519 key")
    return name, hex_id, raw[1:]
