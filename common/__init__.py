"""What both services and the clients share and that is not cryptography: the signed HTTP
client, the ASGI view of a request, time. Lower than the services and the clients, above
:mod:`crypto`; imports nothing of theirs (the layer contracts are in pyproject.toml)."""
