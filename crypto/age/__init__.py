"""camvault's age v1 implementation (C2SP age spec, https://age-encryption.org/v1).

Modules, each after one section of the spec: :mod:`~crypto.age.format` (header grammar and
MAC), :mod:`~crypto.age.stream` (STREAM payload), :mod:`~crypto.age.x25519` and
:mod:`~crypto.age.bech32` (X25519 recipients and their keys), :mod:`~crypto.age.mlkem`
(mlkem768x25519 hybrid post-quantum recipients, age v1.3), :mod:`~crypto.age.scrypt`
(passphrase recipients), :mod:`~crypto.age.armor` (ASCII armor), and
:mod:`~crypto.age.api` (the public encrypt/decrypt API, re-exported here, so
``from crypto.age import encrypt`` is the usual import).
"""

from typing import TYPE_CHECKING, Any

from crypto.age import api
from crypto.age.api import (
    AgeError,
    FileKey,
    Header,
    Identity,
    Recipient,
    Stanza,
    X25519Identity,
    X25519Recipient,
    check_labels,
    decrypt,
    decrypt_header,
    decrypt_payload,
    encrypt,
    encrypt_header,
    encrypt_payload,
    export,
    format_identity_file,
    generate_file_key,
    generate_identity,
    header_mac,
    parse_header,
    parse_identity,
    parse_identity_file,
    parse_recipient,
    parse_recipients_file,
    read_header,
    seal_header,
    unwrap_file_key,
    verify_header_mac,
)

if TYPE_CHECKING:
    from crypto.age.api import (
        HybridIdentity,
        HybridRecipient,
        ScryptIdentity,
        ScryptRecipient,
        format_hybrid_identity_file,
        generate_hybrid_identity,
    )

__all__ = [  # the same list as api.__all__ (tests/crypto/test_age_lazy.py)
    "AgeError",
    "FileKey",
    "Header",
    "HybridIdentity",
    "HybridRecipient",
    "Identity",
    "Recipient",
    "ScryptIdentity",
    "ScryptRecipient",
    "Stanza",
    "X25519Identity",
    "X25519Recipient",
    "check_labels",
    "decrypt",
    "decrypt_header",
    "decrypt_payload",
    "encrypt",
    "encrypt_header",
    "encrypt_payload",
    "export",
    "format_hybrid_identity_file",
    "format_identity_file",
    "generate_file_key",
    "generate_hybrid_identity",
    "generate_identity",
    "header_mac",
    "parse_header",
    "parse_identity",
    "parse_identity_file",
    "parse_recipient",
    "parse_recipients_file",
    "read_header",
    "seal_header",
    "unwrap_file_key",
    "verify_header_mac",
]


def __getattr__(name: str) -> Any:
    """The hybrid and scrypt types, loaded on first use (api.py, ``_LAZY``)."""
    return getattr(api, name)
