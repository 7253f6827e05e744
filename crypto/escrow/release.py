"""Release of escrowed shares: a custodian re-seals an opened share to an operator's session
key; the operator opens the released shares and combines them into the file key.

A released share is ``ephemeral_pk || n || ChaCha20-Poly1305(key, zero nonce, share, AD)``,
sealed like an escrow stanza (:mod:`crypto.escrow.wrap`) with the HKDF info
``camvault.io/v2/escrow-release || n``, where ``n`` is 16 random bytes of its own; the
release id is bound into the AD next to the recording metadata. One ephemeral key may seal
every share of a release: the per-share ``n`` gives each share its own key (RFC 5869
section 3.2), so the zero nonce is still used once per key, and a release of thousands of
recordings costs one X25519 to seal instead of two per share (docs/FORMAT.md part 2,
section 4). The combined file key is accepted only if it verifies the age header MAC.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence

import nacl.bindings
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from crypto.age import verify_header_mac
from crypto.age.format import FILE_KEY_SIZE, FileKey, Stanza, parse_header
from crypto.errors import EscrowError, HeaderError, ShareError
from crypto.escrow.keys import KEY_SIZE, CustodianKey, SessionKey, check_secret_key
from crypto.escrow.pqkeys import HybridCustodianKey
from crypto.escrow.shamir import Share, combine
from crypto.escrow.stanza import (
    BODY_SIZE,
    ESCROW_LABEL,
    HYBRID_STANZA_TYPE,
    NoHybridKeyError,
    NotThisCustodianError,
    open_hybrid,
    parse_escrow_stanza,
    stanza_ad,
    stanza_share,
)
from crypto.escrow.wrap import LOW_ORDER, ZERO_NONCE, seal, x25519_shared
from crypto.hkdf import hkdf_expand, hkdf_extract, hkdf_sha256
from crypto.metadata import RecordingMetadata

#: HKDF info of the key that wraps a released share to an operator's session key, before the
#: share's own random bytes.
RELEASE_LABEL = b"camvault.io/v2/escrow-release"
#: Prefix of the associated data of a released share, after the metadata.
RELEASE_AD_PREFIX = b"camvault-escrow-release "
#: The random bytes of each released share that make its key its own.
SHARE_NONCE_SIZE = 16
RELEASE_SIZE = KEY_SIZE + SHARE_NONCE_SIZE + BODY_SIZE


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
    """Re-seal an opened share to an operator's session key (custodian side), with a fresh
    ephemeral key (:class:`ShareReleaser` seals a whole release with one).

    Output: ``ephemeral_pk (32) || n (16) || ChaCha20-Poly1305(key, 12 zero bytes, share, AD)``
    with key = HKDF-SHA-256(X25519(e, session_pk), e_pk || session_pk,
    "camvault.io/v2/escrow-release" || n) and AD = metadata AD || LF ||
    "camvault-escrow-release " || release id.
    """
    return _seal_share_to_session_from_parts(
        share,
        session_public_key,
        metadata,
        release_id,
        secrets.token_bytes(KEY_SIZE),
        secrets.token_bytes(SHARE_NONCE_SIZE),
    )


def _seal_share_to_session_from_parts(
    share: Share,
    session_public_key: bytes,
    metadata: RecordingMetadata,
    release_id: str,
    ephemeral: bytes,
    nonce: bytes,
) -> bytes:
    if not isinstance(share, Share) or len(share.y) != FILE_KEY_SIZE:
        raise EscrowError("only a file-key share (16 bytes) can be released")
    if not isinstance(session_public_key, bytes) or len(session_public_key) != KEY_SIZE:
        raise EscrowError(f"session public key must be {KEY_SIZE} bytes")
    check_secret_key(ephemeral, "ephemeral key")
    _check_nonce(nonce)
    ad = _release_ad(metadata, release_id)
    ephemeral_pk: bytes = nacl.bindings.crypto_scalarmult_base(ephemeral)
    info = RELEASE_LABEL + nonce
    sealed = seal(info, session_public_key, ephemeral, ephemeral_pk, share.to_bytes(), ad)
    return ephemeral_pk + nonce + sealed


def _check_nonce(nonce: bytes) -> None:
    if not isinstance(nonce, bytes) or len(nonce) != SHARE_NONCE_SIZE:
        raise EscrowError(f"a released share's random part must be {SHARE_NONCE_SIZE} bytes")


def open_released_share(
    sealed: bytes, session_key: SessionKey, metadata: RecordingMetadata, *, release_id: str
) -> Share:
    """Open a share released by a custodian (operator side); see :func:`seal_share_to_session`.

    Raises :class:`EscrowError` if it was sealed to another session key, for other metadata
    or another release id, or was altered. :class:`ReleaseOpener` opens many shares of one
    release with one X25519 per custodian ephemeral key.
    """
    return ReleaseOpener(session_key, release_id).open(sealed, metadata)


class ReleaseOpener:
    """The operator side of one custodian's release: opens its shares under one session key
    and release id, remembering the X25519 result of each ephemeral key it has seen (a
    custodian seals a release's shares with one ephemeral key, or a few)."""

    __slots__ = ("_prks", "_release_suffix", "_session")

    def __init__(self, session_key: SessionKey, release_id: str) -> None:
        if not isinstance(session_key, SessionKey):
            raise EscrowError("session_key must be a SessionKey")
        self._release_suffix = _release_ad_suffix(release_id)
        self._session = session_key
        self._prks: dict[bytes, bytes] = {}

    def _prk(self, ephemeral_pk: bytes) -> bytes:
        prk = self._prks.get(ephemeral_pk)
        if prk is None:
            shared = x25519_shared(self._session.secret_bytes(), ephemeral_pk)
            prk = hkdf_extract(ephemeral_pk + self._session.public_key(), shared)
            self._prks[ephemeral_pk] = prk
        return prk

    def open(self, sealed: bytes, metadata: RecordingMetadata) -> Share:
        if not isinstance(metadata, RecordingMetadata):
            raise EscrowError("metadata must be a RecordingMetadata")
        ad = metadata.associated_data() + self._release_suffix
        if not isinstance(sealed, bytes) or len(sealed) != RELEASE_SIZE:
            raise EscrowError(f"released share must be {RELEASE_SIZE} bytes")
        ephemeral_pk, nonce = sealed[:KEY_SIZE], sealed[KEY_SIZE : KEY_SIZE + SHARE_NONCE_SIZE]
        key = hkdf_expand(self._prk(ephemeral_pk), RELEASE_LABEL + nonce)
        try:
            plaintext = ChaCha20Poly1305(key).decrypt(
                ZERO_NONCE, sealed[KEY_SIZE + SHARE_NONCE_SIZE :], ad
            )
        except InvalidTag as exc:
            # One message for every cause an attacker could probe (key, metadata, tampering).
            raise EscrowError(
                "released share does not open: the key, the recording metadata or the sealed "
                "bytes differ from those it was sealed with"
            ) from exc
        try:
            share = Share.from_bytes(plaintext)
        except ShareError as exc:
            raise EscrowError(f"released share is malformed: {exc}") from exc
        if len(share.y) != FILE_KEY_SIZE:
            raise EscrowError("released share is not a file-key share")
        return share

    def __repr__(self) -> str:
        return "ReleaseOpener(<redacted>)"


class ShareReleaser:
    """The custodian side of one release request: open escrow stanzas with one custodian key
    and re-seal each share to one session key under one release id.

    Batch form of :func:`open_escrow_stanza` followed by :func:`seal_share_to_session`, for a
    request of thousands of recordings: the request-wide values are checked once (release id,
    session key length), the custodian key is loaded once into an OpenSSL key object (its
    X25519 is 36 us against libsodium's 47 us), ChaCha20-Poly1305 runs through
    pyca/cryptography (3 us against 7 us per call through PyNaCl's checks), and every share
    is sealed with one ephemeral key (``ephemeral``, random by default): one X25519 and one
    HKDF-Extract for the request, then per share its 16 random bytes, one HKDF-Expand and
    the AEAD. The construction, the checks and the exceptions are those of the two
    functions: for the same ephemeral secret and random bytes, a sealed share is byte for
    byte what ``seal_share_to_session`` returns (the tests compare them on every path).

    With ``hybrid_key`` (the custodian's ML-KEM-768 + X25519 key, if it has one) it opens
    hybrid stanzas too; without, a hybrid stanza raises :class:`NoHybridKeyError`. Released
    shares are sealed to the session key with X25519 either way.
    """

    __slots__ = (
        "_custodian",
        "_custodian_pk",
        "_ephemeral",
        "_hybrid",
        "_key_id",
        "_release_suffix",
        "_sealing",
        "_session_pk",
    )

    def __init__(
        self,
        custodian_key: CustodianKey,
        session_public_key: bytes,
        release_id: str,
        hybrid_key: HybridCustodianKey | None = None,
        *,
        ephemeral: bytes | None = None,
    ) -> None:
        if not isinstance(custodian_key, CustodianKey):
            raise EscrowError("custodian_key must be a CustodianKey")
        if hybrid_key is not None and not isinstance(hybrid_key, HybridCustodianKey):
            raise EscrowError("hybrid_key must be a HybridCustodianKey")
        self._hybrid = hybrid_key
        if not isinstance(session_public_key, bytes) or len(session_public_key) != KEY_SIZE:
            raise EscrowError(f"session public key must be {KEY_SIZE} bytes")
        # The release id checks of _release_ad, made once for the request.
        self._release_suffix = _release_ad_suffix(release_id)
        self._custodian = X25519PrivateKey.from_private_bytes(custodian_key.secret_bytes())
        self._custodian_pk = custodian_key.public_key().data
        self._key_id = custodian_key.key_id()
        self._session_pk = session_public_key
        self._ephemeral = check_secret_key(
            secrets.token_bytes(KEY_SIZE) if ephemeral is None else ephemeral, "ephemeral key"
        )
        self._sealing: tuple[bytes, bytes] | None = None  # (ephemeral pk, PRK), on first use

    def _exchange(self, ephemeral_pk: bytes) -> bytes:
        """X25519(custodian key, ephemeral_pk), refusing an all-zero result like x25519_shared."""
        try:
            shared = self._custodian.exchange(X25519PublicKey.from_public_bytes(ephemeral_pk))
        except ValueError as exc:
            # OpenSSL refuses an all-zero result itself.
            raise EscrowError(LOW_ORDER) from exc
        if hmac.compare_digest(shared, bytes(KEY_SIZE)):  # pragma: no cover - OpenSSL refuses
            raise EscrowError(LOW_ORDER)
        return shared

    def open(self, stanza: Stanza, metadata: RecordingMetadata) -> Share:
        """:func:`open_escrow_stanza` with this custodian key (same checks and exceptions)."""
        if not isinstance(metadata, RecordingMetadata):
            raise EscrowError("metadata must be a RecordingMetadata")
        info = parse_escrow_stanza(stanza)
        if info.stanza_type == HYBRID_STANZA_TYPE:
            if self._hybrid is None:
                raise NoHybridKeyError("hybrid escrow stanza, but this custodian has no hybrid key")
            return open_hybrid(stanza, info, self._hybrid, metadata)
        if info.key_id != self._key_id:
            raise NotThisCustodianError("escrow stanza is addressed to another custodian key")
        ephemeral_pk = info.ephemeral_public_key
        shared = self._exchange(ephemeral_pk)
        key = hkdf_sha256(ikm=shared, salt=ephemeral_pk + self._custodian_pk, info=ESCROW_LABEL)
        try:
            plaintext = ChaCha20Poly1305(key).decrypt(
                ZERO_NONCE, stanza.body, stanza_ad(metadata, stanza.args)
            )
        except InvalidTag as exc:
            raise EscrowError(
                "escrow stanza does not open: the key, the recording metadata or the sealed "
                "bytes differ from those it was sealed with"
            ) from exc
        return stanza_share(plaintext, info)

    def seal(self, share: Share, metadata: RecordingMetadata) -> bytes:
        """:func:`seal_share_to_session` to this request's session key and release id, with
        the request's ephemeral key and fresh random bytes for this share."""
        return self._seal_with(share, metadata, secrets.token_bytes(SHARE_NONCE_SIZE))

    def _sealing_key(self) -> tuple[bytes, bytes]:
        """The ephemeral public key and HKDF-Extract(e_pk || session_pk, X25519(e, session_pk)),
        once per request (a low-order session key raises here, at the first share)."""
        if self._sealing is None:
            # libsodium here: loading a fresh private key into OpenSSL derives its public key
            # with a generic (slow) scalar multiplication.
            ephemeral_pk: bytes = nacl.bindings.crypto_scalarmult_base(self._ephemeral)
            shared = x25519_shared(self._ephemeral, self._session_pk)
            self._sealing = ephemeral_pk, hkdf_extract(ephemeral_pk + self._session_pk, shared)
        return self._sealing

    def _seal_with(self, share: Share, metadata: RecordingMetadata, nonce: bytes) -> bytes:
        if not isinstance(share, Share) or len(share.y) != FILE_KEY_SIZE:
            raise EscrowError("only a file-key share (16 bytes) can be released")
        if not isinstance(metadata, RecordingMetadata):
            raise EscrowError("metadata must be a RecordingMetadata")
        _check_nonce(nonce)
        ephemeral_pk, prk = self._sealing_key()
        key = hkdf_expand(prk, RELEASE_LABEL + nonce)
        ad = metadata.associated_data() + self._release_suffix
        sealed = ChaCha20Poly1305(key).encrypt(ZERO_NONCE, share.to_bytes(), ad)
        return ephemeral_pk + nonce + sealed


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
