"""What every layer of the custodian shares: settings (:mod:`.settings`), its secret keys
(:mod:`.keys`), request authentication (:mod:`.auth`) and the reason codes (:mod:`.errors`).
Imports nothing from ``api`` or ``services``."""
