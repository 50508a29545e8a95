"""Alembic environment: migrates the database named by `DATABASE_URL` (or -x url=...)."""

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from shared.settings import Settings


def _url() -> str:
    return (
        context.get_x_argument(as_dictionary=True).get("url")
        or context.config.get_main_option("sqlalchemy.url")
        or Settings().database_url
    )


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("kaohe migrations run online only")
connectable = context.config.attributes.get("connection")
if connectable is not None:
    _run(connectable)
else:
    asyncio.run(_main())
