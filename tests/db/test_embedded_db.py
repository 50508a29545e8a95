"""The embedded PostgreSQL of tools/devdb.py: first start, restart, stop, relocation, pgserver fallback."""

import asyncio
import os
import shutil
import signal
import socket

import asyncpg
import pytest

from shared.db import asyncpg_dsn
from tools.devdb import EmbeddedPostgres, _pgserver_bindir, candidate_bindirs, free_port


async def query(url: str, sql: str):
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


@pytest.fixture
def server(tmp_path):
    pg = EmbeddedPostgres(tmp_path / "pg")
    yield pg
    pg.destroy()


async def test_first_start_creates_a_cluster_that_answers_on_localhost(server):
    server.start()
    assert server.running()
    assert server.url("kaohe").startswith(f"postgresql+asyncpg://postgres@127.0.0.1:{server.port}/kaohe")
    assert await query(server.url(), "SELECT current_user") == "postgres"
    assert await query(server.url(), "SHOW fsync") == "on"


async def test_start_is_idempotent_and_restart_keeps_port_and_data(server):
    server.start()
    url = server.url()
    await query(url, "CREATE TABLE kept AS SELECT 7 AS n")
    server.start()
    server.restart()
    assert server.url() == url
    assert await query(url, "SELECT n FROM kept") == 7


async def test_stop_refuses_connections_and_a_second_handle_finds_the_running_server(server):
    server.start()
    other = EmbeddedPostgres(server.data_dir)
    assert other.running() and other.url() == server.url()
    port = server.port
    server.stop()
    server.stop()
    assert not other.running()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


async def test_context_manager_with_a_given_port(tmp_path):
    port = free_port()
    with EmbeddedPostgres(tmp_path / "pg", port=port) as pg:
        assert pg.port == port
        assert await query(pg.url(), "SELECT 1") == 1
    assert not pg.running()
    pg.destroy()


def test_the_machines_binaries_come_before_pgserver():
    found = candidate_bindirs()
    bundled = _pgserver_bindir()
    assert found, "no PostgreSQL binaries at all"
    if bundled and len(found) > 1:
        assert found[-1] == bundled


@pytest.mark.skipif(os.geteuid() != 0, reason="relocation happens only when run as root")
async def test_as_root_a_closed_parent_directory_relocates_the_cluster_and_destroy_removes_it(tmp_path):
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    pg = EmbeddedPostgres(closed / "pg")
    pg.start()
    try:
        assert pg.pgdata.is_symlink()
        target = pg.pgdata.resolve()
        assert target.stat().st_uid != 0 and oct(target.stat().st_mode & 0o777) == "0o700"
        assert oct(closed.stat().st_mode & 0o777) == "0o700"  # we did not open it up
        assert await query(pg.url(), "SELECT 1") == 1
    finally:
        pg.destroy()
    assert not target.exists() and not closed.joinpath("pg").exists()


@pytest.mark.skipif(_pgserver_bindir() is None, reason="pgserver wheel not installed")
async def test_pgserver_binaries_serve_over_tcp_too(tmp_path):
    with EmbeddedPostgres(tmp_path / "pg", bindir=_pgserver_bindir()) as pg:
        version = await query(pg.url(), "SHOW server_version")
    pg.destroy()
    assert version.startswith("16.")


def test_an_existing_cluster_picks_binaries_of_its_own_version(tmp_path):
    bundled = _pgserver_bindir()
    if bundled is None or len(candidate_bindirs()) < 2:
        pytest.skip("needs both the machine's binaries and pgserver's")
    EmbeddedPostgres(tmp_path / "pg", bindir=bundled).start()
    again = EmbeddedPostgres(tmp_path / "pg")  # a cluster made by pgserver's PostgreSQL 16
    try:
        again.stop()
        again.start()
        assert again._bindir == bundled
    finally:
        again.destroy()


def test_free_port_is_bindable():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
    assert isinstance(port, int) and port > 0


async def test_after_the_server_is_killed_start_recovers_the_data(server):
    server.start()
    url = server.url()
    await query(url, "CREATE TABLE kept AS SELECT 7 AS n")
    pid = int((server.pgdata / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    while server.running():
        await asyncio.sleep(0.02)
    server.start()
    assert server.url() == url
    assert await query(url, "SELECT n FROM kept") == 7


@pytest.mark.skipif(os.geteuid() != 0, reason="relocation happens only when run as root")
async def test_a_path_reused_by_a_later_run_gets_a_relocated_cluster_of_its_own(tmp_path):
    """pytest reuses `pytest-N` paths across runs: a cluster a killed run left behind under the same
    path must not be met (or refused as "in use") by the next run's cluster."""
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    first = EmbeddedPostgres(closed / "pg")
    first.start()
    left_behind = first.pgdata.resolve()
    try:
        first.stop(mode="immediate")
        (closed / "pg" / "pgdata").unlink()  # the run was killed and its temporary directory recycled
        (closed / "pg" / ".lock").unlink()
        second = EmbeddedPostgres(closed / "pg")
        second.start()
        try:
            assert second.pgdata.resolve() != left_behind
            assert await query(second.url(), "SELECT 1") == 1
        finally:
            second.destroy()
    finally:
        shutil.rmtree(left_behind.parent, ignore_errors=True)
