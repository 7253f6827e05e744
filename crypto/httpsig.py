"""HTTP Message Signatures (RFC 9421) with Ed25519, and Content-Digest (RFC 9530), for camvault.

Every request of a camera, panel, customer or operator to the storage service is signed with
that party's Ed25519 key. This module is the pure part: it builds the signature base
(RFC 9421 section 2.5), serializes and parses the ``Signature-Input`` and ``Signature`` fields
(section 4, RFC 8941 structured fields), signs and verifies (section 3.1 / 3.2, algorithm
``ed25519`` of section 3.3.6) and checks the body's ``Content-Digest`` (RFC 9530 section 2,
algorithm ``sha-256``). The HTTP server and client adapt their request objects to
:class:`HttpRequest`; replay protection (remembering nonces) is the server's job.

camvault profile (stricter than the RFCs, on purpose):

- exactly one signature per request, under any label (``sig1`` by convention);
- supported components: ``@method``, ``@authority``, ``@path``, ``@query`` (section 2.2) and
  lowercase HTTP field names (section 2.1); component parameters (``;sf``, ``;key``, ``;req``,
  ...) are refused;
- signature parameters (section 2.3): exactly ``created``, ``expires`` (integers), ``keyid``,
  ``nonce``, ``alg`` (= ``"ed25519"``) and ``tag`` (= ``"camvault"``), each once;
- ``Signature-Input`` must be the canonical RFC 8941 serialization of what it says (single
  spaces, no optional whitespace), so that the ``@signature-params`` line we verify is exactly
  the text the client sent;
- component values must be printable ASCII (no CR/LF can be smuggled into the base).

Failures raise :class:`HttpSignatureError` whose ``reason`` is a stable machine-readable code.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from crypto.ed25519 import SIGNATURE_SIZE, Ed25519PublicKey, Ed25519SigningKey
from crypto.encoding import Base64Error, NonCanonicalBase64Error, b64decode_padded, b64encode_padded
from crypto.errors import KeyFormatError, SignatureError

ALG = "ed25519"
TAG = "camvault"
DEFAULT_LABEL = "sig1"

#: Derived components (RFC 9421 section 2.2) this profile supports.
DERIVED_COMPONENTS = frozenset({"@method", "@authority", "@path", "@query"})
#: Signature parameters (section 2.3), in the order :func:`sign_request` writes them.
PARAM_ORDER = ("created", "expires", "keyid", "nonce", "alg", "tag")

MAX_FIELD_LEN = 4096
MAX_COMPONENTS = 32
MAX_KEYID_LEN = 300

_KEY_RE = re.compile(r"[a-z*][a-z0-9_.*-]{0,63}")  # RFC 8941 section 3.1.2 key
_FIELD_NAME_RE = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]{1,64}")  # lowercase RFC 9110 token
_NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_PRINTABLE_RE = re.compile(r"[\x20-\x7e]*")
_INT_RE = re.compile(r"-?[0-9]{1,15}")


class HttpSignatureError(SignatureError):
    """A request signature or content digest was refused; ``reason`` says why (stable code):

    ``signature_missing``, ``signature_malformed``, ``signature_params_invalid``,
    ``signature_alg_unsupported``, ``signature_component_missing``, ``signature_expired``,
    ``signature_clock_skew``, ``signature_invalid``, ``content_digest_missing``,
    ``content_digest_malformed``, ``content_digest_mismatch``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """What a signature can cover of an HTTP request.

    ``authority`` is the Host header as sent (RFC 9421 section 2.2.3 normalizes it to lower
    case); ``path`` is the raw (percent-encoded) absolute path; ``query`` the raw query string
    without its ``?`` ("" when there is none); ``headers`` maps lowercase field names to their
    combined values (RFC 9421 section 2.1: lines trimmed and joined with ", ").
    """

    method: str
    authority: str
    path: str
    query: str
    headers: Mapping[str, str]


def request_from_asgi(
    method: str,
    raw_headers: Iterable[tuple[bytes, bytes]],
    raw_path: bytes,
    query_string: bytes,
) -> HttpRequest:
    """Build the :class:`HttpRequest` a server verifies from ASGI request data (the scope's
    header pairs, ``raw_path`` and ``query_string``), without importing a web framework.

    Field values of one name are trimmed and joined with ", " (RFC 9421 section 2.1); the
    authority is the first Host header as received.
    """
    values: dict[str, list[str]] = {}
    for name, value in raw_headers:
        values.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return HttpRequest(
        method=method,
        authority=values.get("host", [""])[0],
        path=raw_path.decode("latin-1").split("?", 1)[0],
        query=query_string.decode("latin-1"),
        headers={k: ", ".join(v.strip() for v in vs) for k, vs in values.items()},
    )


@dataclass(frozen=True, slots=True)
class SignatureParams:
    """The signature parameters of RFC 9421 section 2.3 that camvault requires."""

    created: int
    expires: int
    keyid: str
    nonce: str
    alg: str = ALG
    tag: str = TAG

    def serialize(self, covered: Sequence[str]) -> str:
        """The RFC 8941 inner list with parameters, as in ``Signature-Input`` (section 4.1)."""
        items = " ".join(_sf_string(c) for c in covered)
        return (
            f"({items});created={_sf_int(self.created)};expires={_sf_int(self.expires)}"
            f";keyid={_sf_string(self.keyid)};nonce={_sf_string(self.nonce)}"
            f";alg={_sf_string(self.alg)};tag={_sf_string(self.tag)}"
        )


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    """A parsed (not yet verified) signature of a request."""

    label: str
    covered: tuple[str, ...]
    params: SignatureParams
    signature: bytes
    serialized_params: str  # exactly as received (== params.serialize(covered))


# --- RFC 8941 pieces --------------------------------------------------------------------------


def _sf_string(value: str) -> str:
    """RFC 8941 section 4.1.6: a String is printable ASCII, with \\ and " escaped."""
    if not _PRINTABLE_RE.fullmatch(value):
        raise HttpSignatureError("signature_params_invalid", "string is not printable ASCII")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sf_int(value: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 10**15:
        raise HttpSignatureError("signature_params_invalid", "integer out of range")
    return str(value)


def _sf_bytes(value: bytes) -> str:
    """RFC 8941 section 4.1.8: ``:`` base64 (with padding) ``:``."""
    return ":" + b64encode_padded(value) + ":"


class _Parser:
    """A strict RFC 8941 parser for the subset camvault uses (section 4.2)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> HttpSignatureError:
        return HttpSignatureError("signature_malformed", f"{what} at offset {self.pos}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            raise self.fail(f"expected {ch!r}")
        self.pos += 1

    def key(self) -> str:
        m = _KEY_RE.match(self.text, self.pos)
        if not m:
            raise self.fail("expected a key")
        self.pos = m.end()
        return m.group(0)

    def string(self) -> str:
        self.expect('"')
        out: list[str] = []
        while True:
            ch = self.peek()
            if ch == "":
                raise self.fail("unterminated string")
            self.pos += 1
            if ch == '"':
                return "".join(out)
            if ch == "\\":
                nxt = self.peek()
                if nxt not in ('"', "\\"):
                    raise self.fail("bad escape in string")
                self.pos += 1
                out.append(nxt)
            elif not (" " <= ch <= "~"):
                raise self.fail("non-printable character in string")
            else:
                out.append(ch)

    def integer(self) -> int:
        m = _INT_RE.match(self.text, self.pos)
        if not m:
            raise self.fail("expected an integer")
        self.pos = m.end()
        return int(m.group(0))

    def byte_sequence(self) -> bytes:
        self.expect(":")
        end = self.text.find(":", self.pos)
        if end < 0:
            raise self.fail("unterminated byte sequence")
        chunk = self.text[self.pos : end]
        try:
            data = b64decode_padded(chunk)
        except NonCanonicalBase64Error:
            raise self.fail("non-canonical base64") from None
        except Base64Error:
            raise self.fail("byte sequence is not padded base64") from None
        self.pos = end + 1
        return data

    def bare_item(self) -> str | int:
        if self.peek() == '"':
            return self.string()
        return self.integer()

    def params(self) -> list[tuple[str, str | int]]:
        out: list[tuple[str, str | int]] = []
        while self.peek() == ";":
            self.pos += 1
            name = self.key()
            self.expect("=")  # camvault parameters all have values (no bare true)
            out.append((name, self.bare_item()))
        return out

    def inner_list_of_strings(self) -> list[str]:
        self.expect("(")
        items: list[str] = []
        while self.peek() != ")":
            if items:
                self.expect(" ")
            items.append(self.string())
            if self.peek() == ";":
                raise HttpSignatureError(
                    "signature_malformed", "component parameters are not supported"
                )
            if len(items) > MAX_COMPONENTS:
                raise self.fail("too many covered components")
        self.expect(")")
        return items

    def end(self) -> None:
        if self.pos != len(self.text):
            raise self.fail("unexpected trailing characters")


def _single_member(text: str | None, what: str) -> tuple[str, _Parser]:
    if text is None or text == "":
        raise HttpSignatureError("signature_missing", f"{what} header is missing")
    if len(text) > MAX_FIELD_LEN:
        raise HttpSignatureError("signature_malformed", f"{what} header is too long")
    p = _Parser(text)
    label = p.key()
    p.expect("=")
    return label, p


# --- components and the signature base (RFC 9421 section 2) ---------------------------------


def _component_value(request: HttpRequest, name: str) -> str:
    if name == "@method":
        value = request.method
    elif name == "@authority":
        value = request.authority.lower()
    elif name == "@path":
        value = request.path or "/"
    elif name == "@query":
        value = "?" + request.query
    elif name.startswith("@"):
        raise HttpSignatureError("signature_malformed", f"unsupported derived component {name}")
    else:
        if not _FIELD_NAME_RE.fullmatch(name):
            raise HttpSignatureError("signature_malformed", f"bad field name {name!r}")
        field = request.headers.get(name)
        if field is None:
            raise HttpSignatureError(
                "signature_component_missing", f"covered field {name!r} is not in the request"
            )
        value = field.strip()
    if not _PRINTABLE_RE.fullmatch(value):
        raise HttpSignatureError(
            "signature_malformed", f"component {name} has a non-printable value"
        )
    return value


def signature_base(request: HttpRequest, covered: Sequence[str], params_text: str) -> bytes:
    """The signature base of RFC 9421 section 2.5: one ``"name": value`` line per covered
    component, then the ``"@signature-params"`` line (no trailing newline)."""
    if len(set(covered)) != len(covered):
        raise HttpSignatureError("signature_malformed", "a component is covered twice")
    lines = [f"{_sf_string(n)}: {_component_value(request, n)}" for n in covered]
    lines.append(f'"@signature-params": {params_text}')
    return "\n".join(lines).encode("ascii")


def sign_request(
    request: HttpRequest,
    covered: Sequence[str],
    params: SignatureParams,
    key: Ed25519SigningKey,
    label: str = DEFAULT_LABEL,
) -> tuple[str, str]:
    """Sign (RFC 9421 section 3.1); returns the ``Signature-Input`` and ``Signature`` values."""
    _check_params(params)
    if not _KEY_RE.fullmatch(label):
        raise HttpSignatureError("signature_malformed", "bad signature label")
    text = params.serialize(covered)
    sig = key.sign(signature_base(request, covered, text))
    return f"{label}={text}", f"{label}={_sf_bytes(sig)}"


def _check_params(params: SignatureParams) -> None:
    if params.alg != ALG:
        raise HttpSignatureError("signature_alg_unsupported", f"alg must be {ALG!r}")
    if params.tag != TAG:
        raise HttpSignatureError("signature_params_invalid", f"tag must be {TAG!r}")
    if not 1 <= len(params.keyid) <= MAX_KEYID_LEN or not _PRINTABLE_RE.fullmatch(params.keyid):
        raise HttpSignatureError("signature_params_invalid", "keyid is malformed")
    if not _NONCE_RE.fullmatch(params.nonce):
        raise HttpSignatureError(
            "signature_params_invalid", "nonce must be 16-128 base64url characters"
        )
    if params.created < 0 or params.expires <= params.created:
        raise HttpSignatureError("signature_params_invalid", "expires must be after created")


def parse_signature(signature_input: str | None, signature: str | None) -> ParsedSignature:
    """Parse the two fields (RFC 9421 section 4.1 and 4.2) of a camvault-profile signature."""
    label, p = _single_member(signature_input, "Signature-Input")
    start = p.pos
    covered = p.inner_list_of_strings()
    raw_params = p.params()
    if p.peek() == ",":
        raise HttpSignatureError("signature_malformed", "more than one signature")
    p.end()
    serialized = p.text[start:]
    seen: dict[str, str | int] = {}
    for name, value in raw_params:
        if name not in PARAM_ORDER:
            raise HttpSignatureError("signature_params_invalid", f"unknown parameter {name!r}")
        if name in seen:
            raise HttpSignatureError("signature_params_invalid", f"parameter {name!r} repeated")
        seen[name] = value
    missing = [n for n in PARAM_ORDER if n not in seen]
    if missing:
        raise HttpSignatureError("signature_params_invalid", f"parameter {missing[0]!r} missing")
    created, expires = seen["created"], seen["expires"]
    strings = [seen[n] for n in ("keyid", "nonce", "alg", "tag")]
    if not isinstance(created, int) or not isinstance(expires, int):
        raise HttpSignatureError("signature_params_invalid", "created/expires must be integers")
    if not all(isinstance(s, str) for s in strings):
        raise HttpSignatureError("signature_params_invalid", "keyid/nonce/alg/tag are strings")
    keyid, nonce, alg, tag = (str(s) for s in strings)
    params = SignatureParams(created, expires, keyid, nonce, alg, tag)
    _check_params(params)
    if params.serialize(covered) != serialized and _reordered(serialized, covered, raw_params):
        raise HttpSignatureError("signature_malformed", "Signature-Input is not canonical")

    sig_label, q = _single_member(signature, "Signature")
    if sig_label != label:
        raise HttpSignatureError(
            "signature_malformed", "Signature and Signature-Input labels differ"
        )
    sig = q.byte_sequence()
    if q.peek() == ",":
        raise HttpSignatureError("signature_malformed", "more than one signature")
    q.end()
    if len(sig) != SIGNATURE_SIZE:
        raise HttpSignatureError("signature_malformed", f"signature must be {SIGNATURE_SIZE} bytes")
    return ParsedSignature(label, tuple(covered), params, sig, serialized)


def _reordered(serialized: str, covered: Sequence[str], raw: Sequence[tuple[str, object]]) -> bool:
    """True unless ``serialized`` is the canonical form of ``covered`` and ``raw`` in the
    order received (another parameter order is allowed; other spellings are not)."""
    items = " ".join(_sf_string(c) for c in covered)
    parts = [f"({items})"]
    for name, value in raw:
        text = _sf_int(value) if isinstance(value, int) else _sf_string(str(value))
        parts.append(f";{name}={text}")
    return "".join(parts) != serialized


def check_times(params: SignatureParams, *, now: int, max_skew_s: int, max_lifetime_s: int) -> None:
    """Freshness (RFC 9421 section 3.2.1 step 7 leaves the policy to the verifier): created
    not in the future (beyond ``max_skew_s``), not expired (beyond ``max_skew_s``), and a
    validity window of at most ``max_lifetime_s``."""
    if params.expires - params.created > max_lifetime_s:
        raise HttpSignatureError(
            "signature_params_invalid", f"signature valid longer than {max_lifetime_s} s"
        )
    if params.created > now + max_skew_s:
        raise HttpSignatureError(
            "signature_clock_skew", f"created is {params.created - now} s in the future"
        )
    if now > params.expires + max_skew_s:
        raise HttpSignatureError(
            "signature_expired", f"signature expired {now - params.expires} s ago"
        )


def verify_request(
    request: HttpRequest,
    parsed: ParsedSignature,
    key: Ed25519PublicKey,
    *,
    required: Collection[str],
) -> None:
    """Verify the signature (RFC 9421 section 3.2) under ``key``, after checking that every
    component in ``required`` is covered."""
    for name in required:
        if name not in parsed.covered:
            raise HttpSignatureError(
                "signature_component_missing", f"signature does not cover {name!r}"
            )
    base = signature_base(request, parsed.covered, parsed.serialized_params)
    try:
        key.verify(base, parsed.signature)
    except (SignatureError, KeyFormatError) as exc:
        raise HttpSignatureError("signature_invalid", "signature does not verify") from exc


# --- Content-Digest (RFC 9530) ---------------------------------------------------------------


def content_digest(body: bytes) -> str:
    """The ``Content-Digest`` value for ``body`` (RFC 9530 section 2, algorithm sha-256)."""
    return "sha-256=" + _sf_bytes(hashlib.sha256(body).digest())


def check_content_digest(value: str | None, body: bytes) -> None:
    """Check a ``Content-Digest`` of exactly one ``sha-256`` member against ``body``."""
    if value is None or value == "":
        raise HttpSignatureError("content_digest_missing", "Content-Digest header is missing")
    p = _Parser(value)
    try:
        name = p.key()
        p.expect("=")
        digest = p.byte_sequence()
        p.end()
    except HttpSignatureError as exc:
        raise HttpSignatureError("content_digest_malformed", str(exc)) from None
    if name != "sha-256" or len(digest) != 32:
        raise HttpSignatureError("content_digest_malformed", "Content-Digest must be sha-256 only")
    if not hmac.compare_digest(digest, hashlib.sha256(body).digest()):
        raise HttpSignatureError(
            "content_digest_mismatch", "Content-Digest does not match the body"
        )
