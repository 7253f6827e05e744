"""FastAPI dependencies: the process-wide engine, object store, settings and commit signal
(on app.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from storage_service.blobstore import BlobStore
from storage_service.core.settings import Settings
from storage_service.core.signals import CommitSignal


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _store(request: Request) -> BlobStore:
    store: BlobStore = request.app.state.store
    return store


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _commits(request: Request) -> CommitSignal:
    commits: CommitSignal = request.app.state.commits
    return commits


EngineDep = Annotated[Engine, Depends(_engine)]
StoreDep = Annotated[BlobStore, Depends(_store)]
SettingsDep = Annotated[Settings, Depends(_settings)]
CommitsDep = Annotated[CommitSignal, Depends(_commits)]
