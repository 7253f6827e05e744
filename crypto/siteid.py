"""Self-certifying site ids: a site id ends with a tag derived from the customer's site key.

Why: custodians and the storage service pin a site's customer key on first enrollment (trust
on first use). With free-form ids anyone could enroll an id first, under a key of their own,
and lock the real customer out (``pin_mismatch``) — "site-id squatting". Binding the id to the
key it is first pinned with, like an onion address or an IPNS name, makes that impossible
without a second preimage of the tag: a squatter can only enroll ids bound to keys it holds.

Form: ``<label>-<tag>`` where ``label`` is any identifier the customer chooses (``home``,
``shop-2``) and ``tag`` is the 26-character lowercase RFC 4648 base32 (unpadded) of the first
16 bytes (128 bits) of ``SHA-256("camvault/v1/site-id" || LF || customer_key)``, the key being
its 32 raw RFC 8032 bytes. The whole id is a camvault identifier (crypto.metadata.check_id).

The binding holds for the key of the site's **first** SiteKeys; later key changes are signed by
the pinned key (crypto.statements.verify_site_keys), so the chain of custody starts at the key
the id names. Pure functions: no I/O.
"""

from __future__ import annotations

import base64
import hashlib

from crypto.ed25519 import Ed25519PublicKey
from crypto.errors import StatementError
from crypto.metadata import check_id

DOMAIN = b"camvault/v1/site-id\n"
TAG_BYTES = 16
TAG_LEN = 26  # base32 characters of TAG_BYTES, unpadded
SEPARATOR = "-"
#: Longest label: the whole id stays within the 128 characters of an identifier.
MAX_LABEL_LEN = 128 - TAG_LEN - len(SEPARATOR)
DEFAULT_LABEL = "site"


class SiteIdError(StatementError):
    """A site id that is not bound to the customer key it is enrolled with."""


def site_tag(customer_key: Ed25519PublicKey) -> str:
    """The tag that binds a site id to ``customer_key``."""
    digest = hashlib.sha256(DOMAIN + customer_key.raw).digest()[:TAG_BYTES]
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def site_id_for(customer_key: Ed25519PublicKey, label: str = DEFAULT_LABEL) -> str:
    """The site id ``<label>-<tag>`` bound to ``customer_key``; refuses a malformed label."""
    if not isinstance(label, str) or not 1 <= len(label) <= MAX_LABEL_LEN:
        raise SiteIdError(f"site label: must be 1-{MAX_LABEL_LEN} characters")
    return check_id(f"{label}{SEPARATOR}{site_tag(customer_key)}", "site label")


def is_bound(site_id: str, customer_key: Ed25519PublicKey) -> bool:
    """Whether ``site_id`` is ``<label>-<tag of customer_key>`` for some non-empty label."""
    suffix = SEPARATOR + site_tag(customer_key)
    return len(site_id) > len(suffix) and site_id.endswith(suffix)


def check_site_id(site_id: str, customer_key: Ed25519PublicKey) -> str:
    """``site_id`` if it is bound to ``customer_key``, else :class:`SiteIdError`."""
    if not isinstance(site_id, str) or not is_bound(site_id, customer_key):
        raise SiteIdError(
            f"site id {site_id!r} is not bound to customer key {customer_key.to_text()} "
            f"(a site id ends with '-{site_tag(customer_key)}' for this key)"
        )
    return site_id
