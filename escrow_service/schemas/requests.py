"""Request bodies as pydantic models, and their decoding into what the custodian answers.

A body that does not fit its model is refused as ``malformed_request`` (status 400), except a
release whose first problem is its session key: ``bad_session_key``. Problems are ranked as
the fields are listed (unknown fields first), so the code does not depend on how many other
fields are wrong. JSON is decoded with :func:`common.bodies.loads` (JSON nested too deeply to
parse is malformed like any other), then validated: what a body may contain is the same for
every route. Values walked recursively (a statement canonicalised, metadata parsed) refuse
nesting that exhausts the stack as malformed too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, NotRequired, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StrictInt, StrictStr
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails
from typing_extensions import TypedDict

from common.bodies import JsonError, loads
from crypto.canonical import canonical_json
from crypto.encoding import b64decode
from crypto.errors import CryptoError
from crypto.escrow import ESCROW_STANZA_TYPE
from escrow_service.core.errors import Reason, Refusal
from escrow_service.schemas.metadata import MemoMetadata
from escrow_service.schemas.release import ReleaseIn, ReleaseItemIn

M = TypeVar("M", bound=BaseModel)


def _signed_statement(obj: object) -> bytes:
    """A signed statement given as its JSON envelope -> its canonical bytes."""
    if not isinstance(obj, dict):
        raise ValueError("must be a signed statement (JSON object)")
    try:
        return canonical_json(obj)
    except CryptoError as exc:
        raise ValueError(str(exc)) from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _optional_signed_statement(obj: object) -> bytes | None:
    return None if obj is None else _signed_statement(obj)


def _base64(obj: object) -> bytes:
    """Unpadded standard base64 text -> bytes."""
    if not isinstance(obj, str):
        raise ValueError("must be base64")
    return b64decode(obj)


def _metadata(obj: object) -> MemoMetadata:
    try:
        return MemoMetadata.from_json(obj)
    except CryptoError as exc:
        raise ValueError(str(exc)) from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


#: A signed statement (JSON envelope), as the canonical bytes its signature covers.
SignedStatementJson = Annotated[
    bytes, PlainValidator(_signed_statement, json_schema_input_type=dict[str, Any])
]
Base64 = Annotated[bytes, PlainValidator(_base64, json_schema_input_type=str)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _StatementBody(BaseModel):
    """``{"<name>": <signed statement>}``; other members are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class SiteKeysIn(_StatementBody):
    site_keys: SignedStatementJson


class DeviceEnrollmentIn(_StatementBody):
    device_enrollment: SignedStatementJson


class OperatorRegistrationIn(_StatementBody):
    registration: SignedStatementJson


class RevocationIn(_StatementBody):
    revocation: SignedStatementJson


class DeviceRevocationIn(_StatementBody):
    device_revocation: SignedStatementJson


class AlarmCancelIn(_StatementBody):
    alarm_cancel: SignedStatementJson


class SiteSettingsIn(_Body):
    """``{"access_period_s": <int seconds> | null}`` (null: the custodian's default)."""

    access_period_s: StrictInt | None


class StanzaIn(TypedDict):
    """An escrow stanza: its arguments and body (base64), and its type if not
    ``camvault-escrow`` (a hybrid stanza is ``camvault-escrow-mlkem768x25519``)."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    args: list[StrictStr]
    body: Base64
    type: NotRequired[Literal["camvault-escrow", "camvault-escrow-mlkem768x25519"]]


class ReleaseItemBody(TypedDict):
    """A recording's metadata and this custodian's escrow stanza from its header.

    (Typed dicts rather than models: they validate a quarter faster, and a release lists
    thousands of items.)
    """

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    metadata: Annotated[
        MemoMetadata, PlainValidator(_metadata, json_schema_input_type=dict[str, Any])
    ]
    stanza: StanzaIn


class ReleaseBody(_Body):
    """``POST /v1/releases`` (docs/ESCROW.md "Release")."""

    purpose: StrictStr
    justification: Annotated[
        bytes | None,
        PlainValidator(_optional_signed_statement, json_schema_input_type=dict[str, Any] | None),
    ] = None
    session_key: Base64
    items: Annotated[list[ReleaseItemBody], Field(min_length=1)]

    def release_in(self) -> ReleaseIn:
        return ReleaseIn(
            self.purpose,
            self.justification,
            self.session_key,
            tuple(
                ReleaseItemIn(
                    it["metadata"],
                    tuple(it["stanza"]["args"]),
                    it["stanza"]["body"],
                    it["stanza"].get("type", ESCROW_STANZA_TYPE),
                )
                for it in self.items
            ),
        )


def documented(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` of a route whose body ``model`` is read by a dependency (FastAPI
    documents only the bodies it reads itself); nested definitions are inlined."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    content = {"application/json": {"schema": inline(schema)}}
    return {"requestBody": {"required": True, "content": content}}


def validation_message(errors: Sequence[ErrorDetails] | Sequence[Any]) -> str:
    """``<where>: <what>`` of the first validation error."""
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    if first.get("type") == "value_error" and "error" in first.get("ctx", {}):
        what = str(first["ctx"]["error"])
    else:
        what = first.get("msg", "invalid request")
    return f"{where}: {what}" if where else what


def decode_json(body: bytes) -> Any:
    """The body's JSON value; refused as ``malformed_request`` when it is not JSON or is
    nested too deeply to parse."""
    try:
        return loads(body)
    except JsonError:
        raise Refusal(Reason.MALFORMED_REQUEST, "body is not JSON") from None


def parse_body(model: type[M], body: bytes) -> M:
    """The body as ``model``; refused as ``malformed_request`` when it does not fit."""
    obj = decode_json(body)
    try:
        return model.model_validate(obj)
    except PydanticValidationError as exc:
        raise Refusal(Reason.MALFORMED_REQUEST, validation_message(exc.errors())) from None


_RELEASE_FIELDS = tuple(ReleaseBody.model_fields)


def _rank(error: ErrorDetails) -> tuple[int, int]:
    """Order of the checks: unknown fields, then the fields as listed, the body as a whole
    first of all."""
    loc = error["loc"]
    if not loc:
        return (-1, -1)
    if len(loc) == 1 and error["type"] == "extra_forbidden":
        return (0, 0)
    name = loc[0]
    return (1, _RELEASE_FIELDS.index(name) if name in _RELEASE_FIELDS else 0)


def decode_release(body: bytes) -> ReleaseIn:
    """A release request body -> :class:`ReleaseIn`, or the refusal of its first problem."""
    obj = decode_json(body)
    try:
        return ReleaseBody.model_validate(obj).release_in()
    except PydanticValidationError as exc:
        errors = sorted(exc.errors(), key=_rank)
        if errors[0]["loc"][:1] == ("session_key",):
            raise Refusal(
                Reason.BAD_SESSION_KEY, "session_key must be base64 (unpadded) of 32 bytes"
            ) from None
        raise Refusal(Reason.MALFORMED_REQUEST, validation_message(errors)) from None
