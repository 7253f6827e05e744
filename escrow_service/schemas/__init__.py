"""The custodian's data shapes: the release protocol's values (:mod:`.release`), recording
metadata as a release carries it (:mod:`.metadata`), the pydantic models of request bodies
(:mod:`.requests`) and of responses (:mod:`.responses`)."""
