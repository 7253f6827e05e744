"""Exception hierarchy of crypto/.

Every failure raised by this package derives from :class:`CryptoError`, so callers can catch
one type at a boundary (an HTTP handler, a CLI command) and map it to a clear message.
Subclasses name the failure class, never the secret involved.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of every error raised by crypto/."""


# --- age format -------------------------------------------------------------------------


class AgeError(CryptoError):
    """Base class of errors about age files."""


class HeaderError(AgeError):
    """The age header does not follow the grammar of the spec, or its MAC is wrong."""


class IncorrectIdentityError(AgeError):
    """A stanza is not addressed to this identity: try the next stanza or identity.

    Any other error raised while unwrapping a stanza is fatal (see the age spec's
    "Header" section and FiloSottile/age's ErrIncorrectIdentity).
    """


class NoIdentityMatchError(AgeError):
    """None of the given identities could unwrap any stanza of the header."""


class PayloadError(AgeError):
    """The STREAM payload failed: truncated, trailing data, bad chunk tag, bad nonce."""


class ArmorError(AgeError):
    """The ASCII armor (PEM-like encoding) is malformed."""


class KeyFormatError(CryptoError):
    """A key string (age recipient/identity, Ed25519 key) is malformed."""


# --- escrow and secret sharing ----------------------------------------------------------


class ShareError(CryptoError):
    """Shamir shares are malformed, duplicated, too few, or inconsistent."""


class EscrowError(CryptoError):
    """An escrow stanza could not be opened, or its metadata does not match."""


# --- signed statements ------------------------------------------------------------------


class StatementError(CryptoError):
    """A signed statement is malformed (unknown field, wrong type, wrong domain, length)."""


class SignatureError(StatementError):
    """A signature does not verify under the expected key."""


# --- transparency log -------------------------------------------------------------------


class LogProofError(CryptoError):
    """An inclusion or consistency proof, or a checkpoint, does not verify."""
