"""camvault escrow stanzas: Shamir shares of an age file key, sealed to key custodians.

An escrowed recording is an ordinary age v1 file (C2SP age spec) whose header carries, next to
the customer's X25519 stanzas, n stanzas of type ``camvault-escrow``; other age
implementations skip stanzas of unknown types ("Header" section of the spec), so the customer
still decrypts with the standard ``age`` tool. Stanza i holds share i of a t-of-n Shamir split
(:mod:`crypto.shamir`) of the 16-byte file key, sealed to custodian i's X25519 key with the
construction of age's X25519 recipient type ("X25519 recipient type" section: ephemeral ECDH,
HKDF-SHA-256 with salt ``ephemeral_pk || recipient_pk``, ChaCha20-Poly1305 with a zero nonce)
under camvault's own HKDF label, and with the recording's metadata and the stanza line bound
as AEAD associated data.

Stanza (one line of the header, then the base64 body as for every stanza)::

    -> camvault-escrow <key id> <index i> <threshold t> <count n> <base64(ephemeral pk)>
    body = ChaCha20-Poly1305(wrap key, 12 zero bytes, share_i.to_bytes(), AD)
    wrap key = HKDF-SHA-256(ikm = X25519(e, custodian_pk), salt = e_pk || custodian_pk,
                            info = "camvault.io/v1/escrow")
    AD = metadata.associated_data() || "\\n" || "-> camvault-escrow" || (" " || arg)*

A custodian releases an opened share to an operator by sealing it again, the same way, to
the operator's per-request session key under the label ``camvault.io/v1/escrow-release``
with the release id bound as well. The operator combines t shares and accepts the result
only if it verifies the age header MAC (:func:`combine_file_key`). The full specification
and the security argument are in docs/FORMAT.md part 2.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Self

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from crypto import bech32
from crypto.age import Recipient, verify_header_mac
from crypto.errors import (
    EscrowError,
    HeaderError,
    IncorrectIdentityError,
    KeyFormatError,
    ShareError,
)
from crypto.format import FILE_KEY_SIZE, FileKey, Stanza, b64decode, b64encode, parse_header
from crypto.hkdf import hkdf_sha256
from crypto.metadata import RecordingMetadata
from crypto.shamir import Share, _split_from_coefficients, combine
from crypto.x25519 import check_public_key

#: Stanza type of escrow stanzas in the age header.
ESCROW_STANZA_TYPE = "camvault-escrow"
#: HKDF info of the key that wraps a share to a custodian.
ESCROW_LABEL = b"camvault.io/v1/escrow"
#: HKDF info of the key that wraps a released share to an operator's session key.
RELEASE_LABEL = b"camvault.io/v1/escrow-release"
#: Domain prefix of the custodian key id hash.
KEY_ID_LABEL = b"camvault.io/v1/escrow-key-id\n"
#: Prefix of the associated data of a released share, after the metadata.
RELEASE_AD_PREFIX = b"camvault-escrow-release "
#: Bech32 human-readable parts of custodian keys (like age's "age" and "AGE-SECRET-KEY-").
PUBLIC_KEY_HRP = "camvault-custodian"
SECRET_KEY_HRP = "CAMVAULT-CUSTODIAN-SECRET-KEY-"  # noqa: S105 (a prefix, not a key)
#: Bounds on the custodian set: at least two custodians must cooperate, at most 16 exist.
MIN_THRESHOLD = 2
MAX_CUSTODIANS = 16

KEY_SIZE = 32
KEY_ID_SIZE = 4
_SHARE_SIZE = 3 + FILE_KEY_SIZE  # Share.to_bytes(): version || threshold || x || y
_TAG_SIZE = nacl.bindings.crypto_aead_chacha20poly1305_ietf_ABYTES
_BODY_SIZE = _SHARE_SIZE + _TAG_SIZE
_RELEASE_SIZE = KEY_SIZE + _BODY_SIZE
_ZERO_NONCE = bytes(nacl.bindings.crypto_aead_chacha20poly1305_ietf_NPUBBYTES)
_SMALL_INT_RE = re.compile(r"^[1-9][0-9]?$")


# --- encoding helpers ---------------------------------------------------------------------------


def _b64decode(text: str, size: int, what: str) -> bytes:
    """Canonical unpadded base64 (age spec, "Conventions") of exactly ``size`` bytes."""
    if not isinstance(text, str):
        raise EscrowError(f"{what}: not unpadded base64")
    try:
        data = b64decode(text)
    except ValueError as exc:
        raise EscrowError(f"{what}: not canonical unpadded base64 ({exc})") from exc
    if len(data) != size:
        raise EscrowError(f"{what}: must encode {size} bytes")
    return data


def _x25519(secret: bytes, public: bytes) -> bytes:
    """X25519(secret, public) (RFC 7748 section 5), refusing an all-zero shared secret.

    A low-order ``public`` gives the all-zero output; the age spec's X25519 section requires
    refusing it, so an attacker cannot force a known wrap key.
    """
    try:
        shared = nacl.bindings.crypto_scalarmult(secret, public)
    except (nacl.exceptions.RuntimeError, nacl.exceptions.ValueError) as exc:
        # libsodium refuses an all-zero result itself.
        raise EscrowError("X25519 with a low-order point (all-zero shared secret)") from exc
    if hmac.compare_digest(shared, bytes(KEY_SIZE)):
        raise EscrowError("X25519 with a low-order point (all-zero shared secret)")
    return shared


def _seal(
    label: bytes,
    recipient: bytes,
    ephemeral: bytes,
    ephemeral_pk: bytes,
    plaintext: bytes,
    ad: bytes,
) -> bytes:
    """age X25519 wrap with an own label; returns the ciphertext (the ephemeral pk is apart).

    ``ephemeral_pk`` is X25519(ephemeral, basepoint), computed once by the caller that also
    writes it out.
    """
    shared = _x25519(ephemeral, recipient)
    key = hkdf_sha256(ikm=shared, salt=ephemeral_pk + recipient, info=label)
    # Zero nonce: every wrap key is used once, since the ephemeral key is fresh (age spec).
    ciphertext: bytes = nacl.bindings.crypto_aead_chacha20poly1305_ietf_encrypt(
        plaintext, ad, _ZERO_NONCE, key
    )
    return ciphertext


def _open(
    label: bytes,
    secret: bytes,
    recipient: bytes,
    ephemeral_pk: bytes,
    ciphertext: bytes,
    ad: bytes,
    what: str,
) -> bytes:
    """Open a wrap sealed to ``recipient`` (the public key of ``secret``, passed in so that a
    batch of thousands of stanzas does not recompute it for each one)."""
    shared = _x25519(secret, ephemeral_pk)
    key = hkdf_sha256(ikm=shared, salt=ephemeral_pk + recipient, info=label)
    try:
        plaintext: bytes = nacl.bindings.crypto_aead_chacha20poly1305_ietf_decrypt(
            ciphertext, ad, _ZERO_NONCE, key
        )
    except nacl.exceptions.CryptoError as exc:
        # One message for every cause an attacker could probe (key, metadata, tampering).
        raise EscrowError(
            f"{what} does not open: the key, the recording metadata or the sealed bytes "
            "differ from those it was sealed with"
        ) from exc
    return plaintext


def _check_secret_key(secret: object, what: str) -> bytes:
    if not isinstance(secret, bytes) or len(secret) != KEY_SIZE:
        raise KeyFormatError(f"{what}: an X25519 secret key is {KEY_SIZE} bytes")
    return secret


# --- keys -------------------------------------------------------------------------------------


class CustodianPublicKey:
    """A custodian's X25519 public key.

    Text form: Bech32 (BIP 173, as age encodes its keys) with human-readable part
    ``camvault-custodian``, lowercase: ``camvault-custodian1`` + 52 + 6 checksum characters.
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_SIZE:
            raise KeyFormatError(f"custodian public key must be {KEY_SIZE} bytes")
        check_public_key(key, "custodian public key")
        self._key = key

    @property
    def data(self) -> bytes:
        return self._key

    def key_id(self) -> str:
        """Short, public hint naming this key in stanzas: base64(SHA-256(label || pk)[:4])."""
        return b64encode(hashlib.sha256(KEY_ID_LABEL + self._key).digest()[:KEY_ID_SIZE])

    def to_text(self) -> str:
        return bech32.encode(PUBLIC_KEY_HRP, self._key)

    @classmethod
    def from_text(cls, text: str) -> CustodianPublicKey:
        """Parse ``camvault-custodian1...`` (lowercase Bech32, as :meth:`to_text` writes)."""
        if not isinstance(text, str):
            raise KeyFormatError("custodian public key must be a string")
        hrp, data = bech32.decode(text)
        if hrp != PUBLIC_KEY_HRP:
            raise KeyFormatError(f"not a custodian public key (want prefix {PUBLIC_KEY_HRP}1)")
        return cls(data)

    def __repr__(self) -> str:
        return f"CustodianPublicKey({self.to_text()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CustodianPublicKey) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)


class _X25519SecretKey:
    __slots__ = ("_public", "_secret")
    _what = "X25519 secret key"

    def __init__(self, secret: bytes) -> None:
        self._secret = _check_secret_key(secret, self._what)
        # Computed once: a custodian opens thousands of stanzas per request.
        self._public: bytes = nacl.bindings.crypto_scalarmult_base(self._secret)

    @classmethod
    def generate(cls) -> Self:
        return cls(secrets.token_bytes(KEY_SIZE))

    def _public_bytes(self) -> bytes:
        return self._public

    def secret_bytes(self) -> bytes:
        """The raw secret key, for the owner's key storage only."""
        return self._secret

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<redacted>)"


class CustodianKey(_X25519SecretKey):
    """A custodian's X25519 escrow key (secret). Text form: uppercase Bech32 with
    human-readable part ``CAMVAULT-CUSTODIAN-SECRET-KEY-``, like age's identities."""

    __slots__ = ("_key_id", "_public_key")
    _what = "custodian key"

    def __init__(self, secret: bytes) -> None:
        super().__init__(secret)
        self._public_key = CustodianPublicKey(self._public)
        self._key_id = self._public_key.key_id()

    def public_key(self) -> CustodianPublicKey:
        return self._public_key

    def key_id(self) -> str:
        """The key id of :meth:`public_key` (cached)."""
        return self._key_id

    def to_text(self) -> str:
        return bech32.encode(SECRET_KEY_HRP, self._secret)

    @classmethod
    def from_text(cls, text: str) -> CustodianKey:
        """Parse ``CAMVAULT-CUSTODIAN-SECRET-KEY-1...`` (uppercase Bech32)."""
        if not isinstance(text, str):
            raise KeyFormatError("custodian key must be a string")
        hrp, data = bech32.decode(text)
        if hrp != SECRET_KEY_HRP:
            raise KeyFormatError(f"not a custodian key (want prefix {SECRET_KEY_HRP}1)")
        return cls(data)


class SessionKey(_X25519SecretKey):
    """An operator's per-request X25519 session key (secret); released shares are sealed to
    its public key (32 raw bytes, :meth:`public_key`)."""

    __slots__ = ()
    _what = "session key"

    def public_key(self) -> bytes:
        return self._public_bytes()


# --- stanza layout ----------------------------------------------------------------------------


class NotThisCustodianError(EscrowError, IncorrectIdentityError):
    """The stanza is not an escrow stanza for this custodian key: try the next stanza."""


@dataclass(frozen=True, slots=True)
class EscrowStanzaInfo:
    """The public arguments of a ``camvault-escrow`` stanza, parsed and checked."""

    key_id: str
    index: int
    threshold: int
    count: int
    ephemeral_public_key: bytes

    def args(self) -> tuple[str, ...]:
        return (
            self.key_id,
            str(self.index),
            str(self.threshold),
            str(self.count),
            b64encode(self.ephemeral_public_key),
        )


def _check_set_size(threshold: int, count: int) -> None:
    for value, what in ((threshold, "threshold"), (count, "number of custodians")):
        if not isinstance(value, int) or isinstance(value, bool):
            raise EscrowError(f"{what} must be an integer")
    if not MIN_THRESHOLD <= threshold <= count <= MAX_CUSTODIANS:
        raise EscrowError(
            f"escrow needs {MIN_THRESHOLD} <= threshold <= number of custodians "
            f"<= {MAX_CUSTODIANS} (got threshold {threshold} of {count})"
        )


def _parse_small_int(text: str, what: str) -> int:
    if not isinstance(text, str) or not _SMALL_INT_RE.fullmatch(text):
        raise EscrowError(f"malformed escrow stanza: {what} must be a decimal 1..99")
    return int(text)


def parse_escrow_stanza(stanza: Stanza) -> EscrowStanzaInfo:
    """Parse and check the arguments of an escrow stanza (no secret needed).

    Raises :class:`NotThisCustodianError` for a stanza of another type and
    :class:`EscrowError` for a malformed escrow stanza.
    """
    if not isinstance(stanza, Stanza) or stanza.type != ESCROW_STANZA_TYPE:
        raise NotThisCustodianError(f"not a {ESCROW_STANZA_TYPE} stanza")
    if len(stanza.args) != 5:
        raise EscrowError(f"malformed escrow stanza: expected 5 arguments, got {len(stanza.args)}")
    key_id, index_s, threshold_s, count_s, ephemeral_s = stanza.args
    _b64decode(key_id, KEY_ID_SIZE, "malformed escrow stanza: key id")
    index = _parse_small_int(index_s, "index")
    threshold = _parse_small_int(threshold_s, "threshold")
    count = _parse_small_int(count_s, "count")
    _check_set_size(threshold, count)
    if not 1 <= index <= count:
        raise EscrowError("malformed escrow stanza: index must be between 1 and count")
    ephemeral = _b64decode(ephemeral_s, KEY_SIZE, "malformed escrow stanza: ephemeral key")
    if len(stanza.body) != _BODY_SIZE:
        raise EscrowError(f"malformed escrow stanza: body must be {_BODY_SIZE} bytes")
    return EscrowStanzaInfo(key_id, index, threshold, count, ephemeral)


def _stanza_ad(metadata: RecordingMetadata, args: Sequence[str]) -> bytes:
    """AD of an escrow stanza: metadata AD || LF || the stanza's header line without its LF.

    The metadata AD ends with canonical JSON, which never contains a raw LF, so the split
    point is unambiguous; the stanza line binds key id, index, threshold, count, ephemeral pk.
    """
    line = " ".join(("->", ESCROW_STANZA_TYPE, *args))
    return metadata.associated_data() + b"\n" + line.encode("ascii")


# --- writer side ------------------------------------------------------------------------------


class EscrowRecipients:
    """age Recipient that splits the file key t-of-n and seals share i to custodian i.

    Custodian order is significant: the i-th key (1-based) receives the share with
    x-coordinate i.
    """

    def __init__(
        self,
        custodians: Sequence[CustodianPublicKey],
        threshold: int,
        metadata: RecordingMetadata,
    ) -> None:
        custodians = tuple(custodians)
        if not all(isinstance(c, CustodianPublicKey) for c in custodians):
            raise EscrowError("custodians must be CustodianPublicKey values")
        _check_set_size(threshold, len(custodians))
        if len(set(custodians)) != len(custodians):
            raise EscrowError("a custodian key appears twice: it would hold two shares")
        if not isinstance(metadata, RecordingMetadata):
            raise EscrowError("metadata must be a RecordingMetadata")
        self._custodians = custodians
        self._threshold = threshold
        self._metadata = metadata

    @property
    def custodians(self) -> tuple[CustodianPublicKey, ...]:
        return self._custodians

    @property
    def threshold(self) -> int:
        return self._threshold

    @property
    def metadata(self) -> RecordingMetadata:
        return self._metadata

    def wrap(self, file_key: FileKey) -> list[Stanza]:
        coefficients = secrets.token_bytes((self._threshold - 1) * FILE_KEY_SIZE)
        ephemerals = [secrets.token_bytes(KEY_SIZE) for _ in self._custodians]
        return self._wrap_from_parts(file_key, coefficients, ephemerals)

    def _wrap_from_parts(
        self, file_key: FileKey, coefficients: bytes, ephemerals: Sequence[bytes]
    ) -> list[Stanza]:
        """Deterministic :meth:`wrap`: explicit Shamir coefficients and ephemeral secrets."""
        if not isinstance(file_key, FileKey):
            raise EscrowError("wrap expects a FileKey")
        if len(ephemerals) != len(self._custodians):
            raise EscrowError("need one ephemeral key per custodian")
        count = len(self._custodians)
        try:
            shares = _split_from_coefficients(file_key.data, self._threshold, count, coefficients)
        except ShareError as exc:
            raise EscrowError(f"cannot split the file key: {exc}") from exc
        stanzas = []
        for custodian, share, ephemeral in zip(self._custodians, shares, ephemerals, strict=True):
            _check_secret_key(ephemeral, "ephemeral key")
            info = EscrowStanzaInfo(
                key_id=custodian.key_id(),
                index=share.x,
                threshold=self._threshold,
                count=count,
                ephemeral_public_key=nacl.bindings.crypto_scalarmult_base(ephemeral),
            )
            args = info.args()
            body = _seal(
                ESCROW_LABEL,
                custodian.data,
                ephemeral,
                info.ephemeral_public_key,
                share.to_bytes(),
                _stanza_ad(self._metadata, args),
            )
            stanzas.append(Stanza(type=ESCROW_STANZA_TYPE, args=args, body=body))
        return stanzas


def build_recipient_set(
    customer_recipients: Iterable[Recipient],
    custodian_keys: Sequence[CustodianPublicKey],
    threshold: int,
    metadata: RecordingMetadata,
) -> list[Recipient]:
    """The recipients of one recording: the customer's age recipients, then the escrow set.

    At least one customer recipient is required: the customer must always be able to read
    their recordings without the custodians.
    """
    recipients: list[Recipient] = list(customer_recipients)
    if not recipients:
        raise EscrowError("at least one customer recipient is required")
    recipients.append(EscrowRecipients(custodian_keys, threshold, metadata))
    return recipients


def escrow_stanzas(stanzas: Iterable[Stanza]) -> list[Stanza]:
    """The ``camvault-escrow`` stanzas of a header, in header order."""
    return [s for s in stanzas if s.type == ESCROW_STANZA_TYPE]


# --- custodian side ---------------------------------------------------------------------------


def open_escrow_stanza(
    stanza: Stanza, custodian_key: CustodianKey, metadata: RecordingMetadata
) -> Share:
    """Open the share that ``stanza`` holds for ``custodian_key``, for the claimed metadata.

    Raises :class:`NotThisCustodianError` if the stanza is not an escrow stanza addressed to
    this key (by key id), and :class:`EscrowError` if it is malformed or does not open: the
    metadata differs from the one it was sealed with, or the stanza was altered.
    """
    if not isinstance(custodian_key, CustodianKey):
        raise EscrowError("custodian_key must be a CustodianKey")
    if not isinstance(metadata, RecordingMetadata):
        raise EscrowError("metadata must be a RecordingMetadata")
    info = parse_escrow_stanza(stanza)
    if info.key_id != custodian_key.key_id():
        raise NotThisCustodianError("escrow stanza is addressed to another custodian key")
    plaintext = _open(
        ESCROW_LABEL,
        custodian_key.secret_bytes(),
        custodian_key.public_key().data,
        info.ephemeral_public_key,
        stanza.body,
        _stanza_ad(metadata, stanza.args),
        "escrow stanza",
    )
    try:
        share = Share.from_bytes(plaintext)
    except ShareError as exc:
        raise EscrowError(f"escrow stanza holds a malformed share: {exc}") from exc
    if share.x != info.index or share.threshold != info.threshold or len(share.y) != FILE_KEY_SIZE:
        raise EscrowError("escrow share disagrees with its stanza's index or threshold")
    return share


def _release_ad_suffix(release_id: str) -> bytes:
    """The part of a released share's AD after the metadata AD (release id checked)."""
    if (
        not isinstance(release_id, str)
        or not release_id.isascii()
        or not 1 <= len(release_id) <= 128
        or not all(33 <= ord(c) <= 126 for c in release_id)
    ):
        raise EscrowError("release id must be 1-128 printable ASCII characters without spaces")
    return b"\n" + RELEASE_AD_PREFIX + release_id.encode("ascii")


def _release_ad(metadata: RecordingMetadata, release_id: str) -> bytes:
    if not isinstance(metadata, RecordingMetadata):
        raise EscrowError("metadata must be a RecordingMetadata")
    return metadata.associated_data() + _release_ad_suffix(release_id)


def seal_share_to_session(
    share: Share, session_public_key: bytes, metadata: RecordingMetadata, *, release_id: str
) -> bytes:
    """Re-seal an opened share to an operator's session key (custodian side).

    Output: ``ephemeral_pk (32) || ChaCha20-Poly1305(key, 12 zero bytes, share, AD)`` with
    key = HKDF-SHA-256(X25519(e, session_pk), e_pk || session_pk, "camvault.io/v1/escrow-release")
    and AD = metadata AD || LF || "camvault-escrow-release " || release id.
    """
    return _seal_share_to_session_from_parts(
        share, session_public_key, metadata, release_id, secrets.token_bytes(KEY_SIZE)
    )


def _seal_share_to_session_from_parts(
    share: Share,
    session_public_key: bytes,
    metadata: RecordingMetadata,
    release_id: str,
    ephemeral: bytes,
) -> bytes:
    if not isinstance(share, Share) or len(share.y) != FILE_KEY_SIZE:
        raise EscrowError("only a file-key share (16 bytes) can be released")
    if not isinstance(session_public_key, bytes) or len(session_public_key) != KEY_SIZE:
        raise EscrowError(f"session public key must be {KEY_SIZE} bytes")
    _check_secret_key(ephemeral, "ephemeral key")
    ad = _release_ad(metadata, release_id)
    ephemeral_pk: bytes = nacl.bindings.crypto_scalarmult_base(ephemeral)
    sealed = _seal(RELEASE_LABEL, session_public_key, ephemeral, ephemeral_pk, share.to_bytes(), ad)
    return ephemeral_pk + sealed


def open_released_share(
    sealed: bytes, session_key: SessionKey, metadata: RecordingMetadata, *, release_id: str
) -> Share:
    """Open a share released by a custodian (operator side); see :func:`seal_share_to_session`.

    Raises :class:`EscrowError` if it was sealed to another session key, for other metadata
    or another release id, or was altered.
    """
    if not isinstance(session_key, SessionKey):
        raise EscrowError("session_key must be a SessionKey")
    ad = _release_ad(metadata, release_id)
    if not isinstance(sealed, bytes) or len(sealed) != _RELEASE_SIZE:
        raise EscrowError(f"released share must be {_RELEASE_SIZE} bytes")
    plaintext = _open(
        RELEASE_LABEL,
        session_key.secret_bytes(),
        session_key.public_key(),
        sealed[:KEY_SIZE],
        sealed[KEY_SIZE:],
        ad,
        "released share",
    )
    try:
        share = Share.from_bytes(plaintext)
    except ShareError as exc:
        raise EscrowError(f"released share is malformed: {exc}") from exc
    if len(share.y) != FILE_KEY_SIZE:
        raise EscrowError("released share is not a file-key share")
    return share


class ShareReleaser:
    """The custodian side of one release request: open escrow stanzas with one custodian key
    and re-seal each share to one session key under one release id.

    Batch form of :func:`open_escrow_stanza` followed by :func:`seal_share_to_session`, for a
    request of thousands of recordings: the request-wide values are checked once (release id,
    session key length), the custodian key is loaded once into an OpenSSL key object (its
    X25519 is 36 us against libsodium's 47 us), and ChaCha20-Poly1305 runs through
    pyca/cryptography (3 us against 7 us per call through PyNaCl's checks).
    The construction, the checks and the exceptions are those of the two functions: for the
    same ephemeral secret, :meth:`seal` returns byte for byte what ``seal_share_to_session``
    returns (the tests compare them on every path). Nothing about the format changes.
    """

    __slots__ = ("_custodian", "_custodian_pk", "_key_id", "_release_suffix", "_session_pk")

    def __init__(
        self, custodian_key: CustodianKey, session_public_key: bytes, release_id: str
    ) -> None:
        if not isinstance(custodian_key, CustodianKey):
            raise EscrowError("custodian_key must be a CustodianKey")
        if not isinstance(session_public_key, bytes) or len(session_public_key) != KEY_SIZE:
            raise EscrowError(f"session public key must be {KEY_SIZE} bytes")
        # The release id checks of _release_ad, made once for the request.
        self._release_suffix = _release_ad_suffix(release_id)
        self._custodian = X25519PrivateKey.from_private_bytes(custodian_key.secret_bytes())
        self._custodian_pk = custodian_key.public_key().data
        self._key_id = custodian_key.key_id()
        self._session_pk = session_public_key

    def _exchange(self, ephemeral_pk: bytes) -> bytes:
        """X25519(custodian key, ephemeral_pk), refusing an all-zero result as :func:`_x25519`."""
        try:
            shared = self._custodian.exchange(X25519PublicKey.from_public_bytes(ephemeral_pk))
        except ValueError as exc:
            # OpenSSL refuses an all-zero result itself.
            raise EscrowError("X25519 with a low-order point (all-zero shared secret)") from exc
        if hmac.compare_digest(shared, bytes(KEY_SIZE)):  # pragma: no cover - OpenSSL refuses
            raise EscrowError("X25519 with a low-order point (all-zero shared secret)")
        return shared

    def open(self, stanza: Stanza, metadata: RecordingMetadata) -> Share:
        """:func:`open_escrow_stanza` with this custodian key (same checks and exceptions)."""
        if not isinstance(metadata, RecordingMetadata):
            raise EscrowError("metadata must be a RecordingMetadata")
        info = parse_escrow_stanza(stanza)
        if info.key_id != self._key_id:
            raise NotThisCustodianError("escrow stanza is addressed to another custodian key")
        ephemeral_pk = info.ephemeral_public_key
        shared = self._exchange(ephemeral_pk)
        key = hkdf_sha256(ikm=shared, salt=ephemeral_pk + self._custodian_pk, info=ESCROW_LABEL)
        try:
            plaintext = ChaCha20Poly1305(key).decrypt(
                _ZERO_NONCE, stanza.body, _stanza_ad(metadata, stanza.args)
            )
        except InvalidTag as exc:
            raise EscrowError(
                "escrow stanza does not open: the key, the recording metadata or the sealed "
                "bytes differ from those it was sealed with"
            ) from exc
        try:
            share = Share.from_bytes(plaintext)
        except ShareError as exc:
            raise EscrowError(f"escrow stanza holds a malformed share: {exc}") from exc
        if (
            share.x != info.index
            or share.threshold != info.threshold
            or len(share.y) != FILE_KEY_SIZE
        ):
            raise EscrowError("escrow share disagrees with its stanza's index or threshold")
        return share

    def seal(self, share: Share, metadata: RecordingMetadata) -> bytes:
        """:func:`seal_share_to_session` to this request's session key and release id."""
        return self._seal_from_parts(share, metadata, secrets.token_bytes(KEY_SIZE))

    def _seal_from_parts(
        self, share: Share, metadata: RecordingMetadata, ephemeral: bytes
    ) -> bytes:
        if not isinstance(share, Share) or len(share.y) != FILE_KEY_SIZE:
            raise EscrowError("only a file-key share (16 bytes) can be released")
        if not isinstance(metadata, RecordingMetadata):
            raise EscrowError("metadata must be a RecordingMetadata")
        _check_secret_key(ephemeral, "ephemeral key")
        # libsodium here: loading a fresh private key into OpenSSL derives its public key
        # with a generic (slow) scalar multiplication, so a one-use ephemeral key costs less
        # as libsodium's fixed-base multiplication plus one X25519.
        ephemeral_pk: bytes = nacl.bindings.crypto_scalarmult_base(ephemeral)
        shared = _x25519(ephemeral, self._session_pk)
        key = hkdf_sha256(ikm=shared, salt=ephemeral_pk + self._session_pk, info=RELEASE_LABEL)
        ad = metadata.associated_data() + self._release_suffix
        return ephemeral_pk + ChaCha20Poly1305(key).encrypt(_ZERO_NONCE, share.to_bytes(), ad)


# --- operator side ----------------------------------------------------------------------------


def combine_file_key(shares: Sequence[Share], header_bytes: bytes) -> FileKey:
    """Combine released shares into the file key and prove it with the age header MAC.

    Shamir interpolation cannot tell a right result from a wrong one (too few, foreign or
    forged shares just give another 16-byte value); the header MAC can, since it is an HMAC
    under a key derived from the file key (age spec, "Header MAC"). Raises ShareError for
    structurally unusable shares (fewer than their threshold, duplicates, mixed lengths),
    HeaderError for a malformed header, and EscrowError if the result fails the MAC.
    """
    parse_header(header_bytes)  # malformed header: HeaderError, distinct from a wrong key
    secret = combine(shares)
    if len(secret) != FILE_KEY_SIZE:
        raise EscrowError("shares are not shares of a 16-byte file key")
    file_key = FileKey(secret)
    try:
        verify_header_mac(header_bytes, file_key)
    except HeaderError as exc:
        raise EscrowError("shares do not reconstruct this recording's file key") from exc
    return file_key
