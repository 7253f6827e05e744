"""The signed envelope of a statement: signing, strict parsing, verification."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crypto.canonical import canonical_json, parse_canonical_json
from crypto.ed25519 import (
    SIGNATURE_SIZE,
    Ed25519PublicKey,
    Ed25519SigningKey,
    decode_key_text,
)
from crypto.encoding import b64url_encode
from crypto.errors import KeyFormatError, SignatureError, StatementError
from crypto.siteid import check_site_id
from crypto.statements.bodies import STATEMENT_TYPES, S, SiteKeys, Statement
from crypto.statements.fields import check_pubkey, pubkey_from_text, require_members

#: Largest accepted encoded signed statement (a site-keys statement with the maximum numbers of
#: custodians and recipients is about 9 KiB).
MAX_STATEMENT_SIZE = 64 * 1024

# --- envelope ---------------------------------------------------------------------------------

_ENVELOPE_FIELDS = ("body", "sig", "signer", "type")


def _signed_message(domain: str, signer: Ed25519PublicKey, body: Mapping[str, Any]) -> bytes:
    """The bytes an Ed25519 signature covers: domain || "\\n" || canonical(envelope - sig)."""
    unsigned = {"body": body, "signer": signer.to_text(), "type": domain}
    return domain.encode("ascii") + b"\n" + canonical_json(unsigned)


@dataclass(frozen=True, slots=True)
class SignedStatement:
    """A statement with its signer and signature, as carried on the wire.

    ``unverified_statement`` has been parsed strictly but its signature has NOT been checked:
    use :meth:`verify` (or :func:`verify`) to get a statement you can act on.
    """

    unverified_statement: Statement
    signer: Ed25519PublicKey
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.unverified_statement, Statement):
            raise StatementError("signed statement: not a Statement")
        check_pubkey(self.signer, "signed statement: signer")
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_SIZE:
            raise StatementError(f"signed statement: signature must be {SIGNATURE_SIZE} bytes")

    @property
    def statement_type(self) -> str:
        return self.unverified_statement.TYPE

    def to_json(self) -> dict[str, Any]:
        return {
            "body": self.unverified_statement.to_json(),
            "sig": b64url_encode(self.signature),
            "signer": self.signer.to_text(),
            "type": self.statement_type,
        }

    def encode(self) -> bytes:
        """The wire form: RFC 8785 canonical JSON of the envelope."""
        return canonical_json(self.to_json())

    def statement_hash(self) -> bytes:
        """SHA-256 of :meth:`encode` (identifies this signed statement, e.g. in logs)."""
        return hashlib.sha256(self.encode()).digest()

    def signed_message(self) -> bytes:
        """The exact bytes the signature covers (see :func:`_signed_message`)."""
        return _signed_message(
            self.statement_type, self.signer, self.unverified_statement.to_json()
        )

    def verify(self, expected_key: Ed25519PublicKey | None, expected_type: type[S]) -> S:
        return verify(self, expected_key, expected_type)


def sign_statement(statement: Statement, signing_key: Ed25519SigningKey) -> SignedStatement:
    """Sign ``statement`` with ``signing_key`` (deterministic: same input, same bytes)."""
    if not isinstance(statement, Statement) or type(statement).TYPE not in STATEMENT_TYPES:
        raise StatementError("sign_statement: not a camvault statement")
    signer = signing_key.public_key
    message = _signed_message(statement.TYPE, signer, statement.to_json())
    return SignedStatement(statement, signer, signing_key.sign(message))


def parse_signed(data: bytes) -> SignedStatement:
    """Parse the wire form of a signed statement, strictly. Does NOT verify the signature.

    Refused (each with a :class:`StatementError` naming the problem): oversized input, bytes
    that are not the RFC 8785 canonical encoding of their value, floats, unknown or missing
    envelope or body fields, unknown types, wrong JSON types (including booleans for integers),
    out-of-range values, malformed keys and signatures of the wrong length.
    """
    if not isinstance(data, bytes):
        raise StatementError("signed statement: must be bytes")
    if len(data) > MAX_STATEMENT_SIZE:
        raise StatementError(f"signed statement: larger than {MAX_STATEMENT_SIZE} bytes")
    obj = parse_canonical_json(data)
    env = require_members(obj, "signed statement", _ENVELOPE_FIELDS)
    domain = env["type"]
    if not isinstance(domain, str) or domain not in STATEMENT_TYPES:
        raise StatementError(
            f"signed statement: unknown type {domain!r} (expected one of {sorted(STATEMENT_TYPES)})"
        )
    signer = pubkey_from_text(env["signer"], "signed statement: signer")
    sig_text = env["sig"]
    if not isinstance(sig_text, str):
        raise StatementError("signed statement: sig must be a base64url string")
    try:
        sig = decode_key_text(sig_text, "signed statement: sig")
    except KeyFormatError as exc:
        raise StatementError(str(exc)) from exc
    if len(sig) != SIGNATURE_SIZE:
        raise StatementError(
            f"signed statement: sig must encode {SIGNATURE_SIZE} bytes, got {len(sig)}"
        )
    statement = STATEMENT_TYPES[domain].from_json(env["body"])
    signed = SignedStatement(statement, signer, sig)
    if signed.encode() != data:
        # Cannot happen if every from_json is the exact inverse of to_json; refuse rather than
        # let the bytes we verify differ from the bytes we were given.
        raise StatementError("signed statement: body does not round-trip")
    return signed


def verify(
    signed: SignedStatement, expected_key: Ed25519PublicKey | None, expected_type: type[S]
) -> S:
    """Check type and signature, and return the typed statement.

    ``expected_key`` is the key the caller's trust rules require (a pinned site key, an
    enrolled device key, ...). ``None`` accepts the signer named in the envelope: the caller
    must then decide whether that signer is trusted (only for self-signed first enrollment).
    Raises :class:`StatementError` for the wrong type, :class:`SignatureError` for the wrong
    signer or a signature that does not verify.
    """
    if not isinstance(signed, SignedStatement):
        raise StatementError("verify: not a SignedStatement")
    if getattr(expected_type, "TYPE", None) not in STATEMENT_TYPES:
        raise StatementError("verify: expected_type is not a statement type")
    statement = signed.unverified_statement
    if not isinstance(statement, expected_type) or signed.statement_type != expected_type.TYPE:
        raise StatementError(
            f"statement type is {signed.statement_type}, expected {expected_type.TYPE}"
        )
    key = signed.signer if expected_key is None else expected_key
    if signed.signer != key:
        raise SignatureError(
            f"statement signed by {signed.signer.to_text()}, expected {key.to_text()}"
        )
    key.verify(signed.signed_message(), signed.signature)
    return statement


def verify_site_keys(signed: SignedStatement, pinned: SiteKeys | None) -> SiteKeys:
    """Trust-on-first-use rule for site keys (DESIGN "Trust roots").

    With nothing pinned, the statement must be self-signed by its own ``customer_key`` and its
    site id must be bound to that key (:mod:`crypto.siteid`; else
    :class:`~crypto.siteid.SiteIdError`): nobody can pin an id bound to a key it does not
    hold, so a site id cannot be squatted. With a pinned version, it must be for the same
    site, have a strictly greater version, and be signed by the pinned ``customer_key``
    (which authorises any new customer key).
    """
    if pinned is None:
        claimed = signed.unverified_statement
        if not isinstance(claimed, SiteKeys):
            raise StatementError(
                f"statement type is {signed.statement_type}, expected {SiteKeys.TYPE}"
            )
        site = verify(signed, claimed.customer_key, SiteKeys)
        check_site_id(site.site_id, site.customer_key)
        return site
    site = verify(signed, pinned.customer_key, SiteKeys)
    if site.site_id != pinned.site_id:
        raise StatementError(f"site-keys: for site {site.site_id!r}, pinned {pinned.site_id!r}")
    if site.version <= pinned.version:
        raise StatementError(
            f"site-keys: version {site.version} is not newer than pinned version {pinned.version}"
        )
    return site
