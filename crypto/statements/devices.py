"""A device's signing keys over its lifecycle: the key of its latest DeviceEnrollment, and
the keys the customer revoked (DeviceRevocation), each from its ``revoked_from_ms``.

A statement a revoked key signed before that time stands (the key was the device's then); one
signed at or after it is refused with the reason ``device_revoked``. Used by every check of
what a device signed (:func:`crypto.statements.verify_chain`,
:func:`crypto.recording.verify_recording`). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from crypto.ed25519 import Ed25519PublicKey
from crypto.statements.envelope import SignedStatement


@dataclass(frozen=True, slots=True)
class DeviceKeys:
    """``current``: the key of the device's latest enrollment; ``revoked``: each revoked key
    of the device and the time (ms) from which it is revoked (the current key may be one)."""

    current: Ed25519PublicKey
    revoked: Mapping[Ed25519PublicKey, int] = field(default_factory=dict)

    @classmethod
    def of(cls, keys: Ed25519PublicKey | DeviceKeys) -> DeviceKeys:
        return keys if isinstance(keys, DeviceKeys) else cls(keys)

    def key_for(self, signed: SignedStatement) -> Ed25519PublicKey:
        """The key ``signed`` must verify under: its signer when that is a revoked key of the
        device (a rotated-out key was the device's until its revocation), else the current."""
        return signed.signer if signed.signer in self.revoked else self.current

    def revoked_at(self, key: Ed25519PublicKey, signed_at_ms: int) -> int | None:
        """The ``revoked_from_ms`` of ``key`` when it was revoked at ``signed_at_ms``."""
        start = self.revoked.get(key)
        return start if start is not None and signed_at_ms >= start else None
