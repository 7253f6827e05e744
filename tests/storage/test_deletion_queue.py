"""The deletion queue's drain touches only the rows it read. On SQLite a row removed while a
drain is running can have its id taken by a new row (the largest rowid is reused): the
drain must not then delete that new row. It did: a commit's intent row vanished under 50
concurrent cameras and the commit was refused `upload_expired` (test_scale, embedded)."""

from __future__ import annotations

import io
from pathlib import Path

import sqlalchemy as sa

from common.time import now_ms
from storage_service.blobstore import LocalBlobStore
from storage_service.db import make_engine, session_scope, upgrade
from storage_service.services.deletion import drain_queue, enqueue, intend


class Interleaving(LocalBlobStore):
    """While the drain deletes the staging object, a commit removes that object's queue row
    itself (as services/uploads.py does after a commit) and another commit writes its intent."""

    def __init__(self, root: Path, engine: sa.Engine) -> None:
        super().__init__(root)
        self.engine = engine
        self.intent: int | None = None

    def delete(self, key: str) -> None:
        super().delete(key)
        if self.intent is None:
            with session_scope(self.engine) as s:
                s.execute(sa.text("DELETE FROM deletion_queue WHERE object_key = :k"), {"k": key})
            self.intent = intend(self.engine, "sites/s/cameras/c/r1/rec-new", now_ms())


def test_a_drain_never_deletes_a_row_that_took_a_freed_id(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    store = Interleaving(tmp_path / "objects", engine)
    store.put("sites/s/cameras/c/r0/staging", io.BytesIO(b"x"))
    with session_scope(engine) as s:
        enqueue(s, "sites/s/cameras/c/r0/staging", None, now_ms())
    with engine.connect() as conn:
        (staging_id,) = conn.execute(sa.text("SELECT id FROM deletion_queue")).one()

    drain_queue(engine, store)

    assert store.intent == staging_id  # the intent did take the freed id ...
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT id, object_key FROM deletion_queue")).all()
    assert left == [(staging_id, "sites/s/cameras/c/r1/rec-new")]  # ... and is still there
    engine.dispose()
