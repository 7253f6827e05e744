"""The `camvault` entry point: every command of the clients and the services (cli.py)."""
