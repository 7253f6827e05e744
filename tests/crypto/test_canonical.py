"""RFC 8785 canonical JSON for camvault's subset, and strict parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.canonical import canonical_json, parse_canonical_json
from crypto.errors import StatementError
from crypto.metadata import RecordingKind, RecordingMetadata


def test_members_sorted_by_utf16_code_units() -> None:
    # U+FB01 sorts before U+1F600 by code point order but after it in UTF-16 (RFC 8785 3.2.3).
    assert canonical_json({"\U0001f600": 1, "\ufb01": 2, "a": 3}) == (
        '{"a":3,"\U0001f600":1,"\ufb01":2}'.encode()
    )


def test_string_escaping_matches_ecmascript() -> None:
    assert canonical_json('\u0008\t\n\u000c\r\u0001"\\/\u2028é') == (
        b'"\\b\\t\\n\\f\\r\\u0001\\"\\\\/\xe2\x80\xa8\xc3\xa9"'
    )


def test_rfc8785_structure_example_without_floats() -> None:
    value = {
        "numbers": [333333333, 4, 2e0 and 2, 0],
        "string": "\u20ac$\u000f\nA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    assert canonical_json(value) == (
        b'{"literals":[null,true,false],"numbers":[333333333,4,2,0],'
        b'"string":"\xe2\x82\xac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (1.5, "floating-point"),
        (2**53, "exact IEEE-754 range"),
        ({1: "x"}, "keys must be strings"),
        ("\ud800", "lone surrogate"),
        (b"bytes", "unsupported type"),
    ],
)
def test_refuses_values_outside_the_subset(value: object, reason: str) -> None:
    with pytest.raises(StatementError, match=reason):
        canonical_json(value)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a":1, "b":2}', "not canonical"),
        (b'{"b":1,"a":2}', "not canonical"),
        (b'{"a":1,"a":2}', "duplicate member"),
        (b'{"a":1.0}', "floating-point"),
        (b'{"a":NaN}', "NaN is not allowed"),
        (b'"\\u0041"', "not canonical"),
        (b"\xff", "not valid UTF-8"),
        (b'{"a":', "Expecting value"),
        (b"[" * 100_000 + b"]" * 100_000, "nesting too deep"),
    ],
)
def test_parse_refuses_non_canonical_input(data: bytes, reason: str) -> None:
    with pytest.raises(StatementError, match=reason):
        parse_canonical_json(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_round_trip_is_exact(value: object) -> None:
    encoded = canonical_json(value)
    assert canonical_json(parse_canonical_json(encoded)) == encoded


def test_metadata_round_trip_and_strictness() -> None:
    meta = RecordingMetadata("site-1", "cam-1", "rec-1", RecordingKind.CLIP, 1000, 3000)
    assert RecordingMetadata.parse(meta.canonical()) == meta
    assert meta.associated_data().startswith(b"camvault/v1/recording-metadata\n")
    with pytest.raises(StatementError, match="unknown fields"):
        RecordingMetadata.from_json({**meta.to_json(), "extra": 1})
    with pytest.raises(StatementError, match="end_ms: must not be before start_ms"):
        RecordingMetadata("site-1", "cam-1", "rec-1", RecordingKind.CLIP, 3000, 1000)
    with pytest.raises(StatementError, match="site_id"):
        RecordingMetadata("../x", "cam-1", "rec-1", RecordingKind.CLIP, 0, 0)
    with pytest.raises(StatementError, match="kind"):
        RecordingMetadata.from_json({**meta.to_json(), "kind": "movie"})
    with pytest.raises(StatementError, match="start_ms"):
        RecordingMetadata.from_json({**meta.to_json(), "start_ms": True})


ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", fullmatch=True)


@given(
    ids,
    ids,
    ids,
    st.sampled_from(list(RecordingKind)),
    st.integers(0, 2**53 - 1),
    st.integers(0, 2**53 - 1),
)
def test_metadata_fast_encoding_is_rfc8785(
    site: str, camera: str, rec: str, kind: RecordingKind, a: int, b: int
) -> None:
    meta = RecordingMetadata(site, camera, rec, kind, min(a, b), max(a, b))
    assert meta.canonical() == canonical_json(meta.to_json())
