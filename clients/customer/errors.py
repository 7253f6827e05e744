"""Errors of the customer and operator clients: every refusal keeps its reason code."""

from __future__ import annotations

from clients.api.errors import ClientError, ServiceRefused, check


class StateError(ClientError):
    """The local state directory is missing, incomplete or would be overwritten."""


__all__ = ["ClientError", "ServiceRefused", "StateError", "check"]
