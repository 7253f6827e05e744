"""`camvault web verify <url>`: is the web app a server serves the published build?

The web app decrypts in the browser, so its bytes are what keeps keys and plaintext there
(docs/THREAT_MODEL.md, "A server that serves altered JavaScript"). Its build is
reproducible: `web/build-hashes.txt`, committed with the sources, lists the SHA-256 of every
file of `web/dist` (`make web` rebuilds on a clean clone and fails if one byte differs). This
command fetches each of those files from the server, as a browser would, plus the page
itself at ``<url>`` (what the browser loads first, and which pins every script and style by
Subresource Integrity), and compares. Any difference, a file missing, or a script or
stylesheet the served page loads that the build does not have is a failure, one line each.

It checks what the server answers this client at this moment: a server that targets one
customer can still serve that customer something else (the threat model says what limits
that).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, NoReturn
from urllib.parse import urljoin, urlsplit

import httpx
import typer

from clients.cli.helpers import network_error

app = typer.Typer(help="Check the web app a server serves.", no_args_is_help=True)

#: the committed hashes, next to the sources (a checkout or an editable install)
DEFAULT_HASHES = Path(__file__).resolve().parents[2] / "web" / "build-hashes.txt"
_LINE = re.compile(r"^([0-9a-f]{64})  ([A-Za-z0-9._/-]+)$")
_ASSET = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)\"""")


def fail(message: str) -> NoReturn:
    """``camvault: error: ...`` on one line however long (paths, URLs), exit status 1."""
    typer.echo(f"camvault: error: {message}", err=True)
    raise typer.Exit(1)


def read_hashes(path: Path) -> dict[str, str]:
    """``relative path -> sha256 hex`` from a `sha256sum`-format file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read the build hashes {path}: {exc.strerror or exc}")
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        m = _LINE.match(line)
        if m is None or ".." in m.group(2).split("/"):
            fail(f"{path}:{n}: not a `<sha256>  <path>` line")
        out[m.group(2)] = m.group(1)
    if "index.html" not in out:
        fail(f"{path}: no index.html listed: not a web build's hashes")
    return out


def _fetch(client: httpx.Client, url: str) -> bytes | None:
    try:
        resp = client.get(url)
    except httpx.HTTPError as exc:
        fail(network_error(exc))
    return resp.content if resp.status_code == 200 else None


@app.command()
def verify(
    url: Annotated[
        str, typer.Argument(help="the web app's address, e.g. https://storage.example/app/")
    ],
    hashes: Annotated[
        Path, typer.Option("--hashes", help="the published build hashes (sha256sum format)")
    ] = DEFAULT_HASHES,
) -> None:
    """Compare every file of the served web app with the published build hashes."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        fail(f"not an http(s) URL: {url!r}")
    base = url if url.endswith("/") else url + "/"
    want = read_hashes(hashes)
    problems: list[str] = []
    with httpx.Client(timeout=30, follow_redirects=True) as client:
        page = _fetch(client, base)
        if page is None:
            fail(f"{base} does not serve a page (not 200)")
        if hashlib.sha256(page).hexdigest() != want["index.html"]:
            problems.append(f"the page at {base} differs from the build's index.html")
        for ref in _ASSET.findall(page.decode("utf-8", "replace")):
            if ref.startswith("data:"):  # inline bytes: part of the page, whose hash is checked
                continue
            target = urljoin(base, ref)
            rel = target[len(base) :] if target.startswith(base) else None
            if rel is None or rel not in want:
                problems.append(f"the page loads {ref}, which the build does not have")
        for rel, digest in sorted(want.items()):
            body = _fetch(client, urljoin(base, rel))
            if body is None:
                problems.append(f"{rel}: not served")
            elif hashlib.sha256(body).hexdigest() != digest:
                problems.append(f"{rel}: served bytes differ from the build")
            else:
                typer.echo(f"ok  {rel}  {digest[:16]}")
    if problems:
        for p in problems[:-1]:
            typer.echo(f"camvault: error: {p}", err=True)
        fail(problems[-1])
    build = hashlib.sha256(hashes.read_bytes()).hexdigest()[:16]
    typer.echo(f"the web app at {base} is the published build ({len(want)} files, hashes {build})")
