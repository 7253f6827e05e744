"""The built web app (``web/dist``, made by ``make web``): every script and stylesheet tag of
index.html pins its file by Subresource Integrity, and each hash is that file's."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
TAG = re.compile(r"<(script|link)\b[^>]*>")


def attr(tag: str, name: str) -> str | None:
    m = re.search(rf'\s{name}(?:="([^"]*)")?[\s>/]', tag)
    return None if m is None else (m.group(1) or "")


def test_every_script_and_style_has_a_correct_integrity() -> None:
    index = DIST / "index.html"
    if not index.is_file():
        pytest.fail(f"{index} is missing: build the web app first (make web)")
    html = index.read_text()
    tags = [m.group(0) for m in TAG.finditer(html)]
    loaded = [t for t in tags if t.startswith("<script") or 'rel="stylesheet"' in t]
    assert any(t.startswith("<script") for t in loaded)
    assert any(t.startswith("<link") for t in loaded)
    files = set()
    for tag in loaded:
        url = attr(tag, "src") or attr(tag, "href")
        assert url and url.startswith("./assets/"), tag
        data = (DIST / url.removeprefix("./")).read_bytes()
        expected = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
        assert attr(tag, "integrity") == expected, tag
        assert attr(tag, "crossorigin") is not None, tag
        files.add(url.removeprefix("./"))
    # every script and stylesheet the build wrote is one of them (no unpinned chunk)
    built = {
        p.relative_to(DIST).as_posix() for p in DIST.glob("assets/*") if p.suffix in {".js", ".css"}
    }
    assert built == files
    # and no inline script or style, which the CSP would refuse anyway
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html)
    assert "<style" not in html and " style=" not in html
