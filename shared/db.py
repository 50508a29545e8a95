"""Database engines. Nothing here runs at import time: apps build engines in their lifespan."""

import orjson
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def _dumps(value) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str, *, role: str | None = None, pool_size: int = 10) -> AsyncEngine:
    """An async engine; with `role`, every new connection switches to that database role."""
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        json_serializer=_dumps,
        json_deserializer=orjson.loads,
    )
    if role:

        @event.listens_for(engine.sync_engine, "connect")
        def _set_role(dbapi_connection, _record):  # pragma: no cover - exercised via services
            cursor = dbapi_connection.cursor()
            cursor.execute(f'SET ROLE "{role}"')
            cursor.close()

    return engine


def asyncpg_dsn(url: str) -> str:
    """The plain libpq URL asyncpg understands, from an SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def connect_raw(url: str, *, role: str | None = None):
    """A plain asyncpg connection (for LISTEN, advisory locks and COPY), JSON decoded with orjson."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")
    if role:
        await conn.execute(f'SET ROLE "{role}"')
    return conn
