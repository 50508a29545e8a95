"""Settings read from the environment, validated once by pydantic-settings."""

from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
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
    auth_enabled: bool = Field(True, alias="KAOHE_AUTH")
    projector_batch_size: int = Field(1000, alias="KAOHE_PROJECTOR_BATCH", ge=1, le=50_000)
    projector_poll_seconds: float = Field(5.0, alias="KAOHE_PROJECTOR_POLL_SECONDS", gt=0)
    fold_cache_limit: int = Field(50_000, alias="KAOHE_FOLD_CACHE", ge=1)  # items/adoptions kept between chunks
    fold_workers: int = Field(2, alias="KAOHE_FOLD_WORKERS", ge=1, le=64)  # what-if/audit folds at once
    projector_enabled: bool = Field(True, alias="KAOHE_PROJECTOR")
    pool_size: int = Field(20, alias="KAOHE_DB_POOL_SIZE", ge=1)
    db_roles: bool = Field(True, alias="KAOHE_DB_ROLES")  # each service SETs ROLE kaohe_<service>

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
