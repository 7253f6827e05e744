"""Settings of the storage service, from the environment (prefix ``CAMVAULT_``) or a .env file.

Embedded defaults need no configuration: SQLite in ``./camvault-data/camvault.db`` and a
local-directory object store in ``./camvault-data/objects``. Deployments set
``CAMVAULT_DATABASE_URL`` (PostgreSQL) and ``CAMVAULT_BLOBSTORE=s3`` with the ``CAMVAULT_S3_*``
settings (any S3 API: MinIO, AWS S3, Ceph RGW).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, DirectoryPath, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from common.config import DatabaseUrl, Ed25519PublicText, LogLevel, OriginList
from common.serving import ServingSettings


def _built_web_app(path: Path) -> Path:
    """A web app directory must hold a build (its index.html), not the sources."""
    if not (path / "index.html").is_file():
        raise ValueError(f"no index.html in {path} (build the web app: make web)")
    return path


class Settings(ServingSettings):
    model_config = SettingsConfigDict(env_prefix="CAMVAULT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("camvault-data"), description="embedded-mode data root")
    database_url: DatabaseUrl = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/camvault.db"
    )

    blobstore: Literal["local", "s3"] = "local"
    blob_dir: Path | None = Field(default=None, description="default <data_dir>/objects")
    s3_endpoint: str | None = Field(default=None, description="e.g. http://minio:9000; None = AWS")
    s3_public_endpoint: str | None = Field(
        default=None,
        description="endpoint in presigned URLs, where clients reach the store; default "
        "s3_endpoint (set it when the service reaches the store on an internal address)",
    )
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: SecretStr | None = None
    s3_bucket: str = "camvault"
    s3_addressing_style: Literal["path", "virtual", "auto"] = "path"
    s3_connect_timeout_s: float = 5.0
    s3_read_timeout_s: float = 30.0
    s3_max_attempts: int = 3
    presign_expiry_s: int = Field(default=900, ge=1, le=7 * 24 * 3600)

    # --- the API ---
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="URL under which clients reach this service (local-store presigned URLs)",
    )
    public_authority: str | None = Field(
        default=None,
        description="host[:port] that signed requests must cover as @authority (RFC 9421); "
        "default: the authority of public_url when public_url is set, else the address the "
        "request reached",
    )
    auto_migrate: bool = Field(
        default=False, description="apply database migrations at start instead of refusing"
    )
    clock_skew_s: int = Field(default=60, ge=0, le=3600)
    signature_max_lifetime_s: int = Field(default=300, ge=1, le=3600)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="JSON request bodies")
    max_header_bytes: int = Field(default=64 * 1024, ge=256, description="age header size")
    max_recording_bytes: int = Field(default=50 * 1024**3, ge=1)
    upload_expiry_s: int = Field(default=6 * 3600, ge=1)
    min_part_size: int = Field(default=5 * 1024 * 1024, ge=5 * 1024 * 1024)
    sweeper_enabled: bool = True
    sweeper_interval_s: float = Field(default=30.0, gt=0)
    list_max_page: int = Field(default=500, ge=1, le=10_000)
    tar_max_recordings: int = Field(default=10_000, ge=1)
    arc_public_key: Ed25519PublicText = Field(
        default=None, description="ed25519:... key of the ARC that signs operator registrations"
    )
    log_level: LogLevel = "INFO"
    web_dir: Annotated[DirectoryPath, AfterValidator(_built_web_app)] | None = Field(
        default=None,
        description="built web app (web/dist) served at /app/; default: no web app",
    )
    web_connect_src: OriginList = Field(
        default="",
        description="comma-separated origins the web app may connect to besides this service "
        "and the object store: the key custodians (https://c1.example.net); added to the "
        "connect-src of its Content-Security-Policy",
    )

    # --- alarms, consents, telemetry, notifications ---
    alarm_access_period_s: int = Field(
        default=1800, ge=1, le=24 * 3600, description="alarm access period from trigger time"
    )
    alarm_max_age_s: int = Field(
        default=300, ge=1, le=24 * 3600, description="oldest trigger time accepted at intake"
    )
    consent_max_validity_s: int = Field(
        default=2 * 86400,
        ge=60,
        le=7 * 86400,
        description="longest consent validity (not_after - not_before) the service stores",
    )
    telemetry_retention_s: int = Field(
        default=30 * 86400, ge=1, le=10 * 365 * 86400, description="telemetry kept this long"
    )
    smart_alert_max_bytes: int = Field(default=64 * 1024, ge=256, le=16 * 1024 * 1024)
    sse_poll_interval_s: float = Field(
        default=1.0, gt=0, le=60, description="how often SSE streams look for new rows"
    )
    sse_keepalive_s: float = Field(default=15.0, gt=0, le=300)
    sse_max_duration_s: float = Field(
        default=3600.0, gt=0, description="an inbox stream ends after this; clients reconnect"
    )

    @property
    def web_connect_origins(self) -> list[str]:
        """The custodians' origins the web app's CSP lets it connect to."""
        return [o for o in self.web_connect_src.split(",") if o]

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'camvault.db').as_posix()}"

    @property
    def effective_blob_dir(self) -> Path:
        return self.blob_dir if self.blob_dir is not None else self.data_dir / "objects"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
