"""Moved to :mod:`demo.crypto_walkthrough`; ``python -m clients.demo`` still runs it."""

from demo.crypto_walkthrough import *  # noqa: F403
from demo.crypto_walkthrough import main

if __name__ == "__main__":
    raise SystemExit(main())
