"""camvault's age v1 implementation (C2SP age spec, https://age-encryption.org/v1).

Modules, each after one section of the spec: :mod:`~crypto.age.format` (header grammar and
MAC), :mod:`~crypto.age.stream` (STREAM payload), :mod:`~crypto.age.x25519` and
:mod:`~crypto.age.bech32` (X25519 recipients and their keys), :mod:`~crypto.age.scrypt`
(passphrase recipients), :mod:`~crypto.age.armor` (ASCII armor), and
:mod:`~crypto.age.api` (the public encrypt/decrypt API, re-exported here, so
``from crypto.age import encrypt`` is the usual import).
"""

from crypto.age.api import (
    AgeError,
    FileKey,
    Header,
    Identity,
    Recipient,
    ScryptIdentity,
    ScryptRecipient,
    Stanza,
    X25519Identity,
    X25519Recipient,
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
    parse_identity_file,
    parse_recipients_file,
    read_header,
    seal_header,
    unwrap_file_key,
    verify_header_mac,
)

__all__ = [
    "AgeError",
    "FileKey",
    "Header",
    "Identity",
    "Recipient",
    "ScryptIdentity",
    "ScryptRecipient",
    "Stanza",
    "X25519Identity",
    "X25519Recipient",
    "decrypt",
    "decrypt_header",
    "decrypt_payload",
    "encrypt",
    "encrypt_header",
    "encrypt_payload",
    "export",
    "format_identity_file",
    "generate_file_key",
    "generate_identity",
    "header_mac",
    "parse_header",
    "parse_identity_file",
    "parse_recipients_file",
    "read_header",
    "seal_header",
    "unwrap_file_key",
    "verify_header_mac",
]
