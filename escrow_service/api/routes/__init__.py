"""One router per area of the custodian's API (docs/ESCROW.md "HTTP API")."""
