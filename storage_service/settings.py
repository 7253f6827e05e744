"""Moved to :mod:`storage_service.core.settings` (re-export until the imports are rewritten)."""

from storage_service.core.settings import *  # noqa: F403
from storage_service.core.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
