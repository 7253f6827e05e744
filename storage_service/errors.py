"""Moved: reason codes and ApiError to :mod:`storage_service.core.errors`, the HTTP handlers
to :mod:`storage_service.api.errors` (re-export until the imports are rewritten)."""

from storage_service.core.errors import *  # noqa: F403
from storage_service.core.errors import STATUS, ApiError, Reason

__all__ = ["STATUS", "ApiError", "Reason"]
