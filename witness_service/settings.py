"""Settings of one witness, from the environment (prefix ``CAMVAULT_WITNESS_``).

``CAMVAULT_WITNESS_LOGS`` lists the logs it follows, comma-separated, each as its signed-note
verifier key (``<origin>+<key id>+<base64 key>``, as ``GET /v1/custodian`` of a custodian
gives it as ``log_verifier_key``): the key name is the log's origin. Several keys may name the
same origin (a log key rotation). The witness's own key is ``<data_dir>/witness.key`` (0600),
its database ``<data_dir>/witness.db`` unless ``CAMVAULT_WITNESS_DATABASE_URL`` says otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_settings import SettingsConfigDict

from common.config import DatabaseUrl, LogLevel
from common.serving import ServingSettings
from crypto.errors import CryptoError
from crypto.tlog.note import NoteVerifier, check_key_name


def _log_keys(value: str) -> str:
    items = [i.strip() for i in value.split(",") if i.strip()]
    for item in items:
        try:
            NoteVerifier.from_text(item)
        except CryptoError as exc:
            raise ValueError(f"{item[:40]!r} is not a log verifier key: {exc}") from None
    return ",".join(items)


def _name(value: str) -> str:
    try:
        check_key_name(value)
    except CryptoError as exc:
        raise ValueError(str(exc)) from None
    return value


class WitnessSettings(ServingSettings):
    model_config = SettingsConfigDict(env_prefix="CAMVAULT_WITNESS_", extra="ignore")

    name: Annotated[str, AfterValidator(_name)] = Field(
        default="witness.camvault.local/w1", description="the witness's key name"
    )
    data_dir: Path = Field(default=Path("camvault-data/witness"))
    database_url: DatabaseUrl = Field(default=None, description="default sqlite in data_dir")
    logs: Annotated[str, AfterValidator(_log_keys)] = Field(
        default="", description="comma-separated verifier keys of the logs followed"
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)
    log_level: LogLevel = "INFO"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'witness.db'}"

    def log_verifiers(self) -> dict[str, list[NoteVerifier]]:
        """The configured keys, by origin."""
        out: dict[str, list[NoteVerifier]] = {}
        for item in self.logs.split(","):
            if item:
                v = NoteVerifier.from_text(item)
                out.setdefault(v.name, []).append(v)
        return out
