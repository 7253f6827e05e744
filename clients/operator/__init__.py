"""The ARC operator's and technician's client library (used by `camvault operator`): local
key and configuration (state.py), alarm queue, alarm and consent releases, consent requests
and telemetry (console.py), the live view of an alarm (live.py), and the release protocol with
the custodians (release.py)."""
