"""The custodian's data shapes: the release protocol's values (:mod:`.release`), the pydantic
models of request bodies (:mod:`.requests`) and of responses (:mod:`.responses`)."""
