"""ASCII armor (C2SP age, "ASCII armor"; RFC 7468 strict): encoding, every refusal, detection."""

from __future__ import annotations

import base64
import io
import os

import pytest

from crypto.age import decrypt, encrypt, generate_identity
from crypto.age.armor import (
    BEGIN,
    END,
    MAX_WHITESPACE,
    ArmorWriter,
    armor,
    dearmor,
    is_armored,
)
from crypto.errors import ArmorError, HeaderError

DATA = os.urandom(200)  # 4 full lines of 48 bytes + 8 bytes


def _lines(data: bytes) -> list[bytes]:
    return armor(data).split(b"\n")


@pytest.mark.parametrize("size", [0, 1, 2, 3, 47, 48, 49, 96, 1000])
def test_round_trip_and_layout(size: int) -> None:
    data = os.urandom(size)
    encoded = armor(data)
    lines = encoded.split(b"\n")
    assert lines[0] == BEGIN and lines[-2] == END and lines[-1] == b""
    body = lines[1:-2]
    assert all(len(line) == 64 for line in body[:-1])
    assert not body or 0 < len(body[-1]) <= 64
    assert b"".join(body) == base64.b64encode(data)  # padded base64
    assert dearmor(encoded) == data


def test_full_last_line_has_no_empty_line_after_it() -> None:
    assert _lines(bytes(96))[1:-2] == [base64.b64encode(bytes(48))] * 2


def test_writer_streams_and_only_finish_writes_end() -> None:
    out = io.BytesIO()
    writer = ArmorWriter(out)
    for i in range(0, len(DATA), 7):
        writer.write(DATA[i : i + 7])
    writer.finish()
    assert out.getvalue() == armor(DATA)
    with pytest.raises(ValueError):
        writer.finish()
    aborted = io.BytesIO()
    ArmorWriter(aborted).close()
    assert END not in aborted.getvalue()


# --- accepted variations ----------------------------------------------------------------


def test_crlf_line_endings() -> None:
    assert dearmor(armor(DATA).replace(b"\n", b"\r\n")) == DATA


def test_missing_final_eol() -> None:
    assert dearmor(armor(DATA).rstrip(b"\n")) == DATA


def test_whitespace_around_the_block() -> None:
    assert dearmor(b"\n\r  \t\n" + armor(DATA) + b"\n\n \t\r\n") == DATA


# --- refusals ---------------------------------------------------------------------------


def _mutated(old: bytes, new: bytes) -> bytes:
    encoded = armor(DATA)
    assert old in encoded
    return encoded.replace(old, new, 1)


LINE1 = _lines(DATA)[1]
LAST = _lines(DATA)[-3]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"garbage\n" + armor(DATA), "BEGIN"),
        (armor(DATA) + b"garbage\n", "data after the END line"),
        (armor(DATA) + b" " * (MAX_WHITESPACE + 1), "data after the END line"),
        (b" " * (MAX_WHITESPACE + 1) + armor(DATA), "too much whitespace"),
        (_mutated(BEGIN, BEGIN.lower()), "BEGIN"),
        (_mutated(BEGIN, b"-----BEGIN AGE ENCRYPTED FILE----- "), "BEGIN"),
        (_mutated(BEGIN, b"-----BEGIN PGP MESSAGE-----"), "BEGIN"),
        (_mutated(END, b"----- END AGE ENCRYPTED FILE -----"), "expected the END line"),
        (_mutated(END + b"\n", b""), "missing '-----END"),
        (_mutated(BEGIN + b"\n", BEGIN + b"\nVersion: 1\n\n"), "invalid base64 line"),
        (_mutated(BEGIN + b"\n", BEGIN + b"\n\n"), "empty line"),
        (_mutated(LAST + b"\n", LAST + b"\n\n"), "empty line"),
        (_mutated(LINE1, b" " + LINE1[1:]), "invalid base64 line"),
        (_mutated(LINE1, LINE1[:-1] + b" "), "invalid base64 line"),
        (_mutated(LINE1 + b"\n", LINE1 + b" \n"), "longer than 64"),
        (_mutated(LINE1, LINE1[:-1] + b"*"), "invalid base64 line"),
        (_mutated(LINE1 + b"\n", LINE1[:32] + b"\n" + LINE1[32:] + b"\n"), "expected the END line"),
        (_mutated(LINE1 + b"\n", LINE1 + b"AAAA\n"), "longer than 64"),
        (_mutated(LAST, LAST.rstrip(b"=")), "invalid base64 line"),  # missing padding
        (_mutated(LAST, LAST[:-3] + b"B=="), "non-canonical"),
        (_mutated(LAST, LAST[:-1] + b"\n="), "invalid base64 line"),  # EOL inside padding
        (_mutated(END, b"=abcd\n" + END), "expected the END line"),  # PGP-style checksum
        (_mutated(LINE1, LINE1.replace(LINE1[:4], b"\xc3\xa9AA", 1)), "invalid base64 line"),
        (b"", "BEGIN"),
        (BEGIN, "BEGIN"),
    ],
)
def test_refusals(data: bytes, fragment: str) -> None:
    with pytest.raises(ArmorError, match=fragment):
        dearmor(data)


def test_padding_only_on_the_last_line() -> None:
    padded_first = base64.b64encode(b"x") + b"\n" + base64.b64encode(bytes(48)) + b"\n"
    with pytest.raises(ArmorError, match="expected the END line"):
        dearmor(BEGIN + b"\n" + padded_first + END + b"\n")


def test_overlong_line_is_bounded() -> None:
    with pytest.raises(ArmorError, match="longer than 64"):
        dearmor(BEGIN + b"\n" + b"A" * 100_000)


# --- detection and whole files ----------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        (b"-", True),
        (b" ", True),
        (b"\n-----BEGIN AGE", True),
        (b"a", False),
        (b"age-encryption.org/v1\n", False),
        (b"", False),
        (b"-----END", False),
    ],
)
def test_is_armored(prefix: bytes, expected: bool) -> None:
    assert is_armored(prefix) is expected


@pytest.mark.parametrize("size", [0, 5, 70_000])
def test_encrypt_armored_and_decrypt_autodetects(size: int) -> None:
    identity = generate_identity()
    plaintext = os.urandom(size)
    for use_armor in (True, False):
        out = io.BytesIO()
        encrypt([identity.recipient()], io.BytesIO(plaintext), out, armor=use_armor)
        assert out.getvalue().startswith(BEGIN) is use_armor
        back = io.BytesIO()
        decrypt([identity], io.BytesIO(out.getvalue()), back)
        assert back.getvalue() == plaintext


def test_forced_modes() -> None:
    identity = generate_identity()
    out = io.BytesIO()
    encrypt([identity.recipient()], io.BytesIO(b"hi"), out, armor=True)
    with pytest.raises(ArmorError, match="BEGIN"):
        decrypt([identity], io.BytesIO(b"junk" + out.getvalue()), io.BytesIO(), armored=True)
    with pytest.raises(HeaderError, match="parsing age header"):
        decrypt([identity], io.BytesIO(out.getvalue()), io.BytesIO(), armored=False)


def test_armor_error_inside_payload_stops_decryption() -> None:
    identity = generate_identity()
    out = io.BytesIO()
    encrypt([identity.recipient()], io.BytesIO(os.urandom(1000)), out, armor=True)
    lines = out.getvalue().split(b"\n")
    lines[-3] = lines[-3][:-1] + b"!"
    with pytest.raises(ArmorError):
        decrypt([identity], io.BytesIO(b"\n".join(lines)), io.BytesIO())
    garbage = out.getvalue() + b"trailing"
    sink = io.BytesIO()
    with pytest.raises(ArmorError, match="data after the END line"):
        decrypt([identity], io.BytesIO(garbage), sink)
    assert sink.getvalue() == b""  # the final chunk is not released before the armor ends
