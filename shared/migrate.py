"""Run the alembic migrations against a database URL (used by `make migrate`, `make run` and tests)."""

import sys

from alembic import command
from alembic.config import Config

from shared.settings import REPO_ROOT, Settings


def alembic_config(url: str) -> Config:
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else Settings().database_url
    upgrade(url)


if __name__ == "__main__":
    main()
