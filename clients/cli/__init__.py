"""The clients' command groups, one module each: ``age`` (keygen, encrypt, decrypt),
``camera``, ``customer``, ``operator``, ``panel``. The `camvault` entry point
(camvault/cli.py) mounts them; nothing is imported here, so that a command loads only
its own group."""
