"""The ARC operator's and technician's client library (used by `camvault operator`): local
key and configuration (state.py), alarm queue, live view, consent requests and telemetry
(console.py), and the release protocol with the custodians (release.py)."""
