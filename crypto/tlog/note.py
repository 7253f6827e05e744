"""C2SP signed notes with Ed25519 signatures, and C2SP tlog-checkpoint bodies.

Signed note (https://c2sp.org/signed-note, compatible with golang.org/x/mod/sumdb/note)::

    <text, ending in "\\n">
    "\\n"
    "— " <key name> " " base64(key ID (4 bytes, big-endian) || Ed25519 signature) "\\n"  (1+ times)

The Ed25519 signature covers the text including its final newline, not the blank line.
``key ID = SHA-256(key name || 0x0A || 0x01 || public key)[:4]`` (0x01 = Ed25519).

Key text forms (as Go's sumdb/note prints them):

* verifier key: ``<name>+<8 lowercase hex key ID>+base64(0x01 || 32-byte public key)``
* signer key:   ``PRIVATE+KEY+<name>+<8 hex key ID>+base64(0x01 || 32-byte seed)``

Checkpoint (https://c2sp.org/tlog-checkpoint): the note text is ``origin``, the decimal tree
size, the base64 root hash, then optional non-empty extension lines, each ending in ``\\n``.

Parsing is strict: a note or key is refused unless it is exactly what a conforming signer
would have produced (canonical base64, lowercase hex, no leading zeros, ...). A signature line
that names a known key (name and key ID) must verify or the whole note is refused, as the spec
recommends; signatures by unknown keys are ignored; at least one known key must have signed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crypto.encoding import Base64Error, b64decode_padded, b64encode_padded
from crypto.errors import KeyFormatError, LogProofError
from crypto.tlog.merkle import EMPTY_ROOT, HASH_SIZE, MAX_TREE_SIZE

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "Checkpoint",
    "CheckpointError",
    "InvalidNoteSignatureError",
    "Note",
    "NoteError",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "UnverifiedNoteError",
    "check_key_name",
    "key_id",
    "open_checkpoint",
    "open_note",
    "sign_checkpoint",
    "sign_note",
]

ALG_ED25519 = 0x01
"""Signature type identifier byte of Ed25519 (C2SP signed-note, "Signature types")."""

MAX_SIGNATURES = 100
"""Most signature lines accepted in a note. The spec requires accepting at least 16; Go's
sumdb/note refuses more than 100, and so do we."""

_ED25519_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64
_SIG_PREFIX = "\u2014 "  # em dash, space
_PRIVATE_PREFIX = "PRIVATE+KEY+"

# Unicode White_Space property (what Go's unicode.IsSpace tests): key names must contain none.
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
_HEX8 = re.compile(r"[0-9a-f]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


# --- errors -----------------------------------------------------------------------------


class NoteError(LogProofError):
    """A signed note or checkpoint is malformed, or not signed by a known key."""


class UnverifiedNoteError(NoteError):
    """The note is well formed but carries no signature by any of the known keys."""


class InvalidNoteSignatureError(NoteError):
    """A signature line names a known key but its signature does not verify."""


class CheckpointError(NoteError):
    """The note text is not a valid tlog-checkpoint, or not the expected log's."""


# --- keys -------------------------------------------------------------------------------


def check_key_name(name: str) -> None:
    """Refuse a key name that the spec forbids: empty, Unicode space, ``+``, control char."""
    if not isinstance(name, str) or name == "":
        raise KeyFormatError("key name must be a non-empty string")
    for ch in name:
        if ch in _WHITE_SPACE:
            raise KeyFormatError(f"key name {name!r} contains a space character")
        if ch == "+":
            raise KeyFormatError(f"key name {name!r} contains '+'")
        if ch < " ":
            raise KeyFormatError(f"key name {name!r} contains a control character")
    _check_utf8(name, KeyFormatError, "key name")


def key_id(name: str, public_key: bytes) -> int:
    """Ed25519 key ID: ``SHA-256(name || 0x0A || 0x01 || public_key)[:4]`` as a big-endian int."""
    check_key_name(name)
    if not isinstance(public_key, bytes) or len(public_key) != _ED25519_KEY_SIZE:
        raise KeyFormatError("Ed25519 public key must be 32 bytes")
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """A known Ed25519 note key: its name, key ID and public key."""

    name: str
    key_id: int
    public_key: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, int) or not 0 <= self.key_id < 2**32:
            raise KeyFormatError("key ID must be an integer in 0..2**32-1")
        if key_id(self.name, self.public_key) != self.key_id:
            raise KeyFormatError(f"key ID {self.key_id:08x} does not match key {self.name!r}")

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> NoteVerifier:
        return cls(name, key_id(name, public_key), public_key)

    @classmethod
    def from_text(cls, vkey: str) -> NoteVerifier:
        """Parse ``<name>+<hex key ID>+<base64(0x01 || public key)>``."""
        if not isinstance(vkey, str):
            raise KeyFormatError("verifier key must be a string")
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise KeyFormatError("verifier key must have the form <name>+<key id>+<key>")
        name, hex_id, b64 = parts
        check_key_name(name)
        key = _decode_key_material(hex_id, b64, "verifier key")
        if key_id(name, key) != int(hex_id, 16):
            raise KeyFormatError(f"verifier key ID {hex_id} does not match the key")
        return cls(name, int(hex_id, 16), key)

    def to_text(self) -> str:
        b64 = b64encode_padded(bytes([ALG_ED25519]) + self.public_key)
        return f"{self.name}+{self.key_id:08x}+{b64}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is a valid Ed25519 signature of ``message`` by this key."""
        if len(signature) != _ED25519_SIG_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class NoteSigner:
    """An Ed25519 note signing key. Its repr and str never show the seed."""

    __slots__ = ("_name", "_private", "_public", "_seed")

    def __init__(self, name: str, seed: bytes) -> None:
        check_key_name(name)
        if not isinstance(seed, bytes) or len(seed) != _ED25519_KEY_SIZE:
            raise KeyFormatError("Ed25519 seed must be 32 bytes")
        self._name = name
        self._seed = seed
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self._public = NoteVerifier.from_public_key(
            name, self._private.public_key().public_bytes_raw()
        )

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        """A new random key for ``name``."""
        seed = Ed25519PrivateKey.generate().private_bytes_raw()
        return cls(name, seed)

    @classmethod
    def from_text(cls, skey: str) -> NoteSigner:
        """Parse ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>``."""
        if not isinstance(skey, str) or not skey.startswith(_PRIVATE_PREFIX):
            raise KeyFormatError("signer key must start with PRIVATE+KEY+")
        parts = skey[len(_PRIVATE_PREFIX) :].split("+", 2)
        if len(parts) != 3:
            raise KeyFormatError("signer key must have the form PRIVATE+KEY+<name>+<id>+<key>")
        name, hex_id, b64 = parts
        check_key_name(name)
        seed = _decode_key_material(hex_id, b64, "signer key")
        signer = cls(name, seed)
        if signer.key_id != int(hex_id, 16):
            raise KeyFormatError(f"signer key ID {hex_id} does not match the key")
        return signer

    def secret_seed(self) -> bytes:
        """The RFC 8032 seed of this key, for the owner's own use only (e.g. to sign the
        HTTP requests that deliver its notices; RFC 9421 signature bases never end in LF,
        note texts always do, so the two uses cannot be confused)."""
        return self._seed

    def to_text(self) -> str:
        """The secret signer key string (handle like the key itself)."""
        b64 = b64encode_padded(bytes([ALG_ED25519]) + self._seed)
        return f"{_PRIVATE_PREFIX}{self._name}+{self.key_id:08x}+{b64}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._public.key_id

    @property
    def verifier(self) -> NoteVerifier:
        return self._public

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def __repr__(self) -> str:
        return f"NoteSigner(name={self._name!r}, key_id={self.key_id:08x}, seed=<redacted>)"

    __str__ = __repr__


# --- notes ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, key ID and the signature bytes (without the key ID)."""

    name: str
    key_id: int
    signature: bytes


@dataclass(frozen=True, slots=True)
class Note:
    """An opened note: its text, the verified signatures, and those by unknown keys."""

    text: str
    signatures: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...]


def sign_note(text: str, signers: Iterable[NoteSigner]) -> bytes:
    """Sign ``text`` with each signer, in order, and return the encoded note.

    The text must end in a newline, be non-empty, and contain no control character other
    than newline (C2SP signed-note, "Format"). Two signers with the same name and key ID are
    refused: the note would carry a redundant line.
    """
    _check_note_text(text)
    signers = list(signers)
    if not signers:
        raise NoteError("a note needs at least one signer")
    if len(signers) > MAX_SIGNATURES:
        raise NoteError(f"more than {MAX_SIGNATURES} signers")
    seen: set[tuple[str, int]] = set()
    message = text.encode()
    lines = []
    for signer in signers:
        ident = (signer.name, signer.key_id)
        if ident in seen:
            raise NoteError(f"duplicate signer {signer.name}+{signer.key_id:08x}")
        seen.add(ident)
        sig = signer.key_id.to_bytes(4, "big") + signer.sign(message)
        lines.append(f"{_SIG_PREFIX}{signer.name} {b64encode_padded(sig)}\n")
    return (text + "\n" + "".join(lines)).encode()


def open_note(message: bytes, verifiers: Iterable[NoteVerifier]) -> Note:
    """Parse a signed note and verify its signatures against the known ``verifiers``.

    Raises :class:`NoteError` if the note is malformed (invalid UTF-8, control characters,
    no blank line before the signatures, malformed signature line, more than
    :data:`MAX_SIGNATURES` lines), :class:`InvalidNoteSignatureError` if a line naming a
    known key does not verify, and :class:`UnverifiedNoteError` if no known key signed.
    Duplicate lines are reported once.
    """
    if not isinstance(message, bytes):
        raise NoteError("note must be bytes")
    try:
        decoded = message.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise NoteError("note is not valid UTF-8") from None
    for ch in decoded:
        if ch < " " and ch != "\n":
            raise NoteError(f"note contains control character U+{ord(ch):04X}")
    # The text ends at the last blank line (the text itself may contain empty lines).
    split = decoded.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, sig_block = decoded[: split + 1], decoded[split + 2 :]
    if not sig_block.endswith("\n"):
        raise NoteError("note's signature block is empty or does not end in a newline")
    sig_lines = sig_block[:-1].split("\n")
    if len(sig_lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")

    known: dict[tuple[str, int], NoteVerifier] = {}
    for v in verifiers:
        if not isinstance(v, NoteVerifier):
            raise TypeError("verifiers must be NoteVerifier instances")
        ident = (v.name, v.key_id)
        if ident in known and known[ident].public_key != v.public_key:
            raise NoteError(f"two known keys share the name and ID {v.name}+{v.key_id:08x}")
        known[ident] = v

    text_bytes = text.encode()
    verified: dict[tuple[str, int], NoteSignature] = {}
    unknown: dict[tuple[str, int, bytes], NoteSignature] = {}
    for line in sig_lines:
        sig = _parse_signature_line(line)
        ident = (sig.name, sig.key_id)
        verifier = known.get(ident)
        if verifier is None:
            # Unknown keys are ignored (spec: even if they share a name or an ID with a known
            # key), but reported so a caller can forward the note with every cosignature.
            unknown.setdefault((sig.name, sig.key_id, sig.signature), sig)
            continue
        # Every line naming a known key is verified, duplicates included.
        if not verifier.verify(text_bytes, sig.signature):
            raise InvalidNoteSignatureError(
                f"invalid signature by known key {sig.name}+{sig.key_id:08x}"
            )
        verified.setdefault(ident, sig)
    if not verified:
        raise UnverifiedNoteError("note has no valid signature by a known key")
    return Note(text, tuple(verified.values()), tuple(unknown.values()))


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIG_PREFIX):
        raise NoteError("signature line does not start with an em dash and a space")
    rest = line[len(_SIG_PREFIX) :]
    name, sep, b64 = rest.partition(" ")
    if not sep:
        raise NoteError("signature line has no space between key name and signature")
    try:
        check_key_name(name)
    except KeyFormatError as e:
        raise NoteError(f"signature line: {e}") from None
    raw = _strict_b64decode(b64)
    if raw is None:
        raise NoteError(f"signature line for {name!r} is not canonical base64")
    if len(raw) < 5:
        raise NoteError(f"signature line for {name!r} is too short")
    return NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:])


# --- checkpoints ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's signed tree head (C2SP tlog-checkpoint note text).

    ``origin`` identifies the log; camvault custodians use ``camvault.io/custodian/<id>``
    and sign with a key of the same name. ``size`` is the number of leaves, ``root_hash``
    the RFC 9162 MTH of those leaves, ``extensions`` optional non-empty opaque lines.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            check_key_name(self.origin)
        except KeyFormatError as e:
            raise CheckpointError(f"checkpoint origin: {e}") from None
        if not isinstance(self.size, int) or isinstance(self.size, bool):
            raise CheckpointError("checkpoint tree size must be an integer")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"checkpoint tree size {self.size} is outside 0..2**64-1")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"checkpoint root hash must be {HASH_SIZE} bytes")
        if self.size == 0 and self.root_hash != EMPTY_ROOT:
            raise CheckpointError("checkpoint of size 0 must have the empty-tree root hash")
        if not isinstance(self.extensions, tuple):
            raise CheckpointError("checkpoint extensions must be a tuple of strings")
        for ext in self.extensions:
            if not isinstance(ext, str) or ext == "":
                raise CheckpointError("checkpoint extension lines must be non-empty strings")
            if any(ch < " " for ch in ext):
                raise CheckpointError("checkpoint extension line contains a control character")
            _check_utf8(ext, CheckpointError, "checkpoint extension line")

    def to_text(self) -> str:
        """The note text: origin, size, base64 root hash and extension lines, each + ``\\n``."""
        lines = [self.origin, str(self.size), b64encode_padded(self.root_hash)]
        lines.extend(self.extensions)
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse a checkpoint note text strictly (C2SP tlog-checkpoint, "Note text")."""
        if not isinstance(text, str) or not text.endswith("\n"):
            raise CheckpointError("checkpoint text must end in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError("checkpoint text needs origin, tree size and root hash lines")
        if any(line == "" for line in lines):
            raise CheckpointError("checkpoint text contains an empty line")
        origin, size_text, root_text, *extensions = lines
        if not _DECIMAL.fullmatch(size_text):
            raise CheckpointError(f"checkpoint tree size {size_text!r} is not canonical decimal")
        # Length first: int() refuses more than 4,300 digits with a bare ValueError.
        if len(size_text) > len(str(MAX_TREE_SIZE)) or int(size_text) > MAX_TREE_SIZE:
            raise CheckpointError(f"checkpoint tree size {size_text[:24]} does not fit in 64 bits")
        size = int(size_text)
        root = _strict_b64decode(root_text)
        if root is None or len(root) != HASH_SIZE:
            raise CheckpointError("checkpoint root hash is not canonical base64 of 32 bytes")
        return cls(origin, size, root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> bytes:
    """Sign a checkpoint as the log. The signer's key name must equal the origin."""
    if signer.name != checkpoint.origin:
        raise CheckpointError(
            f"log key name {signer.name!r} differs from checkpoint origin {checkpoint.origin!r}"
        )
    return sign_note(checkpoint.to_text(), [signer])


def open_checkpoint(message: bytes, verifiers: Iterable[NoteVerifier], origin: str) -> Checkpoint:
    """Verify a signed checkpoint of the log ``origin`` and return its contents.

    The note must carry a valid signature by one of ``verifiers`` whose key name is
    ``origin`` (signatures by other known keys, e.g. witnesses, are verified but do not
    count), and its text must be a well-formed checkpoint with exactly that origin.
    """
    log_keys = [v for v in verifiers if v.name == origin]
    if not log_keys:
        raise CheckpointError(f"no known key named after the expected origin {origin!r}")
    note = open_note(message, log_keys)
    checkpoint = Checkpoint.from_text(note.text)
    if checkpoint.origin != origin:
        raise CheckpointError(
            f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}"
        )
    return checkpoint


# --- helpers ----------------------------------------------------------------------------


def _check_note_text(text: str) -> None:
    if not isinstance(text, str):
        raise NoteError("note text must be a string")
    if not text.endswith("\n"):
        raise NoteError("note text must end in a newline")
    for ch in text:
        if ch < " " and ch != "\n":
            raise NoteError(f"note text contains control character U+{ord(ch):04X}")
    _check_utf8(text, NoteError, "note text")


def _check_utf8(s: str, error: type[Exception], what: str) -> None:
    # A Python str may hold lone surrogates, which have no UTF-8 encoding.
    try:
        s.encode("utf-8", errors="strict")
    except UnicodeEncodeError:
        raise error(f"{what} is not valid Unicode text") from None


def _strict_b64decode(s: str) -> bytes | None:
    """Standard base64 (RFC 4648 section 4) with padding, or None if not canonical."""
    try:
        return b64decode_padded(s)
    except Base64Error:
        return None


def _decode_key_material(hex_id: str, b64: str, what: str) -> bytes:
    if not _HEX8.fullmatch(hex_id):
        raise KeyFormatError(f"{what} ID must be 8 lowercase hex digits")
    raw = _strict_b64decode(b64)
    if raw is None or len(raw) == 0:
        raise KeyFormatError(f"{what} material is not canonical base64")
    if raw[0] != ALG_ED25519:
        raise KeyFormatError(f"{what} has unknown algorithm byte 0x{raw[0]:02x}")
    if len(raw) != 1 + _ED25519_KEY_SIZE:
        raise KeyFormatError(f"{what} must hold 32 bytes of Ed25519 key")
    return raw[1:]
