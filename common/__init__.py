"""What both services and the clients share and that is not cryptography: the signed HTTP
client (:mod:`.http`), the ASGI view of a request (:mod:`.asgi`), request bodies within a
limit and JSON that cannot exhaust the stack (:mod:`.bodies`), the per-address rate limiter
(:mod:`.ratelimit`), the uvicorn limits against slow clients (:mod:`.serving`), the report of
the read-only consistency checks (:mod:`.fsck`), time (:mod:`.time`). Lower than the services
and the clients, above :mod:`crypto`; imports nothing of theirs (the layer contracts are in
pyproject.toml)."""
