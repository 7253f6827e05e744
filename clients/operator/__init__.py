"""The ARC operator's and technician's client library (used by `camvault operator`): local
key and configuration (state.py), alarm queue, releases from the custodians, live view,
consent requests and telemetry (console.py)."""
