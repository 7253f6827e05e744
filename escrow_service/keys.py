"""Moved to :mod:`escrow_service.core.keys` (re-exported for callers not yet updated)."""

from escrow_service.core.keys import *  # noqa: F403
from escrow_service.core.keys import CustodianKeys, load_or_create

__all__ = ["CustodianKeys", "load_or_create"]
