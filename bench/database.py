"""Fresh benchmark databases on DATABASE_URL's server (or 127.0.0.1:5432), dropped afterwards."""

import asyncio
import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shared.db import asyncpg_dsn
from shared.migrate import upgrade

LOCAL_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    url = os.environ.get("DATABASE_URL") or LOCAL_SERVER
    if not url.startswith("postgresql+asyncpg://"):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


class Databases:
    """Creates databases named kaohe_bench_*, remembers them, drops them all at the end."""

    def __init__(self, server: str | None = None):
        self.server = server or server_url()
        self.created: list[str] = []

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(asyncpg_dsn(with_database(self.server, "postgres")))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create(self, *, migrate: bool = True, template: str | None = None) -> str:
        """A new database (a copy of `template` if given); returns its SQLAlchemy URL."""
        name = f"kaohe_bench_{uuid.uuid4().hex[:10]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        await self._admin(f'CREATE DATABASE "{name}"{clause}')
        self.created.append(name)
        if template:
            await self._copy_grants(template, name)
        url = with_database(self.server, name)
        if migrate and not template:
            await asyncio.to_thread(upgrade, url)
        return url

    async def _copy_grants(self, template: str, name: str) -> None:
        """A copy made from a template does not inherit the template's database-level grants (such as
        the scoring role's CREATE, which a rebuild needs for its new schema); grant them again."""
        conn = await asyncpg.connect(asyncpg_dsn(with_database(self.server, "postgres")))
        try:
            grants = await conn.fetch(
                "SELECT a.grantee::regrole::text AS grantee, a.privilege_type FROM pg_database d, "
                "aclexplode(d.datacl) a WHERE d.datname = $1 AND a.grantee <> 0 AND a.grantee <> d.datdba",
                template,
            )
            for grant in grants:
                await conn.execute(f'GRANT {grant["privilege_type"]} ON DATABASE "{name}" TO {grant["grantee"]}')
        finally:
            await conn.close()

    async def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    async def drop_all(self) -> None:
        for name in list(self.created):
            await self.drop(with_database(self.server, name))

    async def server_version(self) -> str:
        conn = await asyncpg.connect(asyncpg_dsn(with_database(self.server, "postgres")))
        try:
            return await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()


def name_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")
