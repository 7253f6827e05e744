"""What every layer of the storage service shares: settings, reason codes and ``ApiError``,
the authenticated principal, statement checks, keyset pagination, logging, metrics, the
in-process wake-up signals and the SSE framing. Imports nothing from ``api`` or ``services``."""
