"""The clients' command groups, one module each: ``age`` (keygen, encrypt, decrypt; and
``age_fast``, their Typer-free argument parser, which the entry point uses first),
``camera``, ``customer``, ``operator``, ``panel``, ``web`` (verify a served web app). The
`camvault` entry point (camvault/cli.py) mounts them; nothing is imported here, so that a
command loads only its own group."""
