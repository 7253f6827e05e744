"""Moved to :mod:`demo.story`; ``python -m clients.story`` still runs it."""

from demo.story import *  # noqa: F403
from demo.story import main

if __name__ == "__main__":
    raise SystemExit(main())
