"""age v1 header grammar (C2SP age, "Header"), header MAC, and the header-level public API."""

from __future__ import annotations

import io
import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.age import (
    X25519Identity,
    decrypt_header,
    encrypt_header,
    header_mac,
    seal_header,
    unwrap_file_key,
    verify_header_mac,
)
from crypto.age.format import (
    FileKey,
    Header,
    Stanza,
    encode_header,
    encode_header_without_mac,
    encode_stanza,
    header_mac_key,
    parse_header,
    read_header,
)
from crypto.age.scrypt import ScryptIdentity, ScryptRecipient
from crypto.encoding import b64decode, b64encode
from crypto.errors import HeaderError, NoIdentityMatchError
from crypto.hkdf import hkdf_expand, hkdf_extract, hkdf_sha256

FILE_KEY = FileKey(bytes(range(16)))
MAC43 = b64encode(bytes(32)).encode()  # a syntactically valid MAC
V1 = b"age-encryption.org/v1\n"


def _hdr(*body_lines: bytes, mac_line: bytes = b"--- " + MAC43 + b"\n") -> bytes:
    return V1 + b"".join(body_lines) + mac_line


def _parse_error(data: bytes, fragment: str) -> None:
    with pytest.raises(HeaderError) as info:
        parse_header(data)
    assert str(info.value).startswith("parsing age header: "), str(info.value)
    assert fragment in str(info.value), str(info.value)


# --- base64 -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 3, 31, 32, 33, 48])
def test_b64_round_trip_is_unpadded(n: int) -> None:
    data = os.urandom(n)
    text = b64encode(data)
    assert "=" not in text and b64decode(text) == data


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("AAA=", "padding"),
        ("AA==", "padding"),
        ("AAAAA", "length"),
        ("AB", "non-canonical"),  # trailing bits of the last character must be zero
        ("AAB", "non-canonical"),
        ("A A", "character"),
        ("A-_A", "character"),  # URL-safe alphabet is not the standard one
        ("AA\n", "character"),
    ],
)
def test_b64_refusals(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        b64decode(text)


# --- encoding ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "lines"),
    [(0, [""]), (1, ["AA"]), (47, [None]), (48, [64, 0]), (49, [64, None]), (96, [64, 64, 0])],
)
def test_stanza_body_wrapping(size: int, lines: list[object]) -> None:
    encoded = encode_stanza(Stanza("t", ("a",), bytes(size)))
    got = encoded.split(b"\n")[1:-1]
    assert len(got) == len(lines)
    for line, want in zip(got, lines, strict=True):
        if isinstance(want, int):
            assert len(line) == want
        elif isinstance(want, str):
            assert line == want.encode()
        else:
            assert 0 < len(line) < 64


def test_encoding_is_exact() -> None:
    stanzas = [Stanza("X25519", ("abc",), b"\x01" * 32), Stanza("grease", (), b"")]
    mac = bytes(range(32))
    expected = (
        b"age-encryption.org/v1\n-> X25519 abc\n"
        + b64encode(b"\x01" * 32).encode()
        + b"\n-> grease\n\n--- "
        + b64encode(mac).encode()
        + b"\n"
    )
    assert encode_header(stanzas, mac) == expected
    assert encode_header_without_mac(stanzas) == expected[: expected.index(b"---") + 3]


@pytest.mark.parametrize("arg", ["", "a b", "tab\there", "caf\u00e9", "cr\r", "\x7f"])
def test_encode_refuses_invalid_arguments(arg: str) -> None:
    with pytest.raises(HeaderError, match="encoding age header: invalid stanza argument"):
        encode_stanza(Stanza("t", (arg,), b""))
    with pytest.raises(HeaderError, match="encoding age header"):
        encode_stanza(Stanza(arg, (), b""))


def test_encode_refuses_empty_header_and_bad_mac_size() -> None:
    with pytest.raises(HeaderError, match="at least one stanza"):
        encode_header_without_mac([])
    with pytest.raises(HeaderError, match="32 bytes"):
        encode_header([Stanza("t", (), b"")], bytes(31))


# --- parsing: round trips ---------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 16, 32, 47, 48, 49, 95, 96, 97, 500])
def test_parse_round_trip(size: int) -> None:
    stanzas = (
        Stanza("X25519", (b64encode(os.urandom(32)),), os.urandom(size)),
        Stanza("example.com/custom", ("a", "!\"#$%&'()*+,-./", "~"), os.urandom(size + 3)),
        Stanza("bare", (), b""),
    )
    mac = os.urandom(32)
    data = encode_header(stanzas, mac)
    header = parse_header(data)
    assert header == Header(stanzas, mac)
    assert header.encode() == data


def test_read_header_stops_at_payload() -> None:
    data = encode_header([Stanza("t", (), b"x")], bytes(32))
    stream = io.BytesIO(data + b"PAYLOAD\n-> not a stanza\n")
    read_header(stream)
    assert stream.read() == b"PAYLOAD\n-> not a stanza\n"


def test_parse_header_refuses_trailing_data() -> None:
    data = encode_header([Stanza("t", (), b"x")], bytes(32))
    _parse_error(data + b"x", "after the header MAC")


# --- parsing: version line --------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "fragment"),
    [
        (b"age-encryption.org/v2\n", "unsupported version"),
        (b"age-encryption.org/v1 \n", "unsupported version"),
        (b"age-encryption.org/\n", "unsupported version"),
        (b"age-encryption.org/v1\r\n", "CR"),
        (b"AGE-ENCRYPTION.ORG/v1\n", "missing version line"),
        (b"\nage-encryption.org/v1\n", "missing version line"),
        (b" age-encryption.org/v1\n", "missing version line"),
    ],
)
def test_version_line_must_be_exact(first: bytes, fragment: str) -> None:
    _parse_error(first + b"-> t\n\n--- " + MAC43 + b"\n", fragment)


@pytest.mark.parametrize("data", [b"", b"age-encryption.org/v1", b"age-encr"])
def test_empty_or_truncated_version(data: bytes) -> None:
    _parse_error(data, "unexpected end of header")


# --- parsing: stanzas -------------------------------------------------------------------


def test_header_needs_a_stanza() -> None:
    _parse_error(_hdr(), "no recipient stanza")


@pytest.mark.parametrize(
    ("arg_line", "fragment"),
    [
        (b"->\n", "neither a stanza"),
        (b"->X25519 a\n", "neither a stanza"),
        (b"-> \n", "empty stanza argument"),
        (b"->  t\n", "empty stanza argument"),
        (b"-> t  a\n", "empty stanza argument"),
        (b"-> t a \n", "empty stanza argument"),
        (b"-> t\ta\n", "invalid character"),
        (b"-> t \x7f\n", "invalid character"),
        (b"-> t caf\xc3\xa9\n", "invalid character"),
        (b"-> t a\rb\n", "invalid character"),
        (b"-> t\r\n", "CR"),
        (b"=> t\n", "neither a stanza"),
        (b"-- t\n", "neither a stanza"),
    ],
)
def test_argument_line_rules(arg_line: bytes, fragment: str) -> None:
    _parse_error(_hdr(arg_line, b"\n"), fragment)


def test_every_vchar_is_a_valid_argument() -> None:
    vchars = bytes(range(0x21, 0x7F))
    header = parse_header(_hdr(b"-> " + vchars + b" x\n", b"\n"))
    assert header.stanzas[0].type == vchars.decode()


def _b64line(n: int) -> bytes:
    return b64encode(bytes(n)).encode()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (_b64line(48) + b"A\n", "longer than 64"),  # 65-column line
        (b"AAA=\n", "padding or non-base64"),
        (b"AA==\n", "padding or non-base64"),
        (b"AB\n", "non-canonical"),
        (b"AAAAA\n", "length"),
        (b"AA AA\n", "padding or non-base64"),
        (b"AA-_\n", "padding or non-base64"),
        (b"AAAA\r\n", "CR"),
        (b"AAAA\n\n", "neither a stanza"),  # a short line ends the stanza: next is no stanza
    ],
)
def test_body_rules(body: bytes, fragment: str) -> None:
    _parse_error(V1 + b"-> t\n" + body + b"--- " + MAC43 + b"\n", fragment)


def test_missing_body_line() -> None:
    # Even an empty body needs its (empty) final line; else "--- MAC" is read as the body.
    _parse_error(V1 + b"-> t\n--- " + MAC43 + b"\n", "padding or non-base64")
    _parse_error(V1 + b"-> t\n", "unexpected end")
    _parse_error(V1 + b"-> t\n" + _b64line(48) + b"\n", "unexpected end")


def test_full_body_line_needs_an_empty_final_line() -> None:
    ok = V1 + b"-> t\n" + _b64line(48) + b"\n\n--- " + MAC43 + b"\n"
    assert parse_header(ok).stanzas[0].body == bytes(48)
    missing = V1 + b"-> t\n" + _b64line(48) + b"\n--- " + MAC43 + b"\n"
    _parse_error(missing, "padding or non-base64")  # "--- ..." is read as a body line


def test_base64_is_decoded_across_lines() -> None:
    body = os.urandom(100)
    encoded = b64encode(body).encode()
    lines = b"".join(encoded[i : i + 64] + b"\n" for i in range(0, len(encoded), 64))
    data = V1 + b"-> t\n" + lines + b"--- " + MAC43 + b"\n"
    assert parse_header(data).stanzas[0].body == body


def test_unknown_stanzas_are_preserved() -> None:
    data = _hdr(b"-> camvault-escrow 1 abc\nAAAA\n", b"-> grease\n\n")
    header = parse_header(data)
    assert header.stanzas == (
        Stanza("camvault-escrow", ("1", "abc"), bytes(3)),
        Stanza("grease", (), b""),
    )
    assert header.encode() == data


# --- parsing: MAC line ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mac_line", "fragment"),
    [
        (b"---\n", "malformed MAC line"),
        (b"---" + MAC43 + b"\n", "malformed MAC line"),
        (b"---  " + MAC43 + b"\n", "43 base64"),
        (b"--- " + MAC43 + b" \n", "43 base64"),
        (b"--- " + MAC43[:-1] + b"\n", "43 base64"),  # truncated (short MAC)
        (b"--- " + MAC43 + b"A\n", "43 base64"),  # long MAC
        (b"--- " + MAC43[:-1] + b"B\n", "non-canonical"),
        (b"--- " + b64encode(bytes(32)).encode()[:-1] + b"=\n", "MAC: invalid"),
        (b"--- " + MAC43 + b"\r\n", "CR"),
        (b"--- " + MAC43, "unexpected end"),
        (b"", "unexpected end"),
    ],
)
def test_mac_line_rules(mac_line: bytes, fragment: str) -> None:
    _parse_error(_hdr(b"-> t\n\n", mac_line=mac_line), fragment)


def test_limits_bound_the_read() -> None:
    long_arg = b"-> t " + b"a" * (64 * 1024) + b"\n\n"
    _parse_error(_hdr(long_arg), "longer than")
    # under the stanza cap (MAX_STANZAS) but over MAX_HEADER_SIZE: the size limit refuses it
    many = (b"-> t " + b"a" * 60_000 + b"\n\n") * 20
    _parse_error(_hdr(many), "header longer than")
    _parse_error(_hdr(b"-> t\n\n" * 200_000), "more than 128 stanzas")


# --- header MAC -------------------------------------------------------------------------


def test_header_mac_key_is_hkdf_of_file_key() -> None:
    independent = HKDF(hashes.SHA256(), 32, salt=None, info=b"header").derive(FILE_KEY.data)
    assert header_mac_key(FILE_KEY) == independent


@pytest.mark.parametrize("trial", range(5))
def test_hkdf_matches_pyca(trial: int) -> None:
    ikm, salt, info = os.urandom(16 + trial), os.urandom(trial * 7), os.urandom(trial)
    want = HKDF(hashes.SHA256(), 80, salt=salt or None, info=info).derive(ikm)
    assert hkdf_sha256(ikm, salt, info, 80) == want


@pytest.mark.parametrize(
    ("ikm", "salt", "info", "okm"),
    [
        (  # RFC 5869 Appendix A.1
            bytes([0x0B]) * 22,
            bytes(range(13)),
            bytes(range(0xF0, 0xFA)),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        ),
        (  # RFC 5869 Appendix A.3: empty salt and info
            bytes([0x0B]) * 22,
            b"",
            b"",
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
        ),
    ],
)
def test_hkdf_rfc5869_vectors(ikm: bytes, salt: bytes, info: bytes, okm: str) -> None:
    assert hkdf_sha256(ikm, salt, info, 42).hex() == okm
    # the two halves (a release: one Extract, then one Expand per share) give the same bytes
    assert hkdf_expand(hkdf_extract(salt, ikm), info, 42).hex() == okm


def _sealed() -> bytes:
    return seal_header([Stanza("t", ("a",), b"body"), Stanza("u", (), b"")], FILE_KEY)


def test_verify_header_mac_accepts_and_returns_header() -> None:
    data = _sealed()
    header = verify_header_mac(data, FILE_KEY)
    assert header.encode() == data
    assert header.mac == header_mac(FILE_KEY, data[: data.index(b"---") + 3])


def test_mac_covers_up_to_the_dashes_only() -> None:
    data = _sealed()
    covered = data[: data.index(b"\n---") + 4]
    assert covered.endswith(b"---")
    assert parse_header(data).mac == header_mac(FILE_KEY, covered)


def test_wrong_file_key_is_a_mac_mismatch() -> None:
    with pytest.raises(HeaderError, match="header MAC mismatch"):
        verify_header_mac(_sealed(), FileKey(bytes(16)))


@pytest.mark.parametrize("target", [b"-> t a", b"-> u", b"Ym9k"])
def test_modified_header_is_a_mac_mismatch(target: bytes) -> None:
    data = _sealed()
    replacement = target[:-1] + bytes([target[-1] ^ 1])
    with pytest.raises(HeaderError, match="header MAC mismatch"):
        verify_header_mac(data.replace(target, replacement, 1), FILE_KEY)


def test_flipped_mac_bit_is_a_mismatch() -> None:
    data = _sealed()
    header = parse_header(data)
    bad = bytes([header.mac[0] ^ 0x80]) + header.mac[1:]
    with pytest.raises(HeaderError, match="header MAC mismatch"):
        verify_header_mac(encode_header(header.stanzas, bad), FILE_KEY)


def test_verify_header_mac_reports_parse_errors_first() -> None:
    with pytest.raises(HeaderError, match="parsing age header: "):
        verify_header_mac(_sealed().replace(b"-> t a", b"->  t a"), FILE_KEY)


# --- header-level API -------------------------------------------------------------------


def test_encrypt_header_and_decrypt_header() -> None:
    alice, bob = X25519Identity.generate(), X25519Identity.generate()
    header, file_key = encrypt_header([alice.recipient(), bob.recipient()])
    for identity in (alice, bob):
        parsed, got = decrypt_header([identity], header)
        assert got == file_key and len(parsed.stanzas) == 2
    with pytest.raises(NoIdentityMatchError):
        decrypt_header([X25519Identity.generate()], header)


def test_encrypt_header_rewraps_an_existing_key() -> None:
    alice = X25519Identity.generate()
    header, _ = encrypt_header([alice.recipient()], FILE_KEY)
    assert decrypt_header([alice], header)[1] == FILE_KEY
    with pytest.raises(HeaderError, match="at least one recipient"):
        encrypt_header([])


def test_unknown_stanza_is_ignored_by_identities() -> None:
    alice = X25519Identity.generate()
    stanzas = [Stanza("example.org/x", ("1",), os.urandom(40)), *alice.recipient().wrap(FILE_KEY)]
    header = parse_header(seal_header(stanzas, FILE_KEY))
    assert unwrap_file_key([alice], header) == FILE_KEY


def test_scrypt_stanza_must_be_alone() -> None:
    scrypt = ScryptRecipient("pw", work_factor=2).wrap(FILE_KEY)
    other = X25519Identity.generate().recipient().wrap(FILE_KEY)
    with pytest.raises(HeaderError, match="scrypt stanza must be the only stanza"):
        seal_header(scrypt + other, FILE_KEY)
    with pytest.raises(HeaderError, match="scrypt stanza must be the only stanza"):
        encrypt_header([ScryptRecipient("pw", work_factor=2), ScryptRecipient("pw", 2)])
    smuggled = Header(tuple(scrypt + other), bytes(32))
    with pytest.raises(HeaderError, match="scrypt stanza must be the only stanza"):
        unwrap_file_key([ScryptIdentity("pw")], smuggled)
    with pytest.raises(HeaderError, match="scrypt stanza must be the only stanza"):
        unwrap_file_key([X25519Identity.generate()], smuggled)
    alone = Header(tuple(scrypt), bytes(32))
    assert unwrap_file_key([ScryptIdentity("pw")], alone) == FILE_KEY


def test_stanza_and_header_are_immutable_values() -> None:
    """Stanza and Header behave as the frozen dataclasses they were (crypto/age/format.py
    writes them out so that `camvault encrypt` does not import dataclasses)."""
    import copy
    import pickle

    stanza = Stanza("X25519", ("c2hhcmU",), b"\x01" * 32)
    same = Stanza(type="X25519", args=("c2hhcmU",), body=b"\x01" * 32)
    header = Header((stanza,), b"\x02" * 32)
    assert stanza == same and hash(stanza) == hash(same)
    assert stanza != Stanza("X25519", ("c2hhcmU",), b"\x03" * 32)
    assert stanza != ("X25519", ("c2hhcmU",), b"\x01" * 32)  # not a tuple
    assert header == Header((same,), b"\x02" * 32) and {header: 1}[Header((same,), b"\x02" * 32)]
    assert header != Header((stanza,), b"\x03" * 32)
    body = b"\x01" * 32
    assert repr(stanza) == f"Stanza(type='X25519', args=('c2hhcmU',), body={body!r})"
    for record in (stanza, header):
        assert pickle.loads(pickle.dumps(record)) == record
        assert copy.deepcopy(record) == record
    with pytest.raises(AttributeError):
        stanza.type = "scrypt"
    with pytest.raises(AttributeError):
        del header.mac
    with pytest.raises(AttributeError):
        stanza.extra = 1
    match header:
        case Header((Stanza("X25519", args, _),), mac):
            assert args == ("c2hhcmU",) and mac == b"\x02" * 32
        case _:
            pytest.fail("Header and Stanza must support positional patterns")
