"""docs/openapi.json is the application's OpenAPI document, and every error the API can
return uses a reason code of storage_service.core.errors."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from storage_service.core.errors import STATUS, Reason
from storage_service.openapi import openapi_document, render
from tests.storage.support import Service

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_checked_in_openapi_matches_the_app() -> None:
    assert DOC.read_text() == render(), (
        "docs/openapi.json is stale: "
        ".venv/bin/python -m storage_service.openapi > docs/openapi.json"
    )


def test_served_openapi_is_the_same(embedded: Service) -> None:
    served = httpx.get(embedded.url + "/openapi.json").json()
    assert served == json.loads(DOC.read_text()) == openapi_document()


def test_reason_codes_are_4xx_or_5xx() -> None:
    assert all(400 <= s < 600 for s in STATUS.values())
    assert STATUS[Reason.MANIFEST_CHAIN_BROKEN] == 409
