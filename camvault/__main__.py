"""``python -m camvault``: the same as the `camvault` command."""

from camvault.cli import main

if __name__ == "__main__":
    main()
