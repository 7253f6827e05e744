"""The demonstrations: the whole story with the real programs (story.py, `make demo`) and
the walkthrough of the cryptographic core with library calls (crypto_walkthrough.py,
`make demo-crypto`)."""
