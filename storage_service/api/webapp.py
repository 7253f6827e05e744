"""The web app (``web/dist``, built by ``make web``) served at ``/app/`` when
``CAMVAULT_WEB_DIR`` names it; without the setting ``/app/`` is 404 like any unknown path.

The page decrypts recordings in the browser, so the bytes of its code are what keeps keys and
plaintext there. Every answer under ``/app/`` therefore carries a strict Content-Security-Policy
(scripts and styles only from this origin, which the built index.html further pins by
Subresource Integrity; network only to this origin, to the object store the presigned URLs
point at and to the key custodians ``CAMVAULT_WEB_CONNECT_SRC`` lists; no framing, no forms, no
base URL), and files are served only from inside the directory: dot segments, backslashes and
symlinks that lead out of it are refused as 404.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from storage_service.api.errors import error_body
from storage_service.core.errors import STATUS, Reason
from storage_service.core.settings import Settings

router = APIRouter(include_in_schema=False)

PREFIX = "/app"
INDEX = "index.html"

#: Vite's hashed file names (``index-Bet_QHUa.js``): their content never changes under a name.
_HASHED = re.compile(r"^assets/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$")

#: Types of what a Vite build writes; anything else is served as opaque bytes (with nosniff).
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}

_PERMISSIONS = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), "
    "hid=(), midi=(), display-capture=(), interest-cohort=()"
)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def store_origins(settings: Settings) -> list[str]:
    """Where the browser fetches ciphertext from: the origins of the presigned URLs."""
    if settings.blobstore == "local":
        # local-store presigned URLs are <public_url>/blobs/...: often 'self', not always
        # (behind a proxy the page may be reached under another name than public_url)
        origins = [_origin(settings.public_url)]
    elif settings.s3_public_endpoint or settings.s3_endpoint:
        origins = [_origin(settings.s3_public_endpoint or settings.s3_endpoint or "")]
    else:
        # AWS S3: the regional endpoint, path-style or virtual-hosted (us-east-1 has the
        # legacy global name too)
        region, bucket = settings.s3_region, settings.s3_bucket
        hosts = [f"s3.{region}.amazonaws.com", f"{bucket}.s3.{region}.amazonaws.com"]
        if region == "us-east-1":
            hosts += ["s3.amazonaws.com", f"{bucket}.s3.amazonaws.com"]
        origins = [f"https://{h}" for h in hosts]
    return [o for o in origins if o]


def content_security_policy(settings: Settings) -> str:
    # the object store, then the key custodians (CAMVAULT_WEB_CONNECT_SRC)
    extra = [*store_origins(settings), *settings.web_connect_origins]
    connect = " ".join(["'self'", *dict.fromkeys(extra)])
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' blob: data:",
            "media-src 'self' blob:",
            f"connect-src {connect}",
            "worker-src 'self' blob:",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(settings: Settings) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": _PERMISSIONS,
    }


def _not_found(request: Request, headers: dict[str, str]) -> JSONResponse:
    request.state.error_code = Reason.NOT_FOUND
    body = error_body(Reason.NOT_FOUND, "no such file in the web app")
    return JSONResponse(body, STATUS[Reason.NOT_FOUND], headers=headers)


def resolve(web_dir: Path, path: str) -> Path | None:
    """The regular file ``path`` names inside ``web_dir``, or None. ``path`` is the decoded URL
    path after ``/app/``: any empty, ``.`` or ``..`` segment, backslash or NUL is refused
    before touching the file system, and the resolved file (symlinks followed) must still be
    inside the resolved directory."""
    if path == "":
        path = INDEX
    segments = path.split("/")
    if any(s in ("", ".", "..") or "\\" in s or "\0" in s for s in segments):
        return None
    root = web_dir.resolve()
    try:
        target = root.joinpath(*segments).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    if not target.is_relative_to(root) or not target.is_file():
        return None
    return target


@router.api_route(PREFIX, methods=["GET", "HEAD"])
def app_root(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    headers = security_headers(settings)
    if settings.web_dir is None:
        return _not_found(request, headers)
    return RedirectResponse(PREFIX + "/", status_code=308, headers=headers)


@router.api_route(PREFIX + "/{path:path}", methods=["GET", "HEAD"])
def app_file(request: Request, path: str) -> Response:
    settings: Settings = request.app.state.settings
    headers = security_headers(settings)
    web_dir = settings.web_dir
    target = None if web_dir is None else resolve(web_dir, path)
    if web_dir is None or target is None:
        return _not_found(request, headers)
    rel = target.relative_to(web_dir.resolve()).as_posix()
    headers["Cache-Control"] = (
        "public, max-age=31536000, immutable" if _HASHED.match(rel) else "no-cache"
    )
    media_type = _TYPES.get(target.suffix.lower(), "application/octet-stream")
    return FileResponse(target, media_type=media_type, headers=headers)
