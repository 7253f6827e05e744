"""The customer's client library (used by `camvault customer`): local keys and state
(state.py), site and device setup and key changes (site.py), recordings (recordings.py),
consents (consents.py) and the inbox (inbox.py); the custodian log audit is clients/audit/."""
