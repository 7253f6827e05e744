"""The custodian's logic, one module per concern: statement intake (:mod:`.intake`), the
release protocol (:mod:`.release`), access notices (:mod:`.notices`, delivered by
:mod:`.notify`), request nonces (:mod:`.nonces`), the transparency log (:mod:`.tlog_store`)
and the opening of escrow stanzas (:mod:`.opener`). :class:`.escrow.EscrowService` wires
them over one database, key set and log."""
