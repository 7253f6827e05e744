"""The custodian's HTTP API: dependencies (:mod:`.deps`), the one mapping of reason codes to
HTTP (:mod:`.errors`) and one router per area (:mod:`.routes`)."""
