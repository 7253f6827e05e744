"""camvault storage service: the ciphertext store (API, database, object store).

It holds age headers, payload ciphertext, signed manifests and metadata, and can decrypt
nothing (DESIGN.md, invariant 1).
"""
