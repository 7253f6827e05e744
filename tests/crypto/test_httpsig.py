"""crypto/httpsig.py: the RFC 9421 Appendix B and RFC 9530 examples, the camvault profile's strict
parsing and every refusal with its reason code.

RFC 9421 Appendix B signs one request (B.2 "test-request") with the keys of B.1. camvault signs
with Ed25519, so B.2.6 and B.4 (Ed25519, key B.1.4) are checked end to end: key, signature base
and signature byte for byte, and signing reproduces the RFC's signatures (Ed25519 is
deterministic). B.2.1, B.2.3, B.2.5 and B.3 sign with RSA-PSS, HMAC or ECDSA, which camvault does
not use, but their signature bases are built by this module: each is compared with the RFC's text
and checked against the RFC's own signature. The RFC's Signature-Input fields carry only
``created`` and ``keyid`` (and B.2.2 a component parameter): the camvault profile requires
``expires``, ``nonce``, ``alg`` and ``tag`` and refuses component parameters and response
components, so its parser refuses them, each for its own reason (checked below).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import (
    load_der_private_key,
    load_der_public_key,
    load_pem_public_key,
)

from crypto.ed25519 import Ed25519PublicKey, Ed25519SigningKey
from crypto.errors import SignatureError
from crypto.httpsig import (
    HttpRequest,
    HttpSignatureError,
    SignatureParams,
    check_content_digest,
    check_times,
    content_digest,
    parse_signature,
    request_from_asgi,
    sign_request,
    signature_base,
    verify_request,
)


def b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def reason(exc: pytest.ExceptionInfo[HttpSignatureError]) -> str:
    return exc.value.reason


def lines(*text: str) -> bytes:
    """A signature base from its lines (RFC 8792 line wrapping of the RFC undone)."""
    return "\n".join(text).encode()


def rfc_request(message: str) -> HttpRequest:
    """An RFC 9421 example request (start line, then header lines) as a server receives it."""
    start, *fields = message.splitlines()
    method, target, _ = start.split(" ")
    path, _, query = target.partition("?")
    raw = [(n.encode(), v.encode()) for n, v in (f.split(": ", 1) for f in fields)]
    return request_from_asgi(method, raw, path.encode(), query.encode())


# --- RFC 9421 Appendix B.1: the example keys -------------------------------------------------

# B.1.4 test-key-ed25519: PKCS#8 / SPKI DER (the PEM bodies) and the same key as a JWK
ED25519_PRIVATE_DER = "MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF"
ED25519_PUBLIC_DER = "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="
ED25519_JWK_D = "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU"
ED25519_JWK_X = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"
RFC_KEY = Ed25519SigningKey(b64(ED25519_PRIVATE_DER)[-32:])
RFC_PUBLIC = Ed25519PublicKey(b64(ED25519_PUBLIC_DER)[-32:])
# B.1.2 test-key-rsa-pss, B.1.3 test-key-ecc-p256 (public halves), B.1.5 test-shared-secret
RSA_PSS_PUBLIC_PEM = b"""-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----
"""
ECC_P256_PUBLIC_PEM = b"""-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lf
w0EkjqF7xB4FivAxzic30tMM4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==
-----END PUBLIC KEY-----
"""
SHARED_SECRET = (
    "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ=="
)


def test_rfc9421_b14_test_key_ed25519() -> None:
    """The PKCS#8 private key, the SPKI public key and the JWK are one key pair."""
    private, public = b64(ED25519_PRIVATE_DER), b64(ED25519_PUBLIC_DER)
    assert private[:-32] == bytes.fromhex("302e020100300506032b657004220420")  # id-Ed25519
    assert public[:-32] == bytes.fromhex("302a300506032b6570032100")
    assert RFC_KEY.seed == base64.urlsafe_b64decode(ED25519_JWK_D + "=")
    assert RFC_PUBLIC.raw == base64.urlsafe_b64decode(ED25519_JWK_X + "=")
    assert RFC_KEY.public_key == RFC_PUBLIC
    parsed, spki = load_der_private_key(private, None), load_der_public_key(public)
    assert isinstance(parsed, ed25519.Ed25519PrivateKey)  # an independent DER parser agrees
    assert isinstance(spki, ed25519.Ed25519PublicKey)
    assert parsed.private_bytes_raw() == RFC_KEY.seed
    assert parsed.public_key().public_bytes_raw() == spki.public_bytes_raw() == RFC_PUBLIC.raw


# --- RFC 9421 Appendix B.2: test-request, B.2.6 (ed25519) ------------------------------------

TEST_CONTENT = b'{"hello": "world"}'
TEST_DIGEST_SHA512 = (
    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+"
    "AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
)
TEST_REQUEST = rfc_request(
    "POST /foo?param=Value&Pet=dog HTTP/1.1\n"
    "Host: example.com\n"
    "Date: Tue, 20 Apr 2021 02:07:55 GMT\n"
    "Content-Type: application/json\n"
    f"Content-Digest: {TEST_DIGEST_SHA512}\n"
    "Content-Length: 18"
)
B26_COVERED = ("date", "@method", "@path", "@authority", "content-type", "content-length")
B26_PARAMS = (
    '("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
B26_BASE = lines(
    '"date": Tue, 20 Apr 2021 02:07:55 GMT',
    '"@method": POST',
    '"@path": /foo',
    '"@authority": example.com',
    '"content-type": application/json',
    '"content-length": 18',
    '"@signature-params": ' + B26_PARAMS,
)
B26_SIGNATURE = b64(
    "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
)
# the same covered components under the camvault profile's parameters, signed with B.1.4
PROFILE_PARAMS = SignatureParams(1618884473, 1618884533, "test-key-ed25519", "b3k2pp5k7z-50gnwp")


def test_rfc9421_b26_ed25519_vector() -> None:
    base = signature_base(TEST_REQUEST, B26_COVERED, B26_PARAMS)
    assert base == B26_BASE
    assert base.decode().splitlines()[0] == '"date": Tue, 20 Apr 2021 02:07:55 GMT'
    assert base.endswith(b'keyid="test-key-ed25519"')
    RFC_PUBLIC.verify(base, B26_SIGNATURE)
    assert RFC_KEY.sign(base) == B26_SIGNATURE  # Ed25519 is deterministic: the same bytes


@pytest.mark.parametrize("position", [0, 31, 32, 63])
def test_rfc9421_b26_one_flipped_signature_byte_is_refused(position: int) -> None:
    flipped = bytearray(B26_SIGNATURE)
    flipped[position] ^= 0x01
    with pytest.raises(SignatureError, match="does not verify"):
        RFC_PUBLIC.verify(B26_BASE, bytes(flipped))
    si, sig = sign_request(TEST_REQUEST, B26_COVERED, PROFILE_PARAMS, RFC_KEY)
    good = parse_signature(si, sig)
    verify_request(TEST_REQUEST, good, RFC_PUBLIC, required=B26_COVERED)
    raw = bytearray(good.signature)
    raw[position] ^= 0x01
    bad = parse_signature(si, "sig1=:" + base64.b64encode(bytes(raw)).decode() + ":")
    with pytest.raises(HttpSignatureError) as exc:
        verify_request(TEST_REQUEST, bad, RFC_PUBLIC, required=B26_COVERED)
    assert reason(exc) == "signature_invalid"


@pytest.mark.parametrize(
    ("name", "value", "covered"),
    [
        ("method", "PUT", True),
        ("path", "/bar", True),
        ("authority", "example.org", True),
        ("date", "Tue, 20 Apr 2021 02:07:56 GMT", True),
        ("content-type", "text/plain", True),
        ("content-length", "19", True),
        ("query", "param=Value&Pet=cat", False),
        ("content-digest", "sha-512=:AAAA:", False),
    ],
)
def test_rfc9421_b26_covers_its_components_and_only_those(
    name: str, value: str, covered: bool
) -> None:
    fields = {k: getattr(TEST_REQUEST, k) for k in ("method", "authority", "path", "query")}
    headers = dict(TEST_REQUEST.headers)
    (fields if name in fields else headers)[name] = value
    changed = HttpRequest(**fields, headers=headers)
    base = signature_base(changed, B26_COVERED, B26_PARAMS)
    si, sig = sign_request(TEST_REQUEST, B26_COVERED, PROFILE_PARAMS, RFC_KEY)
    if not covered:
        assert base == B26_BASE
        RFC_PUBLIC.verify(base, B26_SIGNATURE)
        verify_request(changed, parse_signature(si, sig), RFC_PUBLIC, required=B26_COVERED)
        return
    with pytest.raises(SignatureError, match="does not verify"):
        RFC_PUBLIC.verify(base, B26_SIGNATURE)
    with pytest.raises(HttpSignatureError) as exc:
        verify_request(changed, parse_signature(si, sig), RFC_PUBLIC, required=B26_COVERED)
    assert reason(exc) == "signature_invalid"


def test_rfc9421_b26_without_a_covered_field() -> None:
    headers = {k: v for k, v in TEST_REQUEST.headers.items() if k != "content-length"}
    changed = dataclasses.replace(TEST_REQUEST, headers=headers)
    with pytest.raises(HttpSignatureError, match="content-length") as exc:
        signature_base(changed, B26_COVERED, B26_PARAMS)
    assert reason(exc) == "signature_component_missing"


# --- RFC 9421 B.2.1, B.2.3, B.2.5, B.3: bases of examples signed with other algorithms -------


def rsa_pss_sha512(base: bytes, signature: bytes) -> None:
    """RFC 9421 section 3.3.1: RSASSA-PSS, SHA-512, MGF1 SHA-512, 64-byte salt."""
    key = load_pem_public_key(RSA_PSS_PUBLIC_PEM)
    assert isinstance(key, rsa.RSAPublicKey)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
    key.verify(signature, base, pss, hashes.SHA512())


def ecdsa_p256_sha256(base: bytes, signature: bytes) -> None:
    """RFC 9421 section 3.3.4: the signature is r || s, 32 bytes each."""
    key = load_pem_public_key(ECC_P256_PUBLIC_PEM)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    r, s = (int.from_bytes(signature[i : i + 32], "big") for i in (0, 32))
    key.verify(encode_dss_signature(r, s), base, ec.ECDSA(hashes.SHA256()))


def hmac_sha256(base: bytes, signature: bytes) -> None:
    assert hmac.compare_digest(hmac.new(b64(SHARED_SECRET), base, "sha256").digest(), signature)


CLIENT_CERT = (
    ":MIIBqDCCAU6gAwIBAgIBBzAKBggqhkjOPQQDAjA6MRswGQYDVQQKDBJMZXQncyBBdXRoZW50aWNhdGUxGzAZBgNVBA"
    "MMEkxBIEludGVybWVkaWF0ZSBDQTAeFw0yMDAxMTQyMjU1MzNaFw0yMTAxMjMyMjU1MzNaMA0xCzAJBgNVBAMMAkJDMF"
    "kwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8YnXXfaUgmnMtOXU/IncWalRhebrXmckC8vdgJ1p5Be5F/3YC8OthxM4+k"
    "1M6aEAEFcGzkJiNy6J84y7uzo9M6NyMHAwCQYDVR0TBAIwADAfBgNVHSMEGDAWgBRm3WjLa38lbEYCuiCPct0ZaSED2D"
    "AOBgNVHQ8BAf8EBAMCBsAwEwYDVR0lBAwwCgYIKwYBBQUHAwIwHQYDVR0RAQH/BBMwEYEPYmRjQGV4YW1wbGUuY29tMA"
    "oGCCqGSM49BAMCA0gAMEUCIBHda/r1vaL6G3VliL4/Di6YK0Q6bMjeSkC3dFCOOB8TAiEAx/kHSB4urmiZ0NX5r5XarmP"
    "k0wmuydBVoU4hBVZ1yhk=:"
)
# B.3: the TLS-terminating proxy's request to the internal service
PROXY_REQUEST = rfc_request(
    "POST /foo?param=Value&Pet=dog HTTP/1.1\n"
    "Host: service.internal.example\n"
    "Date: Tue, 20 Apr 2021 02:07:55 GMT\n"
    "Content-Type: application/json\n"
    "Content-Length: 18\n"
    f"Client-Cert: {CLIENT_CERT}"
)
OTHER_ALGORITHMS = {
    "B.2.1 minimal, rsa-pss-sha512": (
        TEST_REQUEST,
        '();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"',
        [],
        rsa_pss_sha512,
        "d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8U"
        "dx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJ"
        "zsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g"
        "+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==",
    ),
    "B.2.3 full coverage, rsa-pss-sha512": (
        TEST_REQUEST,
        '("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" '
        '"content-length");created=1618884473;keyid="test-key-rsa-pss"',
        [
            '"date": Tue, 20 Apr 2021 02:07:55 GMT',
            '"@method": POST',
            '"@path": /foo',
            '"@query": ?param=Value&Pet=dog',
            '"@authority": example.com',
            '"content-type": application/json',
            f'"content-digest": {TEST_DIGEST_SHA512}',
            '"content-length": 18',
        ],
        rsa_pss_sha512,
        "bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5"
        "p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/a"
        "YA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896"
        "+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==",
    ),
    "B.2.5 hmac-sha256": (
        TEST_REQUEST,
        '("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
        [
            '"date": Tue, 20 Apr 2021 02:07:55 GMT',
            '"@authority": example.com',
            '"content-type": application/json',
        ],
        hmac_sha256,
        "pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=",
    ),
    "B.3 TLS-terminating proxy, ecdsa-p256-sha256": (
        PROXY_REQUEST,
        '("@path" "@query" "@method" "@authority" "client-cert");created=1618884473'
        ';keyid="test-key-ecc-p256"',
        [
            '"@path": /foo',
            '"@query": ?param=Value&Pet=dog',
            '"@method": POST',
            '"@authority": service.internal.example',
            f'"client-cert": {CLIENT_CERT}',
        ],
        ecdsa_p256_sha256,
        "xVMHVpawaAC/0SbHrKRs9i8I3eOs5RtTMGCWXm/9nvZzoHsIg6Mce9315T6xoklyy0yzhD9ah4JHRwMLOgmizw==",
    ),
}


@pytest.mark.parametrize("example", OTHER_ALGORITHMS)
def test_rfc9421_signature_bases_of_the_other_examples(example: str) -> None:
    request, params, base_lines, check, signature = OTHER_ALGORITHMS[example]
    covered = [line.split('"')[1] for line in base_lines]  # the base's lines name them in order
    base = signature_base(request, covered, params)
    assert base == lines(*base_lines, '"@signature-params": ' + params)
    check(base, b64(signature))  # the RFC's own signature covers exactly these bytes


# --- RFC 9421 B.4: transformations of a request signed with test-key-ed25519 -----------------

B4_COVERED = ("@method", "@path", "@authority", "accept")
B4_PARAMS = '("@method" "@path" "@authority" "accept");created=1618884473;keyid="test-key-ed25519"'
B4_BASE = lines(
    '"@method": GET',
    '"@path": /demo',
    '"@authority": example.org',
    '"accept": application/json, */*',
    '"@signature-params": ' + B4_PARAMS,
)
B4_SIGNATURE = b64(
    "ZT1kooQsEHpZ0I1IjCqtQppOmIqlJPeo7DHR3SoMn0s5JZ1eRGS0A+vyYP9t/LXlh5QMFFQ6cpLt2m0pmj3NDA=="
)
B4_DATE = "Date: Fri, 15 Jul 2022 14:24:55 GMT"


@pytest.mark.parametrize(
    ("message", "valid"),
    [
        pytest.param(
            f"GET /demo?name1=Value1&Name2=value2 HTTP/1.1\nHost: example.org\n{B4_DATE}\n"
            "Accept: application/json\nAccept: */*",
            True,
            id="as signed",
        ),
        pytest.param(
            f"GET /demo?name1=Value1&Name2=value2&param=added HTTP/1.1\nHost: example.org\n"
            f"{B4_DATE}\nAccept: application/json\nAccept: */*\n"
            "Accept-Language: en-US,en;q=0.5",
            True,
            id="query and field added",
        ),
        pytest.param(
            "GET /demo?name1=Value1&Name2=value2 HTTP/1.1\nHost: example.org\n"
            "Referer: https://developer.example.org/demo\nAccept: application/json, */*",
            True,
            id="date removed, referer added, accept on one line",
        ),
        pytest.param(
            f"GET /demo?name1=Value1&Name2=value2 HTTP/1.1\nAccept: application/json\n"
            f"Accept: */*\n{B4_DATE}\nHost: example.org",
            True,
            id="fields reordered",
        ),
        pytest.param(
            f"POST /demo?name1=Value1&Name2=value2 HTTP/1.1\nHost: example.com\n{B4_DATE}\n"
            "Accept: application/json\nAccept: */*",
            False,
            id="method and authority changed",
        ),
        pytest.param(
            f"GET /demo?name1=Value1&Name2=value2 HTTP/1.1\nHost: example.org\n{B4_DATE}\n"
            "Accept: */*\nAccept: application/json",
            False,
            id="accept lines swapped",
        ),
    ],
)
def test_rfc9421_b4_message_transformations(message: str, valid: bool) -> None:
    base = signature_base(rfc_request(message), B4_COVERED, B4_PARAMS)
    if valid:
        assert base == B4_BASE
        RFC_PUBLIC.verify(base, B4_SIGNATURE)
        assert RFC_KEY.sign(base) == B4_SIGNATURE
    else:
        assert base != B4_BASE
        with pytest.raises(SignatureError, match="does not verify"):
            RFC_PUBLIC.verify(base, B4_SIGNATURE)


# --- what the camvault profile refuses of Appendix B ---------------------------------------

ZERO_SIGNATURE = ":" + base64.b64encode(bytes(64)).decode() + ":"


@pytest.mark.parametrize(
    ("signature_input", "code", "why"),
    [
        ("sig-b26=" + B26_PARAMS, "signature_params_invalid", "'expires' missing"),
        ("transform=" + B4_PARAMS, "signature_params_invalid", "'expires' missing"),
        (
            'sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"',
            "signature_params_invalid",
            "'expires' missing",
        ),
        (
            'sig-b22=("@authority" "content-digest" "@query-param";name="Pet");created=1618884473'
            ';keyid="test-key-rsa-pss";tag="header-example"',
            "signature_malformed",
            "component parameters are not supported",
        ),
    ],
)
def test_rfc9421_signature_fields_outside_the_camvault_profile(
    signature_input: str, code: str, why: str
) -> None:
    label = signature_input.split("=", 1)[0]
    with pytest.raises(HttpSignatureError, match=why) as exc:
        parse_signature(signature_input, f"{label}={ZERO_SIGNATURE}")
    assert reason(exc) == code


def test_rfc9421_b24_response_components_are_outside_the_profile() -> None:
    with pytest.raises(HttpSignatureError, match="unsupported derived component @status") as exc:
        signature_base(TEST_REQUEST, ["@status", "content-type"], '("@status" "content-type")')
    assert reason(exc) == "signature_malformed"


# --- RFC 9530 Content-Digest (sha-256) --------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "value"),
    [
        # RFC 9530 Appendix B.1: a response carrying {"hello": "world"} and an LF
        (b'{"hello": "world"}\n', "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"),
        # B.2: the HEAD response, empty content
        (b"", "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"),
        # B.3: the partial response, bytes 10-18 of B.1's content
        (b'"world"}\n', "sha-256=:jjcgBDWNAtbYUXI37CVG3gRuGOAjaaDRGpIUFsdyepQ=:"),
        # Appendix C's sample value: {"hello": "world"}, the RFC 9421 test-request's content
        (TEST_CONTENT, "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"),
    ],
)
def test_rfc9530_content_digest_examples(content: bytes, value: str) -> None:
    assert content_digest(content) == value
    check_content_digest(value, content)
    with pytest.raises(HttpSignatureError) as exc:
        check_content_digest(value, content + b" ")
    assert reason(exc) == "content_digest_mismatch"


def test_rfc9530_digests_outside_the_camvault_profile() -> None:
    """The RFC 9421 test-request's sha-512 digest is right for its content, and RFC 9530
    section 2's two-member Dictionary is valid: camvault takes one sha-256 member only."""
    sha512 = base64.b64encode(hashlib.sha512(TEST_CONTENT).digest()).decode()
    assert f"sha-512=:{sha512}:" == TEST_DIGEST_SHA512
    with pytest.raises(HttpSignatureError, match="sha-256 only") as exc:
        check_content_digest(TEST_DIGEST_SHA512, TEST_CONTENT)
    assert reason(exc) == "content_digest_malformed"
    two = (
        "sha-256=:d435Qo+nKZ+gLcUHn7GQtQ72hiBVAgqoLsZnZPiTGPk=:,"
        "sha-512=:YMAam51Jz/jOATT6/zvHrLVgOYTGFy1d6GJiOHTohq4yP+pgk4vf2aCsyRZOtw8MjkM7iw7yZ/WkppmM44T3qg==:"
    )
    with pytest.raises(HttpSignatureError) as exc:
        check_content_digest(two, b'{"hello": "world"}\n')
    assert reason(exc) == "content_digest_malformed"


# --- the camvault profile ---------------------------------------------------------------------

KEY = Ed25519SigningKey(bytes(range(32)))
REQ = HttpRequest(
    "POST",
    "127.0.0.1:8000",
    "/v1/sites/s1/devices",
    "a=1",
    {"content-type": "application/json", "content-digest": content_digest(b"{}")},
)
COVERED = ("@method", "@authority", "@path", "@query", "content-digest", "content-type")
PARAMS = SignatureParams(1_700_000_000, 1_700_000_060, "customer:s1", "n" * 22)


def test_rfc9530_content_digest_example() -> None:
    # RFC 9530 section 2 / RFC 9421 B.2: {"hello": "world"} with a trailing LF
    assert content_digest(b'{"hello": "world"}\n') == (
        "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"
    )
    check_content_digest(content_digest(b"abc"), b"abc")


def test_sign_parse_verify_round_trip() -> None:
    si, sig = sign_request(REQ, COVERED, PARAMS, KEY)
    assert si.startswith('sig1=("@method" "@authority" "@path" "@query" "content-digest"')
    parsed = parse_signature(si, sig)
    assert parsed.params == PARAMS and parsed.covered == COVERED
    verify_request(REQ, parsed, KEY.public_key, required=COVERED)
    check_times(parsed.params, now=1_700_000_030, max_skew_s=60, max_lifetime_s=300)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"method": "PUT"}, "signature_invalid"),
        ({"path": "/v1/sites/s2/devices"}, "signature_invalid"),
        ({"query": "a=2"}, "signature_invalid"),
        ({"authority": "evil.example"}, "signature_invalid"),
        ({"headers": {"content-type": "text/plain", "content-digest": "x"}}, "signature_invalid"),
        ({"headers": {"content-type": "application/json"}}, "signature_component_missing"),
    ],
)
def test_any_covered_change_breaks_the_signature(change: dict[str, object], code: str) -> None:
    si, sig = sign_request(REQ, COVERED, PARAMS, KEY)
    fields = {k: getattr(REQ, k) for k in ("method", "authority", "path", "query", "headers")}
    fields.update(change)
    other = HttpRequest(**fields)
    with pytest.raises(HttpSignatureError) as exc:
        verify_request(other, parse_signature(si, sig), KEY.public_key, required=COVERED)
    assert reason(exc) == code


def test_other_key_and_required_components() -> None:
    si, sig = sign_request(REQ, COVERED, PARAMS, KEY)
    parsed = parse_signature(si, sig)
    with pytest.raises(HttpSignatureError) as exc:
        verify_request(REQ, parsed, Ed25519SigningKey(b"\1" * 32).public_key, required=COVERED)
    assert reason(exc) == "signature_invalid"
    si2, sig2 = sign_request(REQ, COVERED[:4], PARAMS, KEY)
    with pytest.raises(HttpSignatureError, match="content-digest") as exc:
        verify_request(REQ, parse_signature(si2, sig2), KEY.public_key, required=COVERED)
    assert reason(exc) == "signature_component_missing"


@pytest.mark.parametrize(
    ("now", "code"),
    [(1_700_000_000 - 61, "signature_clock_skew"), (1_700_000_060 + 61, "signature_expired")],
)
def test_times(now: int, code: str) -> None:
    with pytest.raises(HttpSignatureError) as exc:
        check_times(PARAMS, now=now, max_skew_s=60, max_lifetime_s=300)
    assert reason(exc) == code
    check_times(
        PARAMS,
        now=now + (60 if code == "signature_clock_skew" else -60),
        max_skew_s=60,
        max_lifetime_s=300,
    )
    long = SignatureParams(0, 1000, "k", "n" * 22)
    with pytest.raises(HttpSignatureError) as exc:
        check_times(long, now=10, max_skew_s=60, max_lifetime_s=300)
    assert reason(exc) == "signature_params_invalid"


def _si(params: str, covered: str = '"@method"') -> str:
    return f"sig1=({covered}){params}"


GOOD = ';created=1;expires=2;keyid="k";nonce="nnnnnnnnnnnnnnnnnnnnnn";alg="ed25519";tag="camvault"'
SIG = "sig1=:" + base64.b64encode(b"\0" * 64).decode() + ":"


@pytest.mark.parametrize(
    ("si", "sig", "code"),
    [
        (None, SIG, "signature_missing"),
        (_si(GOOD), None, "signature_missing"),
        (_si(GOOD) + ", sig2=()", SIG, "signature_malformed"),
        (_si(GOOD), SIG + ", sig2=:AAAA:", "signature_malformed"),
        (_si(GOOD).replace("sig1", "sig2"), SIG, "signature_malformed"),
        (_si(GOOD), "sig1=:AAAA:", "signature_malformed"),
        (_si(GOOD), "sig1=:not base64:", "signature_malformed"),
        (_si(GOOD.replace(";tag", "; tag")), SIG, "signature_malformed"),
        (_si(GOOD, '"@method"  "@path"'), SIG, "signature_malformed"),
        (_si(GOOD, '"@method";sf'), SIG, "signature_malformed"),
        (_si(GOOD, '"@method" "@method"'), SIG, "signature_malformed"),
        (
            _si(GOOD.replace('alg="ed25519"', 'alg="rsa-pss-sha512"')),
            SIG,
            "signature_alg_unsupported",
        ),
        (_si(GOOD.replace('tag="camvault"', 'tag="other"')), SIG, "signature_params_invalid"),
        (_si(GOOD + ";extra=1"), SIG, "signature_params_invalid"),
        (_si(GOOD + ";created=1"), SIG, "signature_params_invalid"),
        (_si(GOOD.replace(";created=1", "")), SIG, "signature_params_invalid"),
        (_si(GOOD.replace("created=1", 'created="1"')), SIG, "signature_params_invalid"),
        (_si(GOOD.replace("nnnnnnnnnnnnnnnnnnnnnn", "short")), SIG, "signature_params_invalid"),
        (_si(GOOD.replace("expires=2", "expires=1")), SIG, "signature_params_invalid"),
        (_si(GOOD.replace('keyid="k"', 'keyid="a\\x"')), SIG, "signature_malformed"),
        (_si(GOOD) + " ", SIG, "signature_malformed"),
    ],
)
def test_parse_refusals(si: str | None, sig: str | None, code: str) -> None:
    with pytest.raises(HttpSignatureError) as exc:
        parsed = parse_signature(si, sig)
        # duplicate components are only found when building the base
        signature_base(REQ, parsed.covered, parsed.serialized_params)
    assert reason(exc) == code


def test_parameter_order_is_free_but_spelling_is_not() -> None:
    reordered = (
        ';keyid="k";created=1;expires=2;nonce="nnnnnnnnnnnnnnnnnnnnnn";alg="ed25519";tag="camvault"'
    )
    parsed = parse_signature(_si(reordered), SIG)
    assert parsed.serialized_params == '("@method")' + reordered


def test_component_values_must_be_printable() -> None:
    bad = HttpRequest("GET", "h", "/", "", {"x-a": "line\nbreak"})
    with pytest.raises(HttpSignatureError) as exc:
        signature_base(bad, ["x-a"], "()")
    assert reason(exc) == "signature_malformed"
    with pytest.raises(HttpSignatureError) as exc:
        signature_base(bad, ["@target-uri"], "()")
    assert reason(exc) == "signature_malformed"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (None, "content_digest_missing"),
        ("sha-512=:" + base64.b64encode(b"\0" * 64).decode() + ":", "content_digest_malformed"),
        ("sha-256=:AAAA", "content_digest_malformed"),
        ("sha-256=:" + base64.b64encode(b"\0" * 32).decode() + ":", "content_digest_mismatch"),
    ],
)
def test_content_digest_refusals(value: str | None, code: str) -> None:
    with pytest.raises(HttpSignatureError) as exc:
        check_content_digest(value, b"body")
    assert reason(exc) == code


def test_request_from_asgi_combines_fields_as_rfc9421_section_2_1() -> None:
    from crypto.httpsig import request_from_asgi

    req = request_from_asgi(
        "POST",
        [(b"Host", b"example.com:8000"), (b"x-dup", b" a "), (b"X-Dup", b"b"), (b"host", b"evil")],
        b"/v1/x%20y?ignored",
        b"a=1&b=2",
    )
    assert req.authority == "example.com:8000"  # the first Host as received
    assert req.headers["x-dup"] == "a, b"
    assert req.path == "/v1/x%20y"
    assert req.query == "a=1&b=2"
