"""Copy the browser tests' screenshots that docs/USAGE.md shows into docs/screenshots/.

    .venv/bin/python scripts/docs_screenshots.py        (after `make web`: `make screenshots`)

The browser tests (web/e2e/*.test.mjs) save a full-page screenshot of every state they visit
into web/e2e/screenshots/ (not committed); USAGE.md shows some of them from
docs/screenshots/ (committed). Each is scaled to at most MAX_WIDTH pixels wide and saved as
an optimized 256-colour PNG. A picture USAGE.md names that no test took is an error (one
line, exit 1).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
USAGE = REPO / "docs" / "USAGE.md"
SHOTS = REPO / "web" / "e2e" / "screenshots"
OUT = REPO / "docs" / "screenshots"
MAX_WIDTH = 1000
REF = re.compile(r"!\[[^\]]*\]\(screenshots/([A-Za-z0-9_.-]+\.png)\)")


def referenced(text: str) -> list[str]:
    """The screenshot names USAGE.md shows, in order, each once."""
    return list(dict.fromkeys(REF.findall(text)))


def main() -> int:
    names = referenced(USAGE.read_text(encoding="utf-8"))
    missing = [n for n in names if not (SHOTS / n).is_file()]
    if missing:
        print(
            f"camvault: error: no screenshot {missing[0]} in web/e2e/screenshots "
            "(run `make web` first; or USAGE.md names a state no browser test visits)",
            file=sys.stderr,
        )
        return 1
    OUT.mkdir(exist_ok=True)
    for name in names:
        with Image.open(SHOTS / name) as img:
            rgb = img.convert("RGB")
            if rgb.width > MAX_WIDTH:
                rgb = rgb.resize(
                    (MAX_WIDTH, round(rgb.height * MAX_WIDTH / rgb.width)), Image.Resampling.LANCZOS
                )
            # 256 colours: a third of the bytes, still sharp for text and the video frames
            rgb.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(
                OUT / name, optimize=True
            )
    for stale in sorted(set(p.name for p in OUT.glob("*.png")) - set(names)):
        (OUT / stale).unlink()
    print(f"docs/screenshots: {len(names)} picture(s) from the browser tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
