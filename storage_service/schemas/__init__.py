"""The API's request and response bodies (pydantic models), one module per area: ``base``
(identifiers, times, request/response bases, errors, health), ``sites`` (sites, devices,
operators), ``recordings`` (uploads, commits, recordings), ``alarms``, ``consents``,
``telemetry``, ``inbox``. Import them from their module."""
