"""What the CLI says when a service cannot be reached: which address, which request, why."""

from __future__ import annotations

import socket

import httpx
import pytest

from clients.cli.helpers import network_error


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends


def test_a_refused_connection_names_the_address_and_the_request() -> None:
    port = closed_port()
    with pytest.raises(httpx.ConnectError) as err:
        httpx.get(f"http://127.0.0.1:{port}/v1/sites/s1/recordings?limit=5")
    message = network_error(err.value)
    assert message.startswith(f"cannot reach http://127.0.0.1:{port} (/v1/sites/s1/recordings): ")
    assert "Connection refused" in message and "limit=5" not in message


def test_a_silent_service_is_a_timeout() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(httpx.ReadTimeout) as err:
            httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5)
    assert network_error(err.value) == (
        f"cannot reach http://127.0.0.1:{port} (/readyz): no answer in time (ReadTimeout)"
    )
