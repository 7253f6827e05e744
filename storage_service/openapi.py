"""The OpenAPI document of the storage service, as checked into docs/openapi.json.

Regenerate with ``.venv/bin/python -m storage_service.openapi > docs/openapi.json``
(tests/storage/test_openapi.py fails when the file and the application differ).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from storage_service.app import create_app
from storage_service.core.settings import Settings
from storage_service.db.engine import make_engine


def openapi_document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), sweeper_enabled=False, blobstore="local")
        engine = make_engine("sqlite://")
        try:
            app = create_app(settings, engine=engine, check_schema=False)
            return app.openapi()
        finally:
            engine.dispose()


def render() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
