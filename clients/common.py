"""What the customer and operator clients share below both: their local state directories
(secret and JSON files, the error for a missing or clashing state), the file names of
decrypted recordings, and signed statements received as JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from clients.api.errors import ClientError
from crypto.canonical import canonical_json
from crypto.statements import SignedStatement, parse_signed

#: File name extension of a decrypted recording, by kind (MPEG-TS segments concatenate).
EXTENSIONS = {"segment": ".ts", "live": ".ts", "clip": ".ts", "still": ".jpg", "event": ".json"}


class StateError(ClientError):
    """The local state directory is missing, incomplete or would be overwritten."""


def default_state_dir(env: str, role: str) -> Path:
    """``$env`` if set, else ``~/.camvault/<role>``."""
    value = os.environ.get(env)
    return Path(value) if value else Path.home() / ".camvault" / role


def read_config(path: Path) -> dict[str, Any]:
    """A state directory's JSON configuration, or a :class:`StateError` that says what is wrong
    with it (never a traceback: the file may have been edited by hand or cut short)."""
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise StateError(f"{path} is missing: the state directory is incomplete") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"{path}: cannot read it: {exc}") from None
    except json.JSONDecodeError as exc:
        raise StateError(f"{path} is not valid JSON (line {exc.lineno}): {exc.msg}") from None
    if not isinstance(value, dict):
        raise StateError(f"{path} is not a JSON object")
    return value


def make_state_dir(root: Path) -> None:
    """Create ``root`` (and parents) readable by the owner only (mode 0700)."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(root, 0o700)


def write_secret(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600 (never overwrite a key)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def write_json(path: Path, obj: Any) -> None:
    """Replace ``path`` atomically with ``obj`` as JSON (mode 0600)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)


def signed_from_json(obj: Any) -> SignedStatement:
    """A signed statement from its JSON envelope (as services return and state files keep)."""
    return parse_signed(canonical_json(obj))
