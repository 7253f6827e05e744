"""The custodian's HTTP connection to a witness (escrow_service/services/witnessing.py
WitnessConnection), against a real HTTP server: a kept-alive connection the server closed is
replaced once, and every failure is a WitnessError (logged by the cosigner as the witness
being unreachable), never another exception out of a cosigning round."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from escrow_service.services.witnessing import MAX_ANSWER_BYTES, WitnessConnection, WitnessError


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, bytes]] = []  # noqa: RUF012 - the test's record, one server per test

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append((self.path, body))
        answer = b"x" * (MAX_ANSWER_BYTES + 10) if body == b"huge" else b"cosigned " + body
        self.send_response(409 if body == b"conflict" else 200)
        self.send_header(
            "Content-Type", "text/x.tlog.size" if body == b"conflict" else "text/plain"
        )
        self.send_header("Content-Length", str(len(answer)))
        if body == b"then close":
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    _Handler.seen = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _url(srv: ThreadingHTTPServer, prefix: str = "") -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{prefix}"


def test_posts_to_add_checkpoint_under_the_url_path_and_keeps_the_connection(
    server: ThreadingHTTPServer,
) -> None:
    conn = WitnessConnection(_url(server, "/w1/"), timeout_s=5)
    assert conn.post(b"one") == (200, "text/plain", b"cosigned one")
    assert conn.post(b"conflict")[:2] == (409, "text/x.tlog.size")
    assert [p for p, _ in _Handler.seen] == ["/w1/add-checkpoint"] * 2
    conn.close()


def test_a_connection_the_witness_closed_is_replaced_once(server: ThreadingHTTPServer) -> None:
    conn = WitnessConnection(_url(server), timeout_s=5)
    # The witness says it closes: the next request opens a new connection.
    assert conn.post(b"then close")[0] == 200
    assert conn.post(b"after")[2] == b"cosigned after"
    # The witness drops an idle kept-alive connection without saying so (its keep-alive
    # timeout): the request on the stale connection fails and is sent again on a new one.
    assert conn._conn is not None and conn._conn.sock is not None
    conn._conn.sock.shutdown(socket.SHUT_RDWR)
    assert conn.post(b"again")[2] == b"cosigned again"
    conn.close()


def test_failures_are_witness_errors(server: ThreadingHTTPServer) -> None:
    conn = WitnessConnection(_url(server), timeout_s=5)
    with pytest.raises(WitnessError, match="answer over"):
        conn.post(b"huge")
    assert conn.post(b"fine")[0] == 200  # the bad answer's connection was dropped
    conn.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    with pytest.raises(WitnessError):
        WitnessConnection(f"http://127.0.0.1:{port}", timeout_s=2).post(b"x")
    # HTTPS to a server that speaks plain HTTP: the TLS handshake fails.
    with pytest.raises(WitnessError):
        WitnessConnection(_url(server).replace("http:", "https:"), timeout_s=2).post(b"x")
    with pytest.raises(ValueError, match="http"):
        WitnessConnection("ftp://witness", timeout_s=2)


def test_https_trusts_what_every_camvault_client_trusts(
    server: ThreadingHTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A witness behind TLS with its own CA (the deployment's self-signed certificate): not
    trusted by default, trusted once SSL_CERT_FILE names it, as for the other clients
    (common.http.tls_context)."""
    pem = tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            pem,
            "-out",
            pem,
        ],
        check=True,
        capture_output=True,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    url = _url(server).replace("http:", "https:")
    with pytest.raises(WitnessError, match="CERTIFICATE_VERIFY_FAILED"):
        WitnessConnection(url, timeout_s=5).post(b"x")
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    conn = WitnessConnection(url, timeout_s=5)
    assert conn.post(b"tls") == (200, "text/plain", b"cosigned tls")
    conn.close()
