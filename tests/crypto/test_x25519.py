"""Native recipient types: X25519 (with Bech32 keys and key files) and scrypt."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.age import bech32, parse_identity_file, parse_recipients_file
from crypto.age.format import FileKey, Stanza
from crypto.age.scrypt import ScryptIdentity, ScryptRecipient
from crypto.age.x25519 import (
    X25519Identity,
    X25519Recipient,
    format_identity_file,
    generate_identity,
)
from crypto.encoding import b64decode, b64encode
from crypto.errors import HeaderError, IncorrectIdentityError, KeyFormatError

FILE_KEY = FileKey(bytes.fromhex("59454c4c4f57205355424d4152494e45"))
# The example pair of the C2SP age spec ("The X25519 recipient type").
SPEC_IDENTITY = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
SPEC_RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"


# --- bech32 (BIP 173) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "valid",
    [
        "A12UEL5L",
        "a12uel5l",
        "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
        "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
        "?1ezyfcl",
    ],
)
def test_bech32_bip173_valid(valid: str) -> None:
    hrp, data = bech32.decode(valid)
    assert bech32.encode(hrp, data) == valid


@pytest.mark.parametrize(
    ("invalid", "fragment"),
    [
        ("A1G7SGD8", "checksum"),
        ("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxW", "mixed case"),
        ("pzry9x0s0muk", "separator"),
        ("1pzry9x0s0muk", "separator"),
        ("x1b4n0q5v", "data character"),
        ("li1dgmt3", "separator"),
        ("de1lg7wt\xff", "invalid character"),
        ("a 12uel5l", "invalid character"),
    ],
)
def test_bech32_bip173_invalid(invalid: str, fragment: str) -> None:
    with pytest.raises(KeyFormatError, match=fragment):
        bech32.decode(invalid)


def test_bech32_has_no_length_limit_and_checks_padding() -> None:
    data = os.urandom(200)
    text = bech32.encode("age1pq", data)
    assert len(text) > 90 and bech32.decode(text) == ("age1pq", data)
    # BIP 173 rejects this 90+ character string only for its length; age has no limit.
    long_hrp = (
        "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio"
    )
    assert bech32.decode(long_hrp + "1569pvx") == (long_hrp, b"")
    # One byte is two 5-bit groups (10 bits): the 2 padding bits must be zero.
    values = [0, 1]
    text = "a1" + "".join("qpzry9x8gf2tvdw0s3jn54khce6mua7l"[v] for v in values)
    text += "".join("qpzry9x8gf2tvdw0s3jn54khce6mua7l"[v] for v in bech32._checksum("a", values))
    with pytest.raises(KeyFormatError, match="padding"):
        bech32.decode(text)


# --- keys -------------------------------------------------------------------------------


def test_spec_example_keys() -> None:
    identity = X25519Identity.parse(SPEC_IDENTITY)
    assert identity.to_text() == SPEC_IDENTITY
    assert str(identity.recipient()) == SPEC_RECIPIENT
    assert X25519Recipient.parse(SPEC_RECIPIENT) == identity.recipient()


def test_recipient_matches_rfc7748_base_point_multiplication() -> None:
    secret = os.urandom(32)
    public = X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes_raw()
    assert X25519Identity(secret).recipient().public_key == public


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (SPEC_RECIPIENT.upper(), "not an age X25519 recipient"),
        (SPEC_RECIPIENT[:-1] + "q", "checksum"),
        (bech32.encode("age", bytes(31)), "32 bytes"),
        (bech32.encode("agex", bytes(32)), "not an age X25519 recipient"),
        (SPEC_IDENTITY, "not an age X25519 recipient"),
        ("", "separator"),
    ],
)
def test_recipient_parse_refusals(text: str, fragment: str) -> None:
    with pytest.raises(KeyFormatError, match=fragment):
        X25519Recipient.parse(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (SPEC_IDENTITY.lower(), "not an age X25519 secret key"),
        (SPEC_IDENTITY[:-1] + "Q", "checksum"),
        (bech32.encode("AGE-SECRET-KEY-", bytes(33)), "32 bytes"),
        (bech32.encode("AGE-SECRET-KEY-PQ-", bytes(32)), "not an age X25519 secret key"),
        (SPEC_RECIPIENT, "not an age X25519 secret key"),
    ],
)
def test_identity_parse_refusals_never_echo_the_secret(text: str, fragment: str) -> None:
    with pytest.raises(KeyFormatError, match=fragment) as info:
        X25519Identity.parse(text)
    assert text not in str(info.value) and text[15:40] not in str(info.value)


def test_secrets_are_redacted() -> None:
    identity = X25519Identity.parse(SPEC_IDENTITY)
    assert SPEC_IDENTITY not in repr(identity) and "redacted" in repr(identity)
    assert SPEC_RECIPIENT in repr(identity)
    assert "redacted" in repr(FILE_KEY) and FILE_KEY.data.hex() not in repr(FILE_KEY)
    assert "hunter2" not in repr(ScryptRecipient("hunter2", 2))
    assert "hunter2" not in repr(ScryptIdentity("hunter2"))


def test_wrong_key_sizes() -> None:
    with pytest.raises(KeyFormatError):
        X25519Identity(bytes(31))
    with pytest.raises(KeyFormatError):
        X25519Recipient(bytes(33))


# --- X25519 stanza ----------------------------------------------------------------------


def test_wrap_known_answer_against_pyca() -> None:
    identity = X25519Identity(bytes(range(32)))
    eph = bytes(range(32, 64))
    [stanza] = identity.recipient()._wrap_from_parts(FILE_KEY, eph)
    share = X25519PrivateKey.from_private_bytes(eph).public_key().public_bytes_raw()
    recipient = identity.recipient().public_key
    shared = X25519PrivateKey.from_private_bytes(eph).exchange(
        X25519PublicKey.from_public_bytes(recipient)
    )
    wrap_key = HKDF(
        hashes.SHA256(), 32, salt=share + recipient, info=b"age-encryption.org/v1/X25519"
    ).derive(shared)
    body = ChaCha20Poly1305(wrap_key).encrypt(bytes(12), FILE_KEY.data, None)
    assert stanza == Stanza("X25519", (b64encode(share),), body)
    assert identity.unwrap([stanza]) == FILE_KEY


def test_wrap_is_randomized_and_round_trips() -> None:
    identity = generate_identity()
    a = identity.recipient().wrap(FILE_KEY)
    b = identity.recipient().wrap(FILE_KEY)
    assert a != b
    assert identity.unwrap(a) == identity.unwrap(b) == FILE_KEY


def test_unwrap_ignores_other_types_and_other_recipients() -> None:
    me, other = generate_identity(), generate_identity()
    stanzas = [
        Stanza("x25519", ("not", "mine"), b"?"),  # type names are case-sensitive
        Stanza("scrypt", ("ignored",), b""),
        *other.recipient().wrap(FILE_KEY),
        *me.recipient().wrap(FILE_KEY),
    ]
    assert me.unwrap(stanzas) == FILE_KEY
    with pytest.raises(IncorrectIdentityError, match="no X25519 stanza for this identity"):
        me.unwrap(stanzas[:3])


def _stanza(**change: object) -> tuple[X25519Identity, Stanza]:
    identity = generate_identity()
    [good] = identity.recipient().wrap(FILE_KEY)
    fields = {"type": good.type, "args": good.args, "body": good.body, **change}
    return identity, Stanza(**fields)  # type: ignore[arg-type]


LOW_ORDER = [bytes(32), (1).to_bytes(32, "little")]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"args": ()}, "exactly one argument"),
        ({"args": ("AAAA", "extra")}, "exactly one argument"),
        ({"args": (b64encode(bytes(31)),)}, "32 bytes"),
        ({"args": (b64encode(bytes(33)),)}, "32 bytes"),
        ({"args": (b64encode(bytes(32)) + "=",)}, "ephemeral share"),
        ({"args": (b64encode(bytes(32))[:-1] + "B",)}, "non-canonical"),
        ({"args": (b64encode(LOW_ORDER[0]),)}, "all zeros"),
        ({"args": (b64encode(LOW_ORDER[1]),)}, "all zeros"),
        ({"body": bytes(31)}, "body must be 32 bytes"),
        ({"body": bytes(33)}, "body must be 32 bytes"),
        ({"body": b""}, "body must be 32 bytes"),
    ],
)
def test_malformed_x25519_stanza_is_fatal(change: dict[str, object], fragment: str) -> None:
    identity, stanza = _stanza(**change)
    with pytest.raises(HeaderError, match=fragment):
        identity.unwrap([stanza])


def test_bad_tag_is_not_for_me() -> None:
    identity, good = _stanza()
    bad = Stanza(good.type, good.args, good.body[:-1] + bytes([good.body[-1] ^ 1]))
    with pytest.raises(IncorrectIdentityError):
        identity.unwrap([bad])


def test_low_order_recipient_is_refused_on_wrap() -> None:
    with pytest.raises(KeyFormatError, match="low-order"):
        X25519Recipient(bytes(32)).wrap(FILE_KEY)


# --- key files --------------------------------------------------------------------------


def test_identity_file_matches_age_keygen_layout() -> None:
    identity = X25519Identity.parse(SPEC_IDENTITY)
    created = datetime(2024, 5, 1, 12, 34, 56, 789, tzinfo=UTC)
    assert format_identity_file(identity, created) == (
        f"# created: 2024-05-01T12:34:56Z\n# public key: {SPEC_RECIPIENT}\n{SPEC_IDENTITY}\n"
    )
    plus2 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert "# created: 2024-05-01T12:00:00+02:00\n" in format_identity_file(identity, plus2)
    with pytest.raises(ValueError, match="timezone-aware"):
        format_identity_file(identity, datetime(2024, 5, 1))


def test_parse_identity_file() -> None:
    a, b = generate_identity(), generate_identity()
    text = format_identity_file(a, datetime.now(UTC)) + "\r\n# another\r\n" + b.to_text() + "\r\n"
    parsed = parse_identity_file(text)
    assert [i.to_text() for i in parsed] == [a.to_text(), b.to_text()]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "no identity"),
        ("# only a comment\n\n", "no identity"),
        (f"# c\n{SPEC_IDENTITY}\n{SPEC_IDENTITY[:-1]}Q\n", "line 3"),
        (f" {SPEC_IDENTITY}\n", "line 1"),
        (f"{SPEC_RECIPIENT}\n", "line 1"),
    ],
)
def test_parse_identity_file_refusals(text: str, fragment: str) -> None:
    with pytest.raises(KeyFormatError, match=fragment) as info:
        parse_identity_file(text)
    assert SPEC_IDENTITY[16:] not in str(info.value)


def test_parse_recipients_file() -> None:
    text = f"# team\n{SPEC_RECIPIENT}\n\n{generate_identity().recipient()}\r\n"
    assert len(parse_recipients_file(text)) == 2
    with pytest.raises(KeyFormatError, match="line 2"):
        parse_recipients_file(f"# x\n{SPEC_IDENTITY}\n")
    with pytest.raises(KeyFormatError, match="no recipient"):
        parse_recipients_file("# nothing\n")


# --- scrypt -----------------------------------------------------------------------------


def test_scrypt_known_answer_against_pyca() -> None:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    salt = bytes(range(16))
    [stanza] = ScryptRecipient("password", work_factor=4)._wrap_from_parts(FILE_KEY, salt)
    key = Scrypt(salt=b"age-encryption.org/v1/scrypt" + salt, length=32, n=16, r=8, p=1).derive(
        b"password"
    )
    body = ChaCha20Poly1305(key).encrypt(bytes(12), FILE_KEY.data, None)
    assert stanza == Stanza("scrypt", (b64encode(salt), "4"), body)
    assert ScryptIdentity("password").unwrap([stanza]) == FILE_KEY


def test_scrypt_wrong_passphrase_and_no_stanza() -> None:
    stanzas = ScryptRecipient("right", work_factor=2).wrap(FILE_KEY)
    with pytest.raises(IncorrectIdentityError, match="incorrect passphrase"):
        ScryptIdentity("wrong").unwrap(stanzas)
    with pytest.raises(IncorrectIdentityError, match="no scrypt stanza"):
        ScryptIdentity("right").unwrap(generate_identity().recipient().wrap(FILE_KEY))


def _scrypt(args: tuple[str, ...], body: bytes = bytes(32)) -> Stanza:
    return Stanza("scrypt", args, body)


SALT = b64encode(bytes(16))


@pytest.mark.parametrize(
    ("stanza", "fragment"),
    [
        (_scrypt((SALT,)), "expected salt and work factor"),
        (_scrypt((SALT, "2", "x")), "expected salt and work factor"),
        (_scrypt((b64encode(bytes(15)), "2")), "salt must be 16 bytes"),
        (_scrypt((b64encode(bytes(17)), "2")), "salt must be 16 bytes"),
        (_scrypt((SALT[:-1] + "B", "2")), "non-canonical"),
        (_scrypt((SALT + "==", "2")), "salt"),
        (_scrypt((SALT, "0")), "work factor must match"),
        (_scrypt((SALT, "02")), "work factor must match"),
        (_scrypt((SALT, "+2")), "work factor must match"),
        (_scrypt((SALT, "-2")), "work factor must match"),
        (_scrypt((SALT, "0x10")), "work factor must match"),
        (_scrypt((SALT, "2 ")), "work factor must match"),
        (_scrypt((SALT, "23")), "exceeds the maximum 22"),
        (_scrypt((SALT, "99999999999999999999")), "exceeds the maximum"),
        (_scrypt((SALT, "2"), bytes(31)), "body must be 32 bytes"),
        (_scrypt((SALT, "2"), bytes(48)), "body must be 32 bytes"),
    ],
)
def test_malformed_scrypt_stanza_is_fatal(stanza: Stanza, fragment: str) -> None:
    with pytest.raises(HeaderError, match=fragment):
        ScryptIdentity("pw").unwrap([stanza])


def test_scrypt_max_work_factor_is_configurable() -> None:
    stanzas = ScryptRecipient("pw", work_factor=5).wrap(FILE_KEY)
    with pytest.raises(HeaderError, match="exceeds the maximum 4"):
        ScryptIdentity("pw", max_work_factor=4).unwrap(stanzas)
    assert ScryptIdentity("pw", max_work_factor=5).unwrap(stanzas) == FILE_KEY


def test_scrypt_must_be_alone_even_for_the_identity() -> None:
    stanzas = ScryptRecipient("pw", work_factor=2).wrap(FILE_KEY)
    with pytest.raises(HeaderError, match="only stanza"):
        ScryptIdentity("pw").unwrap([*stanzas, Stanza("grease", (), b"")])
    with pytest.raises(HeaderError, match="only stanza"):
        ScryptIdentity("pw").unwrap(stanzas + stanzas)


@pytest.mark.parametrize("bad", [0, 31, -1])
def test_scrypt_parameter_bounds(bad: int) -> None:
    with pytest.raises(ValueError, match="work factor"):
        ScryptRecipient("pw", work_factor=bad)
    with pytest.raises(ValueError, match="work factor"):
        ScryptIdentity("pw", max_work_factor=bad)
    with pytest.raises(ValueError, match="empty"):
        ScryptRecipient("")


def test_b64decode_is_used_for_share_canonicality() -> None:
    # Sanity: the canonical-base64 helper the stanza parsers rely on refuses padding.
    with pytest.raises(ValueError):
        b64decode(b64encode(bytes(32)) + "=")


def test_identity_str_and_repr_never_show_the_secret() -> None:
    identity = X25519Identity.parse(SPEC_IDENTITY)
    for shown in (str(identity), repr(identity), f"{identity}", "%s" % (identity,)):  # noqa: UP031 (the logging style)
        assert "AGE-SECRET-KEY" not in shown
    assert identity.to_text() == SPEC_IDENTITY
