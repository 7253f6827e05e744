"""camvault's age v1 implementation (C2SP age spec, https://age-encryption.org/v1).

Modules, each after one section of the spec: :mod:`~crypto.age.format` (header grammar and
MAC), :mod:`~crypto.age.stream` (STREAM payload), :mod:`~crypto.age.x25519` and
:mod:`~crypto.age.bech32` (X25519 recipients and their keys), :mod:`~crypto.age.mlkem`
(mlkem768x25519 hybrid post-quantum recipients, age v1.3), :mod:`~crypto.age.scrypt`
(passphrase recipients), :mod:`~crypto.age.armor` (ASCII armor), and
:mod:`~crypto.age.api` (the public encrypt/decrypt API, re-exported here, so
``from crypto.age import encrypt`` is the usual import).
"""

from crypto.age import api
from crypto.age.api import *  # noqa: F403

__all__ = api.__all__
