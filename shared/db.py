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


CONNECT_TIMEOUT = 5.0
STATEMENT_TIMEOUT = 30.0
POOL_TIMEOUT = 10.0


def make_engine(
    url: str,
    *,
    role: str | None = None,
    pool_size: int = 10,
    connect_timeout: float = CONNECT_TIMEOUT,
    statement_timeout: float = STATEMENT_TIMEOUT,
    pool_timeout: float = POOL_TIMEOUT,
) -> AsyncEngine:
    """An async engine; with `role`, every connection works as that database role.

    A hung database (a stopped host, a full disk, a network that drops packets) must answer 503
    within seconds, not hold every request: a connect gives up after `connect_timeout`, a statement
    after `statement_timeout` (enforced by the driver, since a frozen server cannot enforce its own
    `statement_timeout`; the server's is set too, so a slow query is cancelled there as well), and a
    request waiting for a pooled connection after `pool_timeout`. Each surfaces as an exception
    that `shared.problems` answers 503 `database_unavailable` with `Retry-After`.
    """
    # A fixed pool: under load, requests wait for a connection rather than open and close overflow
    # connections (each new one costs a connect and the driver's type introspection). No pre-ping
    # (a round trip per checkout): after a database restart a stale connection fails once, the
    # request answers 503, and SQLAlchemy invalidates the pool on that disconnect.
    server_settings = {**_role_settings(role), "statement_timeout": str(int(statement_timeout * 1000))}
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout,
        json_serializer=_dumps,
        json_deserializer=orjson.loads,
        connect_args={
            "server_settings": server_settings,
            "timeout": connect_timeout,
            "command_timeout": statement_timeout,
        },
    )


def asyncpg_dsn(url: str) -> str:
    """The plain libpq URL asyncpg understands, from an SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


# asyncpg's words for a statement sent on a connection still waiting for the end of the last one,
# which a server restart cut off: that connection is unusable, and a new one may succeed.
_MID_PROTOCOL = "another operation"


def left_mid_protocol(exc: BaseException) -> bool:
    """Whether `exc` is asyncpg refusing a connection a restart left halfway through a statement."""
    import asyncpg

    return isinstance(exc, asyncpg.exceptions._base.InternalClientError) and _MID_PROTOCOL in str(exc)


async def connect_raw(
    url: str,
    *,
    role: str | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    command_timeout: float | None = None,
    server_settings: dict[str, str] | None = None,
):
    """A plain asyncpg connection (for LISTEN, advisory locks and COPY), JSON decoded with orjson.

    `command_timeout` (seconds, default none: a rebuild's bulk statements may take long) bounds
    every statement on the client side, which is what ends a wait on a frozen server."""
    import asyncpg

    conn = await asyncpg.connect(
        asyncpg_dsn(url),
        server_settings={**_role_settings(role), **(server_settings or {})},
        timeout=connect_timeout,
        command_timeout=command_timeout,
    )
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


async def create_raw_pool(
    url: str,
    *,
    role: str | None = None,
    min_size: int = 1,
    max_size: int = 2,
    idle_seconds: float = 0,
    command_timeout: float | None = None,
    connect_timeout: float = 60,
):
    """A small asyncpg pool (JSON through orjson, jsonb in binary) for work that skips SQLAlchemy: the
    append path, the webhook worker. `idle_seconds`: give idle connections back after that long."""
    import asyncpg

    return await asyncpg.create_pool(
        asyncpg_dsn(url),
        server_settings=_role_settings(role),
        min_size=min_size,
        max_size=max_size,
        max_inactive_connection_lifetime=idle_seconds,
        command_timeout=command_timeout,
        timeout=connect_timeout,
        init=_binary_codecs,
    )
