"""Escrow stanzas: the t-of-n split of a file key into ``camvault-escrow`` stanzas (writer
side) and the opening of one stanza by its custodian.

Stanza (one line of the header, then the base64 body as for every stanza)::

    -> camvault-escrow <key id> <index i> <threshold t> <count n> <base64(ephemeral pk)>
    body = ChaCha20-Poly1305(wrap key, 12 zero bytes, share_i.to_bytes(), AD)
    wrap key = HKDF-SHA-256(ikm = X25519(e, custodian_pk), salt = e_pk || custodian_pk,
                            info = "camvault.io/v1/escrow")
    AD = metadata.associated_data() || "\\n" || "-> camvault-escrow" || (" " || arg)*
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import nacl.bindings

from crypto.age import Recipient
from crypto.age.format import FILE_KEY_SIZE, FileKey, Stanza
from crypto.encoding import b64decode, b64encode
from crypto.errors import EscrowError, IncorrectIdentityError, ShareError
from crypto.escrow.keys import (
    KEY_ID_SIZE,
    KEY_SIZE,
    CustodianKey,
    CustodianPublicKey,
    check_secret_key,
)
from crypto.escrow.shamir import Share, _split_from_coefficients
from crypto.escrow.wrap import TAG_SIZE, seal, unseal
from crypto.metadata import RecordingMetadata

#: Stanza type of escrow stanzas in the age header.
ESCROW_STANZA_TYPE = "camvault-escrow"
#: HKDF info of the key that wraps a share to a custodian.
ESCROW_LABEL = b"camvault.io/v1/escrow"
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
    _argument(key_id, KEY_ID_SIZE, "key id")
    index = _parse_small_int(index_s, "index")
    threshold = _parse_small_int(threshold_s, "threshold")
    count = _parse_small_int(count_s, "count")
    _check_set_size(threshold, count)
    if not 1 <= index <= count:
        raise EscrowError("malformed escrow stanza: index must be between 1 and count")
    ephemeral = _argument(ephemeral_s, KEY_SIZE, "ephemeral key")
    if len(stanza.body) != BODY_SIZE:
        raise EscrowError(f"malformed escrow stanza: body must be {BODY_SIZE} bytes")
    return EscrowStanzaInfo(key_id, index, threshold, count, ephemeral)


def stanza_ad(metadata: RecordingMetadata, args: Sequence[str]) -> bytes:
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
            check_secret_key(ephemeral, "ephemeral key")
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


def stanza_share(plaintext: bytes, info: EscrowStanzaInfo) -> Share:
    """The share an opened stanza holds; it must agree with the stanza's index and threshold."""
    try:
        share = Share.from_bytes(plaintext)
    except ShareError as exc:
        raise EscrowError(f"escrow stanza holds a malformed share: {exc}") from exc
    if share.x != info.index or share.threshold != info.threshold or len(share.y) != FILE_KEY_SIZE:
        raise EscrowError("escrow share disagrees with its stanza's index or threshold")
    return share
