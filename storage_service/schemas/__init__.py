"""The API's request and response bodies (pydantic models), one module per area: ``base``
(identifiers, times, request/response bases, errors, health), ``sites`` (sites, devices,
operators), ``recordings`` (uploads, commits, recordings), ``alarms``, ``consents``,
``telemetry``, ``inbox``. Import them from their module."""

# Re-exported for storage_service.services.arc_access until its imports are rewritten.
from storage_service.schemas.recordings import RecordingDetail, RecordingPage

__all__ = ["RecordingDetail", "RecordingPage"]
