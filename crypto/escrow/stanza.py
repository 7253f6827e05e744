"""Escrow stanzas: the t-of-n split of a file key into ``camvault-escrow`` stanzas (writer
side) and the opening of one stanza by its custodian.

Stanza (one line of the header, then the base64 body as for every stanza)::

    -> camvault-escrow <key id> <index i> <threshold t> <count n> <base64(ephemeral pk)>
    body = ChaCha20-Poly1305(wrap key, 12 zero bytes, share_i.to_bytes(), AD)
    wrap key = HKDF-SHA-256(ikm = X25519(e, custodian_pk), salt = e_pk || custodian_pk,
                            info = "camvault.io/v1/escrow")
    AD = metadata.associated_data() || "\\n" || "-> camvault-escrow" || (" " || arg)*

Hybrid (post-quantum) stanza, for a custodian that publishes an ML-KEM-768 + X25519 key
(:mod:`crypto.escrow.pqkeys`): the same arguments, the KEM's ``enc`` (1120 bytes) in place of
the ephemeral pk, and HPKE (RFC 9180 base mode, age's mlkem768x25519 suite) for the wrap::

    -> camvault-escrow-mlkem768x25519 <key id> <index i> <threshold t> <count n> <base64(enc)>
    enc || body = HPKE.SealBase(custodian_pq_pk, info, aad = "", share_i.to_bytes())
    info = "camvault.io/v1/escrow-mlkem768x25519" || "\\n" || metadata AD || "\\n"
           || "-> camvault-escrow-mlkem768x25519" || (" " || arg)* for the first four args

pyca/cryptography's one-shot HPKE takes no AAD (age uses none): the AD rides in ``info``,
which RFC 9180 section 5.1 hashes into the key schedule, so other metadata gives another key
and a failed tag. ``enc`` is bound by the KEM itself (its X25519 half is hashed into the
shared secret; ML-KEM rejects a changed ciphertext implicitly).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import nacl.bindings

from crypto.age import Recipient
from crypto.age.format import FILE_KEY_SIZE, FileKey, Stanza
from crypto.age.mlkem import ENC_SIZE, MLKEM_CIPHERTEXT_SIZE
from crypto.age.x25519 import check_public_key
from crypto.encoding import b64decode, b64encode
from crypto.errors import EscrowError, IncorrectIdentityError, KeyFormatError, ShareError
from crypto.escrow.keys import (
    KEY_ID_SIZE,
    KEY_SIZE,
    CustodianKey,
    CustodianPublicKey,
    check_secret_key,
)
from crypto.escrow.pqkeys import HybridCustodianKey, HybridCustodianPublicKey
from crypto.escrow.shamir import Share, _split_from_coefficients
from crypto.escrow.wrap import TAG_SIZE, seal, unseal
from crypto.metadata import RecordingMetadata

#: Stanza type of escrow stanzas in the age header.
ESCROW_STANZA_TYPE = "camvault-escrow"
#: HKDF info of the key that wraps a share to a custodian.
ESCROW_LABEL = b"camvault.io/v1/escrow"
#: Stanza type of hybrid (ML-KEM-768 + X25519) escrow stanzas, and the prefix of its HPKE info.
HYBRID_STANZA_TYPE = "camvault-escrow-mlkem768x25519"
HYBRID_LABEL = b"camvault.io/v1/escrow-mlkem768x25519"
#: Both escrow stanza types, and the size of each one's last argument (ephemeral pk / enc).
ESCROW_STANZA_TYPES = (ESCROW_STANZA_TYPE, HYBRID_STANZA_TYPE)
_EPHEMERAL_SIZE = {ESCROW_STANZA_TYPE: KEY_SIZE, HYBRID_STANZA_TYPE: ENC_SIZE}
#: A custodian's escrow key as a writer sees it: X25519, or hybrid when it publishes one.
EscrowKey = CustodianPublicKey | HybridCustodianPublicKey
#: Bounds on the custodian set: at least two custodians must cooperate, at most 16 exist.
MIN_THRESHOLD = 2
MAX_CUSTODIANS = 16

SHARE_SIZE = 3 + FILE_KEY_SIZE  # Share.to_bytes(): version || threshold || x || y
BODY_SIZE = SHARE_SIZE + TAG_SIZE
_SMALL_INT_RE = re.compile(r"^[1-9][0-9]?$")


def _argument(text: str, size: int, what: str) -> bytes:
    """A base64 argument of ``size`` bytes; refusals are EscrowErrors in the escrow wording."""
    what = f"malformed escrow stanza: {what}"
    try:
        data = b64decode(text)
    except ValueError as exc:
        raise EscrowError(f"{what}: not canonical unpadded base64 ({exc})") from exc
    if len(data) != size:
        raise EscrowError(f"{what}: must encode {size} bytes")
    return data


# --- stanza layout ----------------------------------------------------------------------------


class NotThisCustodianError(EscrowError, IncorrectIdentityError):
    """The stanza is not an escrow stanza for this custodian key: try the next stanza."""


class NoHybridKeyError(NotThisCustodianError):
    """A hybrid stanza reached a custodian key that has no hybrid (ML-KEM) half."""


class MalformedStanzaError(EscrowError):
    """A stanza that no key can open, found while opening it (a low-order X25519 half)."""


@dataclass(frozen=True, slots=True)
class EscrowStanzaInfo:
    """The public arguments of an escrow stanza, parsed and checked. For a hybrid stanza
    ``ephemeral_public_key`` is the HPKE ``enc`` (ML-KEM ciphertext || X25519 share)."""

    key_id: str
    index: int
    threshold: int
    count: int
    ephemeral_public_key: bytes
    stanza_type: str = ESCROW_STANZA_TYPE

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

    Both types (``camvault-escrow`` and ``camvault-escrow-mlkem768x25519``) are parsed.
    Raises :class:`NotThisCustodianError` for a stanza of another type and
    :class:`EscrowError` for a malformed escrow stanza.
    """
    if not isinstance(stanza, Stanza) or stanza.type not in ESCROW_STANZA_TYPES:
        raise NotThisCustodianError(f"not a {ESCROW_STANZA_TYPE} stanza")
    if len(stanza.args) != 5:
        raise EscrowError(f"malformed escrow stanza: expected 5 arguments, got {len(stanza.args)}")
    key_id, index_s, threshold_s, count_s, ephemeral_s = stanza.args
    _argument(key_id, KEY_ID_SIZE, "key id")
    index = _parse_small_int(index_s, "index")
    threshold = _parse_small_int(threshold_s, "threshold")
    count = _parse_small_int(count_s, "count")
    _check_set_size(threshold, count)
    if not 1 <= index <= count:
        raise EscrowError("malformed escrow stanza: index must be between 1 and count")
    hybrid = stanza.type == HYBRID_STANZA_TYPE
    ephemeral = _argument(
        ephemeral_s, _EPHEMERAL_SIZE[stanza.type], "enc" if hybrid else "ephemeral key"
    )
    if len(stanza.body) != BODY_SIZE:
        raise EscrowError(f"malformed escrow stanza: body must be {BODY_SIZE} bytes")
    return EscrowStanzaInfo(key_id, index, threshold, count, ephemeral, stanza.type)


def stanza_ad(
    metadata: RecordingMetadata, args: Sequence[str], stanza_type: str = ESCROW_STANZA_TYPE
) -> bytes:
    """AD of an escrow stanza: metadata AD || LF || the stanza's header line without its LF.

    The metadata AD ends with canonical JSON, which never contains a raw LF, so the split
    point is unambiguous; the stanza line binds key id, index, threshold, count, ephemeral pk.
    """
    line = " ".join(("->", stanza_type, *args))
    return metadata.associated_data() + b"\n" + line.encode("ascii")


def hybrid_info(metadata: RecordingMetadata, args: Sequence[str]) -> bytes:
    """HPKE info of a hybrid stanza: label || LF || :func:`stanza_ad` of its first four
    arguments (key id, index, threshold, count; ``enc`` is bound by the KEM)."""
    return HYBRID_LABEL + b"\n" + stanza_ad(metadata, args[:4], HYBRID_STANZA_TYPE)


# --- writer side ------------------------------------------------------------------------------


class EscrowRecipients:
    """age Recipient that splits the file key t-of-n and seals share i to custodian i.

    Custodian order is significant: the i-th key (1-based) receives the share with
    x-coordinate i. A :class:`HybridCustodianPublicKey` gets a hybrid stanza, a
    :class:`CustodianPublicKey` an X25519 one (a set may mix them).
    """

    def __init__(
        self,
        custodians: Sequence[EscrowKey],
        threshold: int,
        metadata: RecordingMetadata,
    ) -> None:
        custodians = tuple(custodians)
        if not all(
            isinstance(c, CustodianPublicKey | HybridCustodianPublicKey) for c in custodians
        ):
            raise EscrowError("custodians must be CustodianPublicKey or HybridCustodianPublicKey")
        _check_set_size(threshold, len(custodians))
        if len(set(custodians)) != len(custodians):
            raise EscrowError("a custodian key appears twice: it would hold two shares")
        if not isinstance(metadata, RecordingMetadata):
            raise EscrowError("metadata must be a RecordingMetadata")
        self._custodians = custodians
        self._threshold = threshold
        self._metadata = metadata

    @property
    def custodians(self) -> tuple[EscrowKey, ...]:
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
        """Deterministic :meth:`wrap`: explicit Shamir coefficients and ephemeral secrets.

        A hybrid custodian's ephemeral secret is unused: HPKE draws its own randomness.
        """
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
            check_secret_key(ephemeral, "ephemeral key")
            if isinstance(custodian, HybridCustodianPublicKey):
                stanzas.append(self._hybrid_stanza(custodian, share, count))
                continue
            info = EscrowStanzaInfo(
                key_id=custodian.key_id(),
                index=share.x,
                threshold=self._threshold,
                count=count,
                ephemeral_public_key=nacl.bindings.crypto_scalarmult_base(ephemeral),
            )
            args = info.args()
            body = seal(
                ESCROW_LABEL,
                custodian.data,
                ephemeral,
                info.ephemeral_public_key,
                share.to_bytes(),
                stanza_ad(self._metadata, args),
            )
            stanzas.append(Stanza(type=ESCROW_STANZA_TYPE, args=args, body=body))
        return stanzas

    def _hybrid_stanza(
        self, custodian: HybridCustodianPublicKey, share: Share, count: int
    ) -> Stanza:
        head = (custodian.key_id(), str(share.x), str(self._threshold), str(count))
        enc, body = custodian.seal(share.to_bytes(), hybrid_info(self._metadata, head))
        return Stanza(type=HYBRID_STANZA_TYPE, args=(*head, b64encode(enc)), body=body)


def build_recipient_set(
    customer_recipients: Iterable[Recipient],
    custodian_keys: Sequence[EscrowKey],
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
    """The escrow stanzas (both types) of a header, in header order."""
    return [s for s in stanzas if s.type in ESCROW_STANZA_TYPES]


# --- custodian side ---------------------------------------------------------------------------


def open_escrow_stanza(
    stanza: Stanza,
    custodian_key: CustodianKey | HybridCustodianKey,
    metadata: RecordingMetadata,
) -> Share:
    """Open the share that ``stanza`` holds for ``custodian_key``, for the claimed metadata.

    Raises :class:`NotThisCustodianError` if the stanza is not an escrow stanza addressed to
    this key (by key id and type; :class:`NoHybridKeyError` for a hybrid stanza and an X25519
    key), and :class:`EscrowError` if it is malformed or does not open: the metadata differs
    from the one it was sealed with, or the stanza was altered.
    """
    if not isinstance(custodian_key, CustodianKey | HybridCustodianKey):
        raise EscrowError("custodian_key must be a CustodianKey or a HybridCustodianKey")
    if not isinstance(metadata, RecordingMetadata):
        raise EscrowError("metadata must be a RecordingMetadata")
    info = parse_escrow_stanza(stanza)
    if info.stanza_type == HYBRID_STANZA_TYPE:
        if not isinstance(custodian_key, HybridCustodianKey):
            raise NoHybridKeyError("hybrid escrow stanza, but this key has no ML-KEM-768 half")
        return open_hybrid(stanza, info, custodian_key, metadata)
    if not isinstance(custodian_key, CustodianKey):
        raise NotThisCustodianError("X25519 escrow stanza, but this is a hybrid key")
    if info.key_id != custodian_key.key_id():
        raise NotThisCustodianError("escrow stanza is addressed to another custodian key")
    plaintext = unseal(
        ESCROW_LABEL,
        custodian_key.secret_bytes(),
        custodian_key.public_key().data,
        info.ephemeral_public_key,
        stanza.body,
        stanza_ad(metadata, stanza.args),
        "escrow stanza",
    )
    return stanza_share(plaintext, info)


def open_hybrid(
    stanza: Stanza, info: EscrowStanzaInfo, key: HybridCustodianKey, metadata: RecordingMetadata
) -> Share:
    """Open a parsed hybrid stanza with ``key`` (HPKE OpenBase, see the module docstring)."""
    if info.key_id != key.key_id():
        raise NotThisCustodianError("escrow stanza is addressed to another custodian key")
    plaintext = key.open(info.ephemeral_public_key, stanza.body, hybrid_info(metadata, stanza.args))
    if plaintext is None:
        # Only on the refusal path (it costs a scalar multiplication): a low-order X25519
        # share, which age refuses in an mlkem768x25519 stanza, is a malformed stanza.
        try:
            check_public_key(info.ephemeral_public_key[MLKEM_CIPHERTEXT_SIZE:], "X25519 half")
        except KeyFormatError as exc:
            raise MalformedStanzaError(f"malformed escrow stanza: enc: {exc}") from exc
        raise EscrowError(
            "escrow stanza does not open: the key, the recording metadata or the sealed "
            "bytes (ML-KEM or X25519 half of enc, or body) differ from those it was sealed with"
        )
    return stanza_share(plaintext, info)


def stanza_share(plaintext: bytes, info: EscrowStanzaInfo) -> Share:
    """The share an opened stanza holds; it must agree with the stanza's index and threshold."""
    try:
        share = Share.from_bytes(plaintext)
    except ShareError as exc:
        raise EscrowError(f"escrow stanza holds a malformed share: {exc}") from exc
    if share.x != info.index or share.threshold != info.threshold or len(share.y) != FILE_KEY_SIZE:
        raise EscrowError("escrow share disagrees with its stanza's index or threshold")
    return share
