"""``python -m escrow_service [--host H] [--port P] [--workers N]``: run one custodian.

Settings come from ``CAMVAULT_ESCROW_*`` variables (escrow_service/core/settings.py). The CLI
entry point is ``camvault serve escrow --id N``.
"""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn

from common import logs
from common.config import load, startup_errors
from escrow_service.core.settings import EscrowSettings

log = logging.getLogger("camvault.escrow")


def bound_authority(host: str, port: int) -> str:
    """``host:port`` as it appears in the Host header of requests to this address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve(host: str, port: int, workers: int = 1) -> None:
    # Request signatures cover @authority; the custodian refuses those made for another
    # address (a request signed for one custodian replayed to another). Unless configured,
    # the accepted authority is the address bound here (set it when behind a proxy or bound
    # to a wildcard address).
    os.environ.setdefault("CAMVAULT_ESCROW_PUBLIC_AUTHORITY", bound_authority(host, port))
    settings = load(EscrowSettings)
    logs.configure(settings.log_level)
    log.info(
        "starting",
        extra={"custodian_id": settings.custodian_id, "host": host, "port": port},
    )
    # Header size, keep-alive, connection count, header and body timeouts: docs/OPERATIONS.md.
    uvicorn.run(
        "escrow_service.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # common/access.py logs each request (without query strings)
        log_config=None,
        **settings.uvicorn_options(),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run one camvault key custodian.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    with startup_errors("CAMVAULT_ESCROW_DATABASE_URL"):
        serve(args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
