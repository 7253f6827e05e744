"""The optional local "SD card": the same age files the camera uploads (header || payload,
readable by the customer with ``age -d -i identity``), kept under their own retention."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from clients.camera.seal import Sealed


class SdCard:
    def __init__(self, path: Path, retention_s: float, max_bytes: int | None = None) -> None:
        self.path = path
        self.retention_s = retention_s
        self.max_bytes = max_bytes
        path.mkdir(parents=True, exist_ok=True)

    def store(self, sealed: Sealed) -> Path:
        dst = self.path / f"{sealed.recording_id}.{sealed.kind.value}.age"
        tmp = dst.with_name(dst.name + ".tmp")
        shutil.copyfile(sealed.file, tmp)
        os.replace(tmp, dst)
        return dst

    def files(self) -> list[Path]:
        return sorted(self.path.glob("*.age"), key=lambda p: p.stat().st_mtime)

    def prune(self, now: float | None = None) -> int:
        """Delete files older than the retention, then the oldest while over ``max_bytes``."""
        now = time.time() if now is None else now
        removed = 0
        files = self.files()
        for p in list(files):
            if now - p.stat().st_mtime > self.retention_s:
                p.unlink(missing_ok=True)
                files.remove(p)
                removed += 1
        if self.max_bytes is not None:
            total = sum(p.stat().st_size for p in files)
            while files and total > self.max_bytes:
                p = files.pop(0)
                total -= p.stat().st_size
                p.unlink(missing_ok=True)
                removed += 1
        return removed

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.path).free
