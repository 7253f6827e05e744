"""Attacks on the running services: each test tries an attack and checks it fails for the
right reason code (and, at the custodians, that the refusal is logged where the design says)."""
