"""What the camera trusts: the customer-signed SiteKeys (pinned on first use, changed only
by a statement the pinned key signed, crypto.statements.verify_site_keys) and its own
customer-signed DeviceEnrollment (camera profile: pre-alarm seconds, live, stills only)."""

from __future__ import annotations

import logging
from pathlib import Path

from clients.api.storage import StorageApi
from clients.camera.queue import Journal
from crypto.canonical import canonical_json
from crypto.errors import CryptoError, StatementError
from crypto.statements import (
    CameraProfile,
    DeviceEnrollment,
    SignedStatement,
    SiteKeys,
    parse_signed,
    verify,
    verify_site_keys,
)

log = logging.getLogger("camvault.camera")

PIN_KEY = "site_keys"
PROFILE_KEY = "profile"


class TrustError(RuntimeError):
    """The camera has no verified SiteKeys or enrollment to work with."""


class SiteTrust:
    def __init__(self, journal: Journal, storage: StorageApi, pin_file: Path | None) -> None:
        self.journal = journal
        self.storage = storage
        self.site_keys: SiteKeys | None = None
        pinned = journal.get(PIN_KEY)
        if pinned is not None:
            self.site_keys = verify_site_keys(parse_signed(pinned), None)
        elif pin_file is not None:
            signed = parse_signed(pin_file.read_bytes().strip())
            self.site_keys = self._first_use(signed)
            journal.put(PIN_KEY, signed.encode())
        self.profile: CameraProfile | None = None
        cached = journal.get(PROFILE_KEY)
        if cached is not None and self.site_keys is not None:
            self.profile = self._check_enrollment(cached)

    def _first_use(self, signed: SignedStatement) -> SiteKeys:
        """Trust on first use, of this camera's site only: its id is bound to the key of its
        first SiteKeys (crypto.siteid), so neither the storage service nor a wrong pin file
        can make the camera encrypt to keys of another site."""
        keys = verify_site_keys(signed, None)
        if keys.site_id != self.journal.site_id:
            mine = self.journal.site_id
            raise StatementError(f"site keys are for site {keys.site_id!r}, not {mine!r}")
        return keys

    def refresh(self) -> bool:
        """Fetch SiteKeys and the enrollment; returns True if anything changed. Network
        errors and refusals propagate (the caller keeps what it has)."""
        changed = self.refresh_site_keys()
        j = self.journal
        enrollment = canonical_json(self.storage.device(j.site_id, j.camera_id)["enrollment"])
        if enrollment != self.journal.get(PROFILE_KEY):
            try:
                self.profile = self._check_enrollment(enrollment)
                self.journal.put(PROFILE_KEY, enrollment)
                changed = True
            except CryptoError as exc:
                log.warning("enrollment from the service refused: %s", exc)
        return changed

    def refresh_site_keys(self) -> bool:
        """Fetch SiteKeys; pin them only if the pinned customer key signed them with a
        strictly greater version (``verify_site_keys``): an old, rolled-back or foreign-signed
        SiteKeys is refused and the pinned set kept. True if the pinned set changed."""
        changed = False
        j = self.journal
        signed = parse_signed(canonical_json(self.storage.site(j.site_id)["site_keys"]))
        if self.site_keys is None:
            self.site_keys = self._first_use(signed)
            self.journal.put(PIN_KEY, signed.encode())
            changed = True
        elif signed.encode() != self.journal.get(PIN_KEY):
            try:
                self.site_keys = verify_site_keys(signed, self.site_keys)
                self.journal.put(PIN_KEY, signed.encode())
                changed = True
                log.info("site keys updated to version %d", self.site_keys.version)
            except CryptoError as exc:
                log.warning("site keys from the service refused, keeping pinned: %s", exc)
        return changed

    def _check_enrollment(self, data: bytes) -> CameraProfile:
        if self.site_keys is None:
            raise TrustError("no pinned site keys")
        e = verify(parse_signed(data), self.site_keys.customer_key, DeviceEnrollment)
        j = self.journal
        if (e.site_id, e.device_id) != (j.site_id, j.camera_id) or e.camera_profile is None:
            raise TrustError("the enrollment is for another device or not a camera")
        if e.device_key != j.key.public_key:
            raise TrustError("the enrollment names another device key")
        return e.camera_profile

    def require(self) -> tuple[SiteKeys, CameraProfile]:
        if self.site_keys is None or self.profile is None:
            raise TrustError("no verified site keys / enrollment yet")
        return self.site_keys, self.profile
