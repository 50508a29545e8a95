"""Test databases: every test that needs isolation gets a fresh copy of a migrated template."""

import os
import socket
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shared.db import asyncpg_dsn

LOCAL_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def server_url() -> str:
    """DATABASE_URL when set, else the local server on 5432 when it answers, else KAOHE_TEST_SERVER_URL."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    if os.environ.get("KAOHE_TEST_SERVER_URL"):
        return os.environ["KAOHE_TEST_SERVER_URL"]
    if _answers("127.0.0.1", 5432):
        return LOCAL_SERVER
    raise RuntimeError("no PostgreSQL: set DATABASE_URL or run tests through `make test` (embedded server)")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def create_database(server: str, *, template: str | None = None, prefix: str = "kaohe_t") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(asyncpg_dsn(server))
    try:
        clause = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{clause}')
        if template:
            # Database-level grants (migration 0003's CREATE for kaohe_scoring) are not copied
            # from a template: give the copy the template's.
            grants = await conn.fetch(
                "SELECT a.privilege_type, a.grantee::regrole::text AS grantee "
                "FROM pg_database, aclexplode(datacl) AS a WHERE datname = $1 AND a.grantee <> 0",
                template,
            )
            for grant in grants:
                await conn.execute(f'GRANT {grant["privilege_type"]} ON DATABASE "{name}" TO {grant["grantee"]}')
    finally:
        await conn.close()
    return name


async def drop_database(server: str, name: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(server))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
