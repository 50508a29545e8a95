"""Settings read from the environment, validated once by pydantic-settings."""

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/kaohe"


def worker_count() -> int:
    """Worker processes per service: `KAOHE_WORKERS`, else the CPUs this process may run on.

    Several workers share one log safely: the order lock is in the database, the group committer of
    each worker retries a race on a stream version, and the scoring projector is one leader per
    database behind an advisory lock (the other workers' projectors stand by)."""
    import os

    configured = os.environ.get("KAOHE_WORKERS", "").strip()
    if configured:
        return max(1, int(configured))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Settings(BaseSettings):
    """Configuration shared by every service; each service may add its own database URL."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    database_url: str = Field(DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    timezone: str = Field("Asia/Shanghai", alias="KAOHE_TIMEZONE")
    policy_dir: Path = Field(REPO_ROOT / "policies", alias="KAOHE_POLICY_DIR")
    bootstrap_admin_key: str | None = Field(None, alias="KAOHE_BOOTSTRAP_ADMIN_KEY")
    public_reads: bool = Field(False, alias="KAOHE_PUBLIC_READS")
    # `KAOHE_AUTH=false` makes every caller an admin: refused unless the deployment says it is a
    # development one (`KAOHE_ENV=development`), so a stray variable cannot open production.
    auth_enabled: bool = Field(True, alias="KAOHE_AUTH")
    environment: Literal["production", "development"] = Field("production", alias="KAOHE_ENV")
    # A request body must keep arriving: at most this long between two reads, and all of it within
    # `body_timeout` (a client trickling a body would otherwise hold its memory and connection).
    body_read_timeout: float = Field(10.0, alias="KAOHE_BODY_READ_TIMEOUT", gt=0)
    body_timeout: float = Field(60.0, alias="KAOHE_BODY_TIMEOUT", gt=0)
    # A hung database answers 503 within these (seconds); see shared/db.py.
    db_connect_timeout: float = Field(5.0, alias="KAOHE_DB_CONNECT_TIMEOUT", gt=0)
    db_statement_timeout: float = Field(30.0, alias="KAOHE_DB_STATEMENT_TIMEOUT", gt=0)
    db_pool_timeout: float = Field(10.0, alias="KAOHE_DB_POOL_TIMEOUT", gt=0)
    # The projector leader's session ends when it stays idle this long (a frozen process stops its
    # heartbeat); the standby then takes the lock. See services/scoring/projector.py.
    projector_lease_seconds: float = Field(6.0, alias="KAOHE_PROJECTOR_LEASE_SECONDS", ge=2)
    projector_batch_size: int = Field(1000, alias="KAOHE_PROJECTOR_BATCH", ge=1, le=50_000)
    projector_poll_seconds: float = Field(5.0, alias="KAOHE_PROJECTOR_POLL_SECONDS", gt=0)
    fold_cache_limit: int = Field(50_000, alias="KAOHE_FOLD_CACHE", ge=1)  # items/adoptions kept between chunks
    fold_workers: int = Field(2, alias="KAOHE_FOLD_WORKERS", ge=1, le=64)  # what-if/audit folds at once
    projector_enabled: bool = Field(True, alias="KAOHE_PROJECTOR")
    pool_size: int = Field(20, alias="KAOHE_DB_POOL_SIZE", ge=1)
    db_roles: bool = Field(True, alias="KAOHE_DB_ROLES")  # each service SETs ROLE kaohe_<service>
    # Scoring and reporting read projections (and the log, for audit) from this server, a
    # streaming-replication standby, when set; writes and the projector stay on DATABASE_URL.
    read_database_url: str | None = Field(None, alias="KAOHE_READ_DATABASE_URL")
    # How often reporting reads the replayed checkpoint when reads come from a standby (no LISTEN there).
    position_poll_seconds: float = Field(0.2, alias="KAOHE_POSITION_POLL_SECONDS", gt=0, le=60)
    # Webhooks (ingest): which hosts subscriptions may target ("*" = any; else a comma list of host
    # names, "*.example.org" for a domain and its subdomains), the worker, and its pace.
    webhooks_enabled: bool = Field(True, alias="KAOHE_WEBHOOKS")
    webhook_allowed_hosts: str = Field("*", alias="KAOHE_WEBHOOK_ALLOWED_HOSTS")
    webhook_timeout_seconds: float = Field(10.0, alias="KAOHE_WEBHOOK_TIMEOUT_SECONDS", gt=0, le=60)
    webhook_backoff_seconds: float = Field(1.0, alias="KAOHE_WEBHOOK_BACKOFF_SECONDS", gt=0, le=5)
    webhook_max_backoff_seconds: float = Field(600.0, alias="KAOHE_WEBHOOK_MAX_BACKOFF_SECONDS", gt=0, le=600)
    webhook_poll_seconds: float = Field(5.0, alias="KAOHE_WEBHOOK_POLL_SECONDS", gt=0)

    @model_validator(mode="after")
    def _auth_off_only_in_development(self) -> "Settings":
        if not self.auth_enabled and self.environment != "development":
            raise ValueError(
                "KAOHE_AUTH=false is allowed only with KAOHE_ENV=development (it makes every caller admin)"
            )
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def service_database_url(self, service: str) -> str:
        """`KAOHE_<SERVICE>_DATABASE_URL` when set, else `DATABASE_URL`."""
        import os

        return os.environ.get(f"KAOHE_{service.upper()}_DATABASE_URL") or self.database_url

    def read_url(self, service: str) -> str:
        """Where a service's projection reads go: the standby when configured (scoring, reporting)."""
        if service in READS_FROM_STANDBY and self.read_database_url:
            return self.read_database_url
        return self.service_database_url(service)


READS_FROM_STANDBY = frozenset({"scoring", "reporting"})
