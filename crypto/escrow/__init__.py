"""camvault escrow stanzas: Shamir shares of an age file key, sealed to key custodians.

An escrowed recording is an ordinary age v1 file (C2SP age spec) whose header carries, next to
the customer's X25519 stanzas, n stanzas of type ``camvault-escrow``; other age
implementations skip stanzas of unknown types ("Header" section of the spec), so the customer
still decrypts with the standard ``age`` tool. Stanza i holds share i of a t-of-n Shamir split
(:mod:`crypto.escrow.shamir`) of the 16-byte file key, sealed to custodian i's X25519 key with the
construction of age's X25519 recipient type ("X25519 recipient type" section: ephemeral ECDH,
HKDF-SHA-256 with salt ``ephemeral_pk || recipient_pk``, ChaCha20-Poly1305 with a zero nonce)
under camvault's own HKDF label, and with the recording's metadata and the stanza line bound
as AEAD associated data.

A custodian releases an opened share to an operator by sealing it again, the same way, to
the operator's per-request session key under the label ``camvault.io/v1/escrow-release``
with the release id bound as well. The operator combines t shares and accepts the result
only if it verifies the age header MAC (:func:`combine_file_key`). The full specification
and the security argument are in docs/FORMAT.md part 2.

Modules: :mod:`~crypto.escrow.shamir` (secret sharing over GF(2^8)), :mod:`~crypto.escrow.keys`
(custodian and session keys), :mod:`~crypto.escrow.pqkeys` (hybrid ML-KEM-768 + X25519
custodian keys, whose stanzas are ``camvault-escrow-mlkem768x25519``, sealed with age's
mlkem768x25519 HPKE suite), :mod:`~crypto.escrow.wrap` (the X25519 wrap both use),
:mod:`~crypto.escrow.stanza` (split and seal, open one stanza), :mod:`~crypto.escrow.release`
(re-seal to a session key, open released shares, combine). This package re-exports their
public names.
"""

from crypto.escrow.keys import (
    KEY_ID_LABEL,
    KEY_ID_SIZE,
    KEY_SIZE,
    PUBLIC_KEY_HRP,
    SECRET_KEY_HRP,
    CustodianKey,
    CustodianPublicKey,
    SessionKey,
)
from crypto.escrow.pqkeys import (
    HYBRID_PUBLIC_KEY_HRP,
    HYBRID_SECRET_KEY_HRP,
    HybridCustodianKey,
    HybridCustodianPublicKey,
)
from crypto.escrow.release import (
    RELEASE_AD_PREFIX,
    RELEASE_LABEL,
    RELEASE_SIZE,
    SHARE_NONCE_SIZE,
    ReleaseOpener,
    ShareReleaser,
    combine_file_key,
    open_released_share,
    seal_share_to_session,
)
from crypto.escrow.shamir import Share, combine, split
from crypto.escrow.stanza import (
    ESCROW_LABEL,
    ESCROW_STANZA_TYPE,
    ESCROW_STANZA_TYPES,
    HYBRID_LABEL,
    HYBRID_STANZA_TYPE,
    MAX_CUSTODIANS,
    MIN_THRESHOLD,
    EscrowKey,
    EscrowRecipients,
    EscrowStanzaInfo,
    MalformedStanzaError,
    NoHybridKeyError,
    NotThisCustodianError,
    build_recipient_set,
    escrow_stanzas,
    open_escrow_stanza,
    parse_escrow_stanza,
)

__all__ = [
    "ESCROW_LABEL",
    "ESCROW_STANZA_TYPE",
    "ESCROW_STANZA_TYPES",
    "HYBRID_LABEL",
    "HYBRID_PUBLIC_KEY_HRP",
    "HYBRID_SECRET_KEY_HRP",
    "HYBRID_STANZA_TYPE",
    "KEY_ID_LABEL",
    "KEY_ID_SIZE",
    "KEY_SIZE",
    "MAX_CUSTODIANS",
    "MIN_THRESHOLD",
    "PUBLIC_KEY_HRP",
    "RELEASE_AD_PREFIX",
    "RELEASE_LABEL",
    "RELEASE_SIZE",
    "SECRET_KEY_HRP",
    "SHARE_NONCE_SIZE",
    "CustodianKey",
    "CustodianPublicKey",
    "EscrowKey",
    "EscrowRecipients",
    "EscrowStanzaInfo",
    "HybridCustodianKey",
    "HybridCustodianPublicKey",
    "MalformedStanzaError",
    "NoHybridKeyError",
    "NotThisCustodianError",
    "ReleaseOpener",
    "SessionKey",
    "Share",
    "ShareReleaser",
    "build_recipient_set",
    "combine",
    "combine_file_key",
    "escrow_stanzas",
    "open_escrow_stanza",
    "open_released_share",
    "parse_escrow_stanza",
    "seal_share_to_session",
    "split",
]
