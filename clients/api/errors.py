"""The errors of the service clients: every refusal keeps the service's reason code."""

from __future__ import annotations

from typing import Any

import httpx

from common.bodies import loads


class ClientError(Exception):
    """Base of the client errors (the CLI prints them and exits 1)."""


class ServiceRefused(ClientError):  # noqa: N818 (named after what happened)
    """A service answered with an error; ``code`` is its machine-readable reason."""

    def __init__(self, service: str, status: int, code: str, message: str) -> None:
        super().__init__(f"{service} refused ({status} {code}): {message}")
        self.service = service
        self.status = status
        self.code = code
        self.message = message


def check(resp: httpx.Response, service: str, ok: tuple[int, ...] = (200, 201)) -> Any:
    """The JSON body of a successful answer, else :class:`ServiceRefused` with its code."""
    if resp.status_code in ok:
        if not resp.content:
            return None
        try:
            return loads(resp.content)
        except ValueError:
            return None
    code, message = "http_error", resp.text[:200]
    try:
        err = loads(resp.content).get("error", {})
        code, message = str(err.get("code", code)), str(err.get("message", message))
    except (ValueError, AttributeError):
        pass
    raise ServiceRefused(service, resp.status_code, code, message)
