"""Moved to :mod:`escrow_service.core.settings` (re-exported for callers not yet updated)."""

from escrow_service.core.settings import *  # noqa: F403
from escrow_service.core.settings import EscrowSettings

__all__ = ["EscrowSettings"]
