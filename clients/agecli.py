"""Moved to :mod:`clients.cli.age`; ``python -m clients.agecli`` still runs it."""

from clients.cli.age import *  # noqa: F403
from clients.cli.age import main

if __name__ == "__main__":
    main()
