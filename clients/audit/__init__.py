"""The customer's audit of the custodians: each custodian's transparency log and the access
notices checked against it (log.py), and the audit of the whole site (site.py)."""

# Re-export of the names imported as `clients.audit.<name>` before log.py existed; the
# renovation rewrites those imports and removes this block.
from clients.audit.log import *  # noqa: F403
