"""What the schema fuzzing (test_schemas.py) needs around schemathesis: RFC 9421 signatures
on every generated request, the principal of each operation, real ids to put in its path,
and the tally of cases and statuses that the run prints.

Signatures follow the profile of common/http.py (SignedClient): ``@method``, ``@authority``,
``@path``, ``@query`` and, with a body, ``content-digest`` (computed here over the bytes
schemathesis sends) and ``content-type``; fresh nonce, 60 s validity.
"""

from __future__ import annotations

import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from crypto.ed25519 import Ed25519SigningKey
from crypto.httpsig import HttpRequest, SignatureParams, content_digest, sign_request

BASE_COMPONENTS = ("@method", "@authority", "@path", "@query")


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("latin-1")


class SignedAuth(AuthBase):
    """Signs a prepared ``requests`` request as ``keyid`` (what SignedClient.build does)."""

    def __init__(self, keyid: str, key: Ed25519SigningKey) -> None:
        self.keyid = keyid
        self.key = key

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body.encode() if isinstance(r.body, str) else (r.body or b"")
        assert isinstance(body, bytes), "streamed bodies are not generated for these schemas"
        covered: tuple[str, ...] = BASE_COMPONENTS
        if body:
            r.headers["Content-Digest"] = content_digest(body)
            covered += ("content-digest",)
            if "content-type" in {k.lower() for k in r.headers}:
                covered += ("content-type",)
        url = urlsplit(r.url or "")
        request = HttpRequest(
            method=r.method or "GET",
            authority=url.netloc,
            path=url.path or "/",
            query=url.query,
            headers={k.lower(): _text(v).strip() for k, v in r.headers.items()},
        )
        now = int(time.time())
        params = SignatureParams(now, now + 60, self.keyid, secrets.token_urlsafe(18))
        sig_input, sig = sign_request(request, covered, params, self.key)
        r.headers["Signature-Input"] = sig_input
        r.headers["Signature"] = sig
        return r


@dataclass
class World:
    """The principals of one service and the real ids the path parameters are set to."""

    principals: dict[str, SignedAuth]
    ids: dict[str, list[str]]
    rng: random.Random = field(default_factory=lambda: random.Random(12))

    def auth_for(self, preferred: str) -> SignedAuth:
        """Mostly the operation's own principal; one case in five another (refused with
        a reason, never a 500)."""
        if self.rng.random() < 0.2:
            return self.principals[self.rng.choice(sorted(self.principals))]
        return self.principals[preferred]

    def fill_path(self, path_parameters: dict[str, object]) -> None:
        """Replace generated ids by real ones (most of the time) so calls reach handlers."""
        for name in list(path_parameters):
            real = self.ids.get(name)
            if real and self.rng.random() < 0.85:
                path_parameters[name] = self.rng.choice(real)


@dataclass
class Tally:
    """Cases sent and the statuses they got, per service; printed at the end of the run."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, service: str, response: requests.Response) -> None:
        self.cases[service] += 1
        self.statuses[(service, response.status_code)] += 1
        if 400 <= response.status_code < 500:
            try:
                code = str(response.json()["error"]["code"])
            except (ValueError, KeyError, TypeError):
                code = "(no reason)"
            self.reasons[(service, code)] += 1

    def server_errors(self, service: str) -> int:
        return sum(n for (s, code), n in self.statuses.items() if s == service and code >= 500)

    def render(self) -> str:
        lines = []
        for service in sorted(self.cases):
            codes = sorted((c, n) for (s, c), n in self.statuses.items() if s == service)
            spread = ", ".join(f"{c}: {n}" for c, n in codes)
            reasons = sorted((n, r) for (s, r), n in self.reasons.items() if s == service)
            lines.append(
                f"{service}: {self.cases[service]} cases, {self.server_errors(service)} 5xx "
                f"({spread})\n  refusals: " + ", ".join(f"{r} {n}" for n, r in reversed(reasons))
            )
        return "\n".join(lines)


TALLY = Tally()
