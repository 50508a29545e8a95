"""Database engines. Nothing here runs at import time: apps build engines in their lifespan."""

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def _dumps(value) -> str:
    return orjson.dumps(value).decode()


def _role_settings(role: str | None) -> dict[str, str]:
    # The role is a startup parameter of the connection (as `-c role=...` would be), not a SET ROLE
    # statement after connecting: a SET inside the driver's implicit first transaction would be
    # undone by that transaction's rollback, and RESET ROLE / RESET ALL return to this value.
    return {"role": role} if role else {}


def make_engine(url: str, *, role: str | None = None, pool_size: int = 10) -> AsyncEngine:
    """An async engine; with `role`, every connection works as that database role."""
    # A fixed pool: under load, requests wait for a connection rather than open and close overflow
    # connections (each new one costs a connect and the driver's type introspection). No pre-ping
    # (a round trip per checkout): after a database restart a stale connection fails once, the
    # request answers 503, and SQLAlchemy invalidates the pool on that disconnect.
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=30,
        json_serializer=_dumps,
        json_deserializer=orjson.loads,
        connect_args={"server_settings": _role_settings(role)},
    )


def asyncpg_dsn(url: str) -> str:
    """The plain libpq URL asyncpg understands, from an SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def connect_raw(url: str, *, role: str | None = None):
    """A plain asyncpg connection (for LISTEN, advisory locks and COPY), JSON decoded with orjson."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url), server_settings=_role_settings(role))
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")
    return conn


def _jsonb_binary(value) -> bytes:
    return b"\x01" + orjson.dumps(value)  # jsonb's binary format: a version byte, then the text


def _jsonb_from_binary(data: bytes):
    return orjson.loads(memoryview(data)[1:])


async def _binary_codecs(conn) -> None:
    # jsonb in binary: binary COPY needs a binary encoder for every column, and it saves the server a
    # text conversion per value.
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_binary, decoder=_jsonb_from_binary, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec("json", encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


async def create_raw_pool(url: str, *, role: str | None = None, size: int = 2):
    """A small asyncpg pool (JSON through orjson, jsonb in binary) for a hot path that skips SQLAlchemy."""
    import asyncpg

    return await asyncpg.create_pool(
        asyncpg_dsn(url), server_settings=_role_settings(role), min_size=1, max_size=size, init=_binary_codecs
    )
