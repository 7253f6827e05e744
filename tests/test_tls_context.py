"""common.http.tls_context: one TLS context per process, but per value of SSL_CERT_FILE /
SSL_CERT_DIR. Cached once for the whole process, a context built before a program (or a test
trusting its own proxy, tests/support/cluster.py) set SSL_CERT_FILE kept refusing that
certificate: CERTIFICATE_VERIFY_FAILED, seen in CI when another test had built it first."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from common.http import tls_context


def self_signed_ca(path: Path, name: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def trusted_names(ctx: object) -> set[str]:
    certs = ctx.get_ca_certs()  # type: ignore[attr-defined]
    return {v for c in certs for rdn in c.get("subject", ()) for k, v in rdn if k == "commonName"}


def test_a_changed_ssl_cert_file_is_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    before = tls_context()
    assert tls_context() is before  # shared while the settings stay the same
    assert "camvault test proxy CA" not in trusted_names(before)

    ca = tmp_path / "proxy-ca.pem"
    self_signed_ca(ca, "camvault test proxy CA")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    after = tls_context()
    assert after is not before
    assert "camvault test proxy CA" in trusted_names(after)
    assert tls_context() is after

    monkeypatch.delenv("SSL_CERT_FILE")
    assert tls_context() is before  # back to the defaults: the first context again
