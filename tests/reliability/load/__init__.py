"""Load harness (asyncio + httpx): simulated cameras, panels and ARC operators against the
real stack (storage on PostgreSQL + MinIO, three custodians on PostgreSQL), then every
acknowledged recording verified as its customer. ``tests/reliability/test_load.py`` is the
short CI run; ``make soak`` (``python -m tests.reliability.load``) the full one.
docs/PERFORMANCE.md, "Soak", has how to run it and the numbers measured."""
