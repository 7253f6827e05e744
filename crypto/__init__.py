"""camvault's cryptographic core.

Pure functions over bytes and caller-supplied streams: the age v1 format (C2SP age spec)
with camvault escrow stanzas, Shamir secret sharing, signed statements and transparency-log
primitives. This package performs no I/O of its own and imports no web framework, database
or object-store library; every service composes it, never the other way round.
"""
