"""The custodian's configuration: settings (:mod:`.settings`), its secret keys (:mod:`.keys`)
and request authentication (:mod:`.auth`)."""
