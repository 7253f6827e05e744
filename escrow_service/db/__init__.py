"""The custodian's own database: engine setup, tables (SQLAlchemy Core) and migrations.

Separate from storage_service's database on purpose (another organisation runs it); the
tables live in their own MetaData so that both services can be imported in one process.
"""

from escrow_service.db.engine import make_engine
from escrow_service.db.migrate import downgrade, schema_is_current, stored_log_size, upgrade

__all__ = ["downgrade", "make_engine", "schema_is_current", "stored_log_size", "upgrade"]
