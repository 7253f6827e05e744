"""One custodian: its state and the services over it, wired once at start."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Engine

from escrow_service.core.keys import CustodianKeys
from escrow_service.core.settings import EscrowSettings
from escrow_service.services.custodian import Custodian
from escrow_service.services.ends import AlarmCloseIntake, DeletionIntake
from escrow_service.services.intake import Intake
from escrow_service.services.nonces import NonceStore
from escrow_service.services.notices import Notices
from escrow_service.services.opener import Opener
from escrow_service.services.release import Releases
from escrow_service.services.retention import RetentionIntake
from escrow_service.services.tlog_store import LogStore


class EscrowService(Custodian):
    """One custodian: its state (:class:`Custodian`) and the services over it."""

    def __init__(
        self,
        engine: Engine,
        keys: CustodianKeys,
        settings: EscrowSettings,
        log: LogStore,
        opener: Opener,
        clock: Callable[[], int],
    ) -> None:
        super().__init__(engine, keys, settings, log, clock)
        self.opener = opener
        self.nonces = NonceStore(self)
        self.notices = Notices(self)
        self.intake = Intake(self)
        self.alarm_closes = AlarmCloseIntake(self, self.nonces)
        self.deletions = DeletionIntake(self)
        self.retention = RetentionIntake(self)
        self.releases = Releases(self, opener, self.nonces, self.notices)
