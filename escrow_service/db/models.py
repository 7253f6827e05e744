"""The custodian's tables (SQLAlchemy Core, own MetaData).

Trust state (pinned site keys, enrolled devices, registered operators, alarms, cancels,
closes, revocations, deleted recordings, retention policies), the transparency log (one row
per leaf: index, leaf hash, exact entry bytes), access notices with their delivery outbox,
and HTTP-signature nonces.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

ID = 128  # crypto.metadata identifiers are at most 128 characters

sites = Table(
    "escrow_sites",
    metadata,
    Column("site_id", String(ID), primary_key=True),
    Column("customer_key", String(100), nullable=False),
    Column("keys_version", BigInteger, nullable=False),
    Column("site_keys", LargeBinary, nullable=False),  # exact signed statement bytes
    Column("threshold", Integer, nullable=False),
    Column("access_period_s", Integer, nullable=True),  # per-site override, customer-signed
    Column("updated_ms", BigInteger, nullable=False),
)

devices = Table(
    "escrow_devices",
    metadata,
    Column("site_id", String(ID), ForeignKey("escrow_sites.site_id"), primary_key=True),
    Column("device_id", String(ID), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("model", String(ID), nullable=False),
    Column("device_key", String(100), nullable=False),
    Column("pre_alarm_s", Integer, nullable=True),
    Column("post_alarm_s", Integer, nullable=True),
    Column("live_allowed", Boolean, nullable=True),
    Column("stills_only", Boolean, nullable=True),
    Column("statement", LargeBinary, nullable=False),
    Column("issued_at_ms", BigInteger, nullable=False),
)

operators = Table(
    "escrow_operators",
    metadata,
    Column("operator_id", String(ID), primary_key=True),
    Column("operator_key", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("statement", LargeBinary, nullable=False),
    Column("issued_at_ms", BigInteger, nullable=False),
)

alarms = Table(
    "escrow_alarms",
    metadata,
    Column("site_id", String(ID), primary_key=True),
    Column("panel_id", String(ID), primary_key=True),
    Column("event_id", String(ID), primary_key=True),
    Column("counter", BigInteger, nullable=False),
    Column("triggered_at_ms", BigInteger, nullable=False),
    Column("first_seen_ms", BigInteger, nullable=False),
    Column("access_until_ms", BigInteger, nullable=False),
    Column("statement_sha256", LargeBinary(32), nullable=False),
    Index("ix_escrow_alarms_panel_counter", "site_id", "panel_id", "counter"),
)

alarm_cancels = Table(
    "escrow_alarm_cancels",
    metadata,
    Column("site_id", String(ID), primary_key=True),
    Column("panel_id", String(ID), primary_key=True),
    Column("event_id", String(ID), primary_key=True),
    Column("cancelled_ms", BigInteger, nullable=False),
    Column("statement", LargeBinary, nullable=False),
)

alarm_closes = Table(
    "escrow_alarm_closes",
    metadata,
    Column("site_id", String(ID), primary_key=True),
    Column("panel_id", String(ID), primary_key=True),
    Column("event_id", String(ID), primary_key=True),
    Column("operator_id", String(ID), nullable=False),  # the ARC operator who closed it
    Column("closed_ms", BigInteger, nullable=False),
    Column("statement", LargeBinary, nullable=False),
)

#: Each RecordingDeletion statement taken (exact bytes), and every recording it deleted.
deletions = Table(
    "escrow_deletions",
    metadata,
    Column("statement_sha256", LargeBinary(32), primary_key=True),
    Column("site_id", String(ID), nullable=False),
    Column("camera_id", String(ID), nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("statement", LargeBinary, nullable=False),
)

deleted_recordings = Table(
    "escrow_deleted_recordings",
    metadata,
    Column("site_id", String(ID), primary_key=True),
    Column("camera_id", String(ID), primary_key=True),
    Column("recording_id", String(ID), primary_key=True),
    Column("deleted_ms", BigInteger, nullable=False),
    Column("statement_sha256", LargeBinary(32), nullable=False),  # the first deletion of it
)

#: Each site's RetentionPolicy in force (exact bytes), and the horizon earlier ones reached.
retention = Table(
    "escrow_retention",
    metadata,
    Column("site_id", String(ID), primary_key=True),
    Column("retention_days", Integer, nullable=True),  # null: kept until deleted
    Column("expired_before_ms", BigInteger, nullable=True),  # reached by replaced policies
    Column("issued_at_ms", BigInteger, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("statement", LargeBinary, nullable=False),
)

revocations = Table(
    "escrow_revocations",
    metadata,
    Column("site_id", String(ID), primary_key=True),
    Column("consent_id", String(ID), primary_key=True),
    Column("revoked_ms", BigInteger, nullable=False),
    Column("statement", LargeBinary, nullable=False),
)

device_revocations = Table(
    "escrow_device_revocations",
    metadata,
    Column("site_id", String(ID), primary_key=True),
    Column("device_id", String(ID), primary_key=True),
    Column("device_key", String(100), primary_key=True),  # the revoked key
    Column("revoked_from_ms", BigInteger, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("statement", LargeBinary, nullable=False),
)

log_entries = Table(
    "escrow_log",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("entry", LargeBinary, nullable=False),  # exact canonical JSON bytes of the entry
    Column("kind", String(32), nullable=False),
    Column("site_id", String(ID), nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_escrow_log_site", "site_id", "idx"),
    Index("ix_escrow_log_leaf_hash", "leaf_hash"),
)

notices = Table(
    "escrow_notices",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("site_id", String(ID), nullable=False),
    Column("log_index", BigInteger, nullable=False),
    Column("body", Text, nullable=False),  # canonical JSON of the notice
    Column("created_ms", BigInteger, nullable=False),
    Column("delivered_ms", BigInteger, nullable=True),
    Index("ix_escrow_notices_site", "site_id", "id"),
)

outbox = Table(
    "escrow_outbox",
    metadata,
    Column("notice_id", BigInteger, ForeignKey("escrow_notices.id"), primary_key=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_ms", BigInteger, nullable=False),
    Column("last_error", String(500), nullable=True),
)

nonces = Table(
    "escrow_nonces",
    metadata,
    Column("keyid", String(300), primary_key=True),
    Column("nonce", String(128), primary_key=True),
    Column("expires_ms", BigInteger, nullable=False),
)
