"""Fixtures: a migrated template database per session, a fresh copy per test, the three apps."""

import asyncio

import pytest

from shared.migrate import upgrade
from tests.support.database import create_database, drop_database, server_url, with_database
from tests.support.harness import running_kaohe


@pytest.fixture(scope="session")
def pg_server() -> str:
    return server_url()


@pytest.fixture(scope="session")
async def template_database(pg_server):
    name = await create_database(pg_server, prefix="kaohe_tpl")
    await asyncio.to_thread(upgrade, with_database(pg_server, name))
    yield name
    await drop_database(pg_server, name)


@pytest.fixture
async def database_url(pg_server, template_database):
    name = await create_database(pg_server, template=template_database)
    yield with_database(pg_server, name)
    await drop_database(pg_server, name)


@pytest.fixture
async def kaohe(database_url):
    async with running_kaohe(database_url) as running:
        yield running
