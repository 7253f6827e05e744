"""FastAPI dependencies: the process-wide engine, object store, settings and commit signal
(on app.state)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from storage_service.blobstore import BlobStore
from storage_service.core.settings import Settings
from storage_service.core.signals import CommitSignal


def _app_state(name: str) -> Callable[[Request], Any]:
    """A dependency returning ``app.state.<name>``."""

    def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    return dependency


EngineDep = Annotated[Engine, Depends(_app_state("engine"))]
StoreDep = Annotated[BlobStore, Depends(_app_state("store"))]
SettingsDep = Annotated[Settings, Depends(_app_state("settings"))]
CommitsDep = Annotated[CommitSignal, Depends(_app_state("commits"))]
