"""The customer's audit of the custodians: each custodian's transparency log and the access
notices checked against it (log.py, notices.py), and the audit of the whole site with every
access listed (site.py)."""
