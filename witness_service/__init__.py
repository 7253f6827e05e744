"""A C2SP tlog-witness: it cosigns the checkpoints of the custodians' logs it follows, each only
after a consistency proof from the last checkpoint it cosigned for that log (docs/WITNESS.md).

Layers: cli > app > witness > store | settings; it depends on crypto/ and common/ only.
"""
