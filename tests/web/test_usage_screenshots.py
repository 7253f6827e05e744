"""docs/USAGE.md shows the web app as the browser tests saw it: every picture it names is
committed in docs/screenshots/ and is a state some browser test (web/e2e/*.test.mjs) saves
under that name, so the documentation cannot show a page no test visits."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]
USAGE = REPO / "docs" / "USAGE.md"
OUT = REPO / "docs" / "screenshots"
MAX_WIDTH = 1000  # scripts/docs_screenshots.py scales to this width
REF = re.compile(r"!\[[^\]]*\]\(screenshots/([A-Za-z0-9_.-]+\.png)\)")


def referenced(text: str) -> list[str]:
    return list(dict.fromkeys(REF.findall(text)))


E2E = REPO / "web" / "e2e"


def test_usage_shows_only_screenshots_the_browser_tests_take() -> None:
    names = referenced(USAGE.read_text(encoding="utf-8"))
    assert len(names) >= 10, names  # the portal's pages and the operator console
    tests = "\n".join(p.read_text(encoding="utf-8") for p in E2E.glob("*.mjs"))
    for name in names:
        stem = name.removesuffix(".png")
        assert f'"{stem}' in tests or f"'{stem}" in tests or f"`{stem}" in tests, (
            f"{name}: no browser test saves this screenshot"
        )
        path = OUT / name
        assert path.is_file(), f"{name} is not in docs/screenshots (run `make screenshots`)"
        with Image.open(path) as img:
            assert img.format == "PNG" and 0 < img.width <= MAX_WIDTH


def test_no_unused_picture_is_committed() -> None:
    names = set(referenced(USAGE.read_text(encoding="utf-8")))
    assert {p.name for p in OUT.glob("*.png")} <= names
