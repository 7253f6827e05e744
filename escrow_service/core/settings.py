"""Settings of one custodian, from the environment (prefix ``CAMVAULT_ESCROW_``).

Embedded defaults: SQLite in ``<data_dir>/escrow.db`` and the two secret keys in
``<data_dir>/escrow.key`` (X25519 escrow key) and ``<data_dir>/log.key`` (Ed25519 note
signer of the transparency log), created with mode 0600 on first start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, model_validator
from pydantic_settings import SettingsConfigDict

from common.config import DatabaseUrl, Ed25519PublicText, LogLevel, OriginList
from common.serving import ServingSettings
from crypto.errors import CryptoError
from crypto.tlog.cosignature import CosignatureVerifier

#: What the web app sends to a custodian beyond the CORS-safelisted headers.
CORS_REQUEST_HEADERS = (
    "content-type",
    "content-digest",
    "signature",
    "signature-input",
    "idempotency-key",
)
CORS_MAX_AGE_S = 600


def parse_witnesses(value: str) -> list[tuple[str, CosignatureVerifier]]:
    """``<http(s) URL> <witness verifier key>`` entries, comma-separated, names distinct."""
    out = []
    for item in (i.strip() for i in value.split(",")):
        if not item:
            continue
        url, sep, vkey = item.partition(" ")
        if not sep or not url.startswith(("http://", "https://")):
            raise ValueError(f"{item[:60]!r}: expected '<http(s) URL> <witness key>'")
        try:
            verifier = CosignatureVerifier.from_text(vkey.strip())
        except CryptoError as exc:
            raise ValueError(f"{item[:60]!r}: {exc}") from None
        out.append((url.rstrip("/"), verifier))
    if len({v.name for _, v in out}) != len(out):
        raise ValueError("two witnesses share a name")
    return out


def _witnesses(value: str) -> str:
    parse_witnesses(value)
    return value


WitnessList = Annotated[str, AfterValidator(_witnesses)]


class EscrowSettings(ServingSettings):
    model_config = SettingsConfigDict(env_prefix="CAMVAULT_ESCROW_", extra="ignore")

    custodian_id: str = Field(default="c1", description="this custodian's id in SiteKeys")
    data_dir: Path = Field(default=Path("camvault-data/escrow-c1"))
    database_url: DatabaseUrl = Field(default=None, description="default sqlite in data_dir")
    auto_migrate: bool = Field(default=True, description="apply migrations at start")
    arc_public_key: Ed25519PublicText = Field(
        default=None, description="ed25519:... key of the ARC that signs operator registrations"
    )
    alarm_freshness_s: int = Field(
        default=300, ge=1, le=24 * 3600, description="max age of an alarm at first presentation"
    )
    access_period_s: int = Field(
        default=1800, ge=60, le=24 * 3600, description="alarm access period from trigger time"
    )
    max_access_period_s: int = Field(default=4 * 3600, ge=60, le=24 * 3600)
    clock_skew_s: int = Field(default=60, ge=0, le=3600)
    signature_max_lifetime_s: int = Field(default=300, ge=1, le=3600)
    max_batch: int = Field(default=10_000, ge=1, le=100_000)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_entries_page: int = Field(default=1000, ge=1, le=100_000)
    parallel_threshold: int = Field(
        default=256, ge=1, description="batches at least this big are opened in worker processes"
    )
    crypto_workers: int = Field(default=2, ge=0, le=64, description="0 = no process pool")
    notify_url: str | None = Field(
        default=None, description="where access notices are POSTed (storage_service inbox)"
    )
    notify_interval_s: float = Field(default=2.0, gt=0)
    notify_max_backoff_s: float = Field(default=300.0, gt=0)
    public_authority: str | None = Field(
        default=None,
        description=(
            "host:port clients use to reach this custodian (comma-separated if several); "
            "request signatures whose covered @authority differs are refused (wrong_authority). "
            "`python -m escrow_service` defaults it to the bound --host:--port"
        ),
    )
    cors_origins: OriginList = Field(
        default="",
        description=(
            "comma-separated origins of web apps allowed to call this custodian from a "
            "browser (https://app.example.com); empty: no CORS headers at all"
        ),
    )
    log_level: LogLevel = "INFO"
    # Witness cosigning (docs/WITNESS.md): "<url> <witness verifier key>", comma-separated.
    witnesses: WitnessList = Field(
        default="", description="witnesses that cosign the log: '<url> <key>', comma-separated"
    )
    # Empty means unset: docker-compose.yml passes ${CAMVAULT_WITNESS_QUORUM:-}.
    witness_quorum: Annotated[int | None, BeforeValidator(lambda v: None if v == "" else v)] = (
        Field(default=None, ge=1, description="cosignatures a checkpoint needs (default: all)")
    )
    witness_interval_ms: int = Field(
        default=0, ge=0, le=60_000, description="least time between two cosigning rounds"
    )
    witness_timeout_s: float = Field(default=5.0, gt=0, le=60)
    witness_refresh_s: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description="a cosigned checkpoint older than this is cosigned again when asked for "
        "(clients refuse one older than their freshness bound: frozen view)",
    )

    @model_validator(mode="after")
    def _quorum_fits(self) -> EscrowSettings:
        n = len(parse_witnesses(self.witnesses))
        if self.witness_quorum is not None and self.witness_quorum > n:
            raise ValueError(
                f"WITNESS_QUORUM {self.witness_quorum} is more than the {n} witnesses "
                "listed in CAMVAULT_ESCROW_WITNESSES"
            )
        return self

    @property
    def witness_list(self) -> list[tuple[str, CosignatureVerifier]]:
        return parse_witnesses(self.witnesses)

    @property
    def cors_origin_list(self) -> list[str]:
        """The origins CORS allows (empty: CORS is off)."""
        return [o for o in self.cors_origins.split(",") if o]

    @property
    def authorities(self) -> frozenset[str] | None:
        """The accepted request authorities (lower case), or None when not configured."""
        if not self.public_authority:
            return None
        return frozenset(a.strip().lower() for a in self.public_authority.split(",") if a.strip())

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'escrow.db').as_posix()}"

    @property
    def origin(self) -> str:
        """The log's checkpoint origin and note key name (C2SP tlog-checkpoint)."""
        return f"camvault.io/custodian/{self.custodian_id}"
