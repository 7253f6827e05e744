"""``python -m witness_service [--host H] [--port P]``: run one witness (settings from
``CAMVAULT_WITNESS_*``; the CLI entry point is ``camvault serve witness``)."""

from __future__ import annotations

import argparse

import uvicorn

from common.config import load, startup_errors
from witness_service.settings import WitnessSettings


def serve(host: str, port: int) -> None:
    settings = load(WitnessSettings)
    uvicorn.run(
        "witness_service.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        **settings.uvicorn_options(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m witness_service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8300)
    args = parser.parse_args()
    with startup_errors("CAMVAULT_WITNESS_DATABASE_URL"):
        serve(args.host, args.port)


if __name__ == "__main__":
    main()
