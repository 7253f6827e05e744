"""crypto/httpsig.py: RFC 9421 signature base and Ed25519 vector, RFC 9530 digest, the
camvault profile's strict parsing and every refusal with its reason code."""

from __future__ import annotations

import base64

import pytest

from crypto.ed25519 import Ed25519PublicKey, Ed25519SigningKey
from crypto.httpsig import (
    HttpRequest,
    HttpSignatureError,
    SignatureParams,
    check_content_digest,
    check_times,
    content_digest,
    parse_signature,
    sign_request,
    signature_base,
    verify_request,
)

# RFC 9421 Appendix B.1.4 (test-key-ed25519, SPKI DER) and B.2.6 (signing with ed25519).
RFC_KEY_DER = "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="
RFC_SIG = "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
RFC_REQUEST = HttpRequest(
    "POST",
    "example.com",
    "/foo",
    "param=Value&Pet=dog",
    {
        "date": "Tue, 20 Apr 2021 02:07:55 GMT",
        "content-type": "application/json",
        "content-length": "18",
    },
)
RFC_COVERED = ["date", "@method", "@path", "@authority", "content-type", "content-length"]
RFC_PARAMS = (
    '("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)

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


def reason(exc: pytest.ExceptionInfo[HttpSignatureError]) -> str:
    return exc.value.reason


def test_rfc9421_b26_ed25519_vector() -> None:
    base = signature_base(RFC_REQUEST, RFC_COVERED, RFC_PARAMS)
    assert base.decode().splitlines()[0] == '"date": Tue, 20 Apr 2021 02:07:55 GMT'
    assert base.endswith(b'keyid="test-key-ed25519"')
    key = Ed25519PublicKey(base64.b64decode(RFC_KEY_DER)[-32:])
    key.verify(base, base64.b64decode(RFC_SIG))


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
