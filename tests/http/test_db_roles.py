"""Least privilege in the database (migration 0003): each service's role can do its job and no more."""

import asyncpg
import pytest
from sqlalchemy import text

from shared.db import asyncpg_dsn, connect_raw, make_engine
from shared.projection_schema import generation_ddl, switch_views_ddl
from tests.support.harness import running_kaohe

DENIED = asyncpg.exceptions.InsufficientPrivilegeError
EVENT_ROW = (
    "INSERT INTO eventlog.events (event_id, stream_id, stream_version, type, schema_version, occurred_at, "
    "data, content_hash) VALUES (gen_random_uuid(), 'unit-R', $1, 'unit.registered', 1, now(), "
    '\'{"unit_id": "R", "name": "r", "kind": "other"}\', \'\\x00\')'
)


async def _as(url: str, role: str):
    return await connect_raw(url, role=role)


async def _denied(conn, sql: str, *args) -> str:
    """Run `sql` in a rolled-back transaction; it must fail for lack of privilege, not for another reason."""
    with pytest.raises(DENIED) as refused:
        async with conn.transaction():
            await conn.execute(sql, *args)
    return str(refused.value)


async def _allowed(conn, sql: str, *args) -> None:
    tr = conn.transaction()
    await tr.start()
    try:
        await conn.execute(sql, *args)
    finally:
        await tr.rollback()


async def test_ingest_may_insert_and_read_the_log_and_nothing_else(database_url):
    conn = await _as(database_url, "kaohe_ingest")
    try:
        assert await conn.fetchval("SELECT current_user") == "kaohe_ingest"
        await _allowed(conn, EVENT_ROW, 1)
        await conn.fetchval("SELECT count(*) FROM eventlog.events")
        # refused by the privilege system, before the append-only trigger is ever reached
        for sql in ("UPDATE eventlog.events SET type = 'x'", "DELETE FROM eventlog.events", "TRUNCATE eventlog.events"):
            assert "permission denied for table events" in await _denied(conn, sql)
        await _denied(conn, "SELECT * FROM proj.lines")
        await _denied(conn, "INSERT INTO proj_g1.checkpoint VALUES (2, 0, '')")
        await _denied(conn, "UPDATE auth.api_keys SET revoked_at = NULL")
        await _denied(conn, "INSERT INTO auth.api_keys (key_id, name, role, key_hash) VALUES ('k', 'k', 'admin', 'x')")
        await _denied(conn, "CREATE TABLE eventlog.sneaky (x int)")
        await _denied(conn, "CREATE SCHEMA sneaky")
        await _denied(conn, "ALTER TABLE eventlog.events DISABLE TRIGGER events_append_only")
    finally:
        await conn.close()


async def test_the_log_refuses_update_even_for_its_owner(database_url):
    """The trigger is the second line: the login user (the owner) still cannot rewrite history."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await _allowed(conn, EVENT_ROW, 1)
        with pytest.raises(DENIED, match="append-only"):
            async with conn.transaction():
                await conn.execute(EVENT_ROW, 1)
                await conn.execute("UPDATE eventlog.events SET type = 'x'")
    finally:
        await conn.close()


async def test_scoring_reads_the_log_writes_projections_and_cannot_append(database_url):
    conn = await _as(database_url, "kaohe_scoring")
    try:
        await conn.fetchval("SELECT count(*) FROM eventlog.events")
        assert "permission denied" in await _denied(conn, EVENT_ROW, 1)
        await _denied(conn, "UPDATE eventlog.events SET type = 'x'")
        await _denied(conn, "INSERT INTO auth.api_keys (key_id, name, role, key_hash) VALUES ('k', 'k', 'admin', 'x')")
        await _allowed(conn, "UPDATE proj_g1.checkpoint SET position = 5")
        await _allowed(conn, "UPDATE scoring.active_generation SET schema_name = 'proj_g1'")
        # a rebuild as kaohe_scoring: new generation schema, its tables, then the views switched
        tr = conn.transaction()
        await tr.start()
        try:
            schema = f"proj_g{await conn.fetchval('SELECT nextval(' + repr('scoring.generation_seq') + ')')}"
            for statement in generation_ddl(schema) + switch_views_ddl(schema):
                await conn.execute(statement)
            await conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO kaohe_reporting")
            assert await conn.fetchval("SELECT count(*) FROM proj.lines") == 0
        finally:
            await tr.rollback()
    finally:
        await conn.close()


async def test_reporting_reads_projections_and_writes_nothing(database_url):
    conn = await _as(database_url, "kaohe_reporting")
    try:
        for table in ("units", "officers", "items", "targets", "lines", "facts", "checkpoint"):
            await conn.fetch(f"SELECT * FROM proj.{table} LIMIT 1")
        assert (await conn.fetchval("SELECT scoring.projection_version()")).startswith("proj_g1:")
        await _denied(conn, "SELECT schema_name FROM scoring.active_generation")  # scoring's own table
        await conn.fetchval("SELECT key_hash FROM auth.api_keys LIMIT 1")
        # `as_of` needs position and recording time of the log, and nothing more of it
        await conn.fetchval("SELECT max(global_position) FROM eventlog.events WHERE recorded_at <= now()")
        await _denied(conn, "SELECT data FROM eventlog.events")
        for sql in (
            EVENT_ROW.replace("$1", "1"),
            "INSERT INTO proj_g1.checkpoint VALUES (2, 0, '')",
            "INSERT INTO proj.checkpoint VALUES (2, 0, '')",
            "UPDATE proj.checkpoint SET position = 9",
            "DELETE FROM proj_g1.lines",
            "UPDATE scoring.active_generation SET schema_name = 'x'",
            "INSERT INTO auth.api_keys (key_id, name, role, key_hash) VALUES ('k', 'k', 'admin', 'x')",
            "CREATE SCHEMA sneaky",
            "CREATE TABLE proj.sneaky (x int)",
            "CREATE TABLE public.sneaky (x int)",
            "SELECT nextval('scoring.generation_seq')",
        ):
            await _denied(conn, sql)
    finally:
        await conn.close()


async def test_a_login_user_of_one_service_cannot_take_another_services_role(database_url):
    """SET ROLE is checked against the login user, so real isolation between services needs one login
    user per service (KAOHE_<SERVICE>_DATABASE_URL), each a member of its own role only."""
    admin = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await admin.execute("""
            DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kaohe_test_reporting_login') THEN
                    CREATE ROLE kaohe_test_reporting_login LOGIN IN ROLE kaohe_reporting;
                END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END $$""")
    finally:
        await admin.close()
    url = database_url.replace("postgres@", "kaohe_test_reporting_login@", 1)
    conn = await _as(url, "kaohe_reporting")
    try:
        await conn.fetchval("SELECT position FROM proj.checkpoint")
        for other in ("kaohe_ingest", "kaohe_scoring", "postgres"):
            await _denied(conn, f"SET ROLE {other}")
        with pytest.raises(DENIED):
            await _as(url, "kaohe_ingest")
    finally:
        await conn.close()


async def test_services_work_as_their_roles(kaohe):
    """The apps' pools and the projector's and position watch's own connections use the roles."""
    for name, app in kaohe.apps.items():
        async with app.state.kaohe.engine.connect() as conn:
            assert (await conn.execute(text("SELECT current_user"))).scalar() == f"kaohe_{name}"
    assert kaohe.apps["scoring"].state.projector.role == "kaohe_scoring"
    assert kaohe.apps["reporting"].state.position_watch.role == "kaohe_reporting"
    # and the whole path works under them
    await kaohe.post("unit.registered", {"unit_id": "U1", "name": "区发改委", "kind": "department"})
    assert [row["unit_id"] for row in (await kaohe.ranking())["rows"]] == ["U1"]


async def test_roles_can_be_switched_off(database_url):
    async with running_kaohe(database_url, KAOHE_DB_ROLES=False) as kaohe:
        for app in kaohe.apps.values():
            async with app.state.kaohe.engine.connect() as conn:
                assert (await conn.execute(text("SELECT current_user = session_user"))).scalar()
        assert kaohe.apps["scoring"].state.projector.role is None


async def test_a_pooled_connection_keeps_its_role_after_errors_and_rollbacks(database_url):
    engine = make_engine(database_url, role="kaohe_reporting", pool_size=1)
    try:
        for _ in range(3):
            async with engine.connect() as conn:
                with pytest.raises(Exception):  # noqa: B017 (a permission error from asyncpg, wrapped by SQLAlchemy)
                    await conn.execute(text("INSERT INTO proj.checkpoint VALUES (3, 0, '')"))
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT current_user"))).scalar() == "kaohe_reporting"
    finally:
        await engine.dispose()


async def test_roles_exist_once_and_the_migration_user_may_use_them(database_url):
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await conn.fetch(
            "SELECT rolname, rolcanlogin, pg_has_role(current_user, oid, 'MEMBER') AS member "
            "FROM pg_roles WHERE rolname LIKE ANY($1) ORDER BY rolname",
            ["kaohe_ingest", "kaohe_scoring", "kaohe_reporting"],
        )
        assert [(r["rolname"], r["rolcanlogin"], r["member"]) for r in rows] == [
            ("kaohe_ingest", False, True),
            ("kaohe_reporting", False, True),
            ("kaohe_scoring", False, True),
        ]
        owners = await conn.fetch(
            "SELECT DISTINCT c.relowner::regrole::text AS owner FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE (n.nspname IN ('proj', 'proj_g1') AND c.relkind IN ('r', 'v')) "
            "OR c.oid IN ('scoring.active_generation'::regclass, 'scoring.generation_seq'::regclass)"
        )
        assert [r["owner"] for r in owners] == ["kaohe_scoring"]
    finally:
        await conn.close()
