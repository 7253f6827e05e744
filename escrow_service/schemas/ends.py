"""Request bodies of the ends of access: an alarm closed by the ARC, recordings deleted by
the customer, the customer's retention policy (docs/ESCROW.md "HTTP API")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from escrow_service.schemas.requests import SignedStatementJson


class _StatementBody(BaseModel):
    """``{"<name>": <signed statement>}``; other members are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class AlarmCloseIn(_StatementBody):
    """``POST /v1/sites/{site}/alarm-closes`` (request signed by the closing operator)."""

    alarm_close: SignedStatementJson


class RecordingDeletionIn(_StatementBody):
    """``POST /v1/sites/{site}/deletions``."""

    deletion: SignedStatementJson


class RetentionPolicyIn(_StatementBody):
    """``POST /v1/sites/{site}/retention``."""

    retention_policy: SignedStatementJson
