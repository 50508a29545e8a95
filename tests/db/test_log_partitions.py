"""The partitioned log (migration 0006): converted in place with its data, positions only the
database assigns (proved as the ingest role), guards that `session_replication_role` cannot switch
off, uniqueness across partitions, partitions made ahead of need, COPY, and detaching an old
partition while the rest serves."""

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import orjson
import pytest
from alembic import command

from shared.db import connect_raw
from shared.migrate import alembic_config
from tests.support.database import create_database, drop_database, with_database

DENIED = asyncpg.exceptions.InsufficientPrivilegeError
INSERT = (
    "INSERT INTO eventlog.events ({extra}event_id, stream_id, stream_version, type, schema_version, occurred_at, "
    "data, content_hash) {overriding}VALUES ({value}$1, $2, $3, 'unit.registered', 1, now(), "
    '\'{{"unit_id": "R", "name": "r", "kind": "other"}}\', \'\\x00\') RETURNING global_position'
)


def _insert(explicit: bool = False, overriding: bool = False) -> str:
    return INSERT.format(
        extra="global_position, " if explicit else "",
        value="$4, " if explicit else "",
        overriding="OVERRIDING SYSTEM VALUE " if overriding else "",
    )


async def _append(conn, stream: str, version: int, position: int | None = None) -> int:
    if position is None:
        return await conn.fetchval(_insert(), uuid.uuid4(), stream, version)
    return await conn.fetchval(_insert(explicit=True), uuid.uuid4(), stream, version, position)


@pytest.fixture
async def ingest(database_url):
    conn = await connect_raw(database_url, role="kaohe_ingest")
    yield conn
    await conn.close()


@pytest.fixture
async def owner(database_url):
    conn = await connect_raw(database_url)
    yield conn
    await conn.close()


async def test_the_ingest_role_cannot_choose_a_position(ingest, owner):
    assert await ingest.fetchval("SELECT current_user") == "kaohe_ingest"
    first = await _append(ingest, "unit-A", 1)
    second = await _append(ingest, "unit-A", 2)
    assert second == first + 1
    # A far position, in a partition that exists (so only the guard can refuse it).
    far = 2**62 - 1
    await owner.execute(
        f"CREATE TABLE eventlog.events_far PARTITION OF eventlog.events FOR VALUES FROM ({far - 10}) TO ({far + 10})"
    )
    for position in (first - 1 if first > 1 else 0, second + 100, far):  # a gap below, a jump ahead, 2^62-1
        with pytest.raises(DENIED, match="assigned by the database"):
            await _append(ingest, "unit-B", 1, position)
        with pytest.raises(asyncpg.PostgresError):
            await ingest.fetchval(_insert(explicit=True, overriding=True), uuid.uuid4(), "unit-B", 1, position)
    # A position drawn in an earlier transaction is not a licence to write it later, behind others.
    drawn = await ingest.fetchval("SELECT eventlog.next_position()")
    after = await _append(owner, "unit-C", 1)
    assert after > drawn
    with pytest.raises(DENIED):
        await _append(ingest, "unit-B", 1, drawn)
    # The sequence itself is out of reach.
    with pytest.raises(DENIED):
        await ingest.fetchval("SELECT nextval('eventlog.events_position_seq')")
    with pytest.raises(DENIED):
        await ingest.fetchval("SELECT setval('eventlog.events_position_seq', 10)")
    assert await owner.fetchval("SELECT max(global_position) FROM eventlog.events") == after
    assert await _append(ingest, "unit-B", 1) > after


async def test_replica_mode_does_not_switch_the_guards_off(owner):
    await _append(owner, "unit-A", 1)
    await owner.execute("SET session_replication_role = replica")
    partitions = await owner.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'eventlog.events'::regclass"
    )
    statements = ["UPDATE eventlog.events SET type = 'x'", "DELETE FROM eventlog.events", "TRUNCATE eventlog.events"]
    holding = await owner.fetchval("SELECT tableoid::regclass::text FROM eventlog.events LIMIT 1")
    statements += [f"DELETE FROM {holding}", f"UPDATE {holding} SET type = 'x'"]  # directly on a partition
    statements += [f"TRUNCATE eventlog.{row['relname']}" for row in partitions]
    for sql in statements:
        with pytest.raises(DENIED, match="append-only"):
            await owner.execute(sql)
    # and an explicit position is refused in replica mode too
    with pytest.raises(DENIED, match="assigned by the database"):
        await _append(owner, "unit-B", 1, 10**6 + 5)
    disabled = await owner.fetchval(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid IN (SELECT 'eventlog.events'::regclass UNION "
        "SELECT inhrelid FROM pg_inherits WHERE inhparent = 'eventlog.events'::regclass) "
        "AND NOT tgisinternal AND tgenabled::text <> 'A'"
    )
    assert disabled == 0


async def test_uniqueness_holds_across_partitions(owner):
    event_id = uuid.uuid4()
    await owner.fetchval(_insert(), event_id, "unit-A", 1)
    # jump the sequence into the next partition (only the owner can)
    size = await owner.fetchval("SELECT size FROM eventlog.partition_plan")
    await owner.execute(f"SELECT setval('eventlog.events_position_seq', {size + 5})")
    with pytest.raises(asyncpg.UniqueViolationError):
        await owner.fetchval(_insert(), event_id, "unit-B", 1)
    with pytest.raises(asyncpg.UniqueViolationError):
        await owner.fetchval(_insert(), uuid.uuid4(), "unit-A", 1)
    position = await owner.fetchval(_insert(), uuid.uuid4(), "unit-A", 2)
    assert position > size  # refused appends leave gaps in the sequence; readers never rely on none
    partitions = await owner.fetch(
        "SELECT tableoid::regclass::text AS part, stream_version FROM eventlog.events ORDER BY global_position"
    )
    assert len({row["part"] for row in partitions}) == 2


async def test_partitions_are_made_ahead_with_guards_and_copy_works(database_url, owner):
    ingest = await connect_raw(database_url, role="kaohe_ingest")
    try:
        size = await owner.fetchval("SELECT size FROM eventlog.partition_plan")
        before = await owner.fetchval("SELECT count(*) FROM pg_inherits WHERE inhparent = 'eventlog.events'::regclass")
        assert await ingest.fetchval("SELECT eventlog.ensure_partitions()") == 0  # the migration made them
        await owner.execute(f"SELECT setval('eventlog.events_position_seq', {size * (before - 1) + 1})")
        assert await ingest.fetchval("SELECT eventlog.ensure_partitions()") >= 1
        newest = await owner.fetchval(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'eventlog.events'::regclass ORDER BY c.relname DESC LIMIT 1"
        )
        triggers = await owner.fetch(
            f"SELECT tgname, tgenabled::text AS tgenabled FROM pg_trigger WHERE tgrelid = 'eventlog.{newest}'::regclass "
            "AND NOT tgisinternal"
        )
        assert {row["tgname"] for row in triggers} >= {
            "events_append_only",
            "events_guard_append",
            "events_no_truncate",
        }
        assert {row["tgenabled"] for row in triggers} == {"A"}
        # A binary COPY as the ingest role (the later hot path): positions drawn, keys recorded.
        await ingest.set_type_codec(
            "jsonb", schema="pg_catalog", format="binary", encoder=lambda v: b"\x01" + orjson.dumps(v), decoder=bytes
        )
        rows = [
            (uuid.uuid4(), "unit-copy", n, "unit.registered", 1, _now(), {"unit_id": "C"}, {}, b"\x00")
            for n in (1, 2, 3)
        ]
        columns = ["event_id", "stream_id", "stream_version", "type", "schema_version", "occurred_at"]
        columns += ["data", "metadata", "content_hash"]
        await ingest.copy_records_to_table("events", schema_name="eventlog", records=rows, columns=columns)
        copied = await owner.fetch(
            "SELECT k.global_position FROM eventlog.event_keys k WHERE stream_id = 'unit-copy' ORDER BY stream_version"
        )
        assert [row["global_position"] for row in copied] == sorted(row["global_position"] for row in copied)
        with pytest.raises(DENIED):
            await ingest.copy_records_to_table(
                "events",
                schema_name="eventlog",
                records=[(10**6 * 3 + 1, *rows[0][:1], "unit-copy", 4, *rows[0][3:])],
                columns=["global_position", *columns],
            )
    finally:
        await ingest.close()


def _now() -> datetime:
    return datetime.now(UTC)


async def test_an_old_partition_detaches_while_the_rest_serves(database_url, owner):
    size = await owner.fetchval("SELECT size FROM eventlog.partition_plan")
    await _append(owner, "unit-old", 1)
    await owner.execute(f"SELECT setval('eventlog.events_position_seq', {size})")
    await _append(owner, "unit-new", 1)
    writer = await connect_raw(database_url, role="kaohe_ingest")
    try:
        detach = asyncio.create_task(
            owner.execute("ALTER TABLE eventlog.events DETACH PARTITION eventlog.events_p000000 CONCURRENTLY")
        )
        version = 2
        while True:  # appends and reads of recent positions go on while it detaches
            await _append(writer, "unit-new", version)
            assert await writer.fetchval("SELECT count(*) FROM eventlog.events WHERE global_position >= $1", size) == (
                version
            )
            version += 1
            if detach.done() or version > 10_000:
                break
        await detach
    finally:
        await writer.close()
    assert await owner.fetchval("SELECT count(*) FROM eventlog.events") == version - 1
    assert await owner.fetchval("SELECT count(*) FROM eventlog.events_p000000") == 1  # archived, not lost
    assert await owner.fetchval("SELECT stream_id FROM eventlog.events_p000000") == "unit-old"


async def test_the_migration_converts_a_log_with_data_in_place(pg_server):
    name = await create_database(pg_server, prefix="kaohe_conv")
    url = with_database(pg_server, name)
    try:
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0004")
        conn = await connect_raw(url)
        try:
            await conn.execute(
                "INSERT INTO eventlog.events (event_id, stream_id, stream_version, type, schema_version, occurred_at, "
                "actor, data, metadata, content_hash) "
                "SELECT gen_random_uuid(), 'unit-' || (g % 7), g / 7 + 1, 'unit.registered', 1, "
                "timestamptz '2026-01-01 00:00+08' + g * interval '1 hour', '{\"role\": \"office\"}', "
                "jsonb_build_object('unit_id', g), '{}', sha256(g::text::bytea) FROM generate_series(0, 999) g"
            )
            before = await conn.fetch("SELECT * FROM eventlog.events ORDER BY global_position")
        finally:
            await conn.close()
        await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
        conn = await connect_raw(url)
        try:
            assert (
                await conn.fetchval("SELECT relkind::text FROM pg_class WHERE oid = 'eventlog.events'::regclass") == "p"
            )
            after = await conn.fetch("SELECT * FROM eventlog.events ORDER BY global_position")
            assert [dict(row) for row in after] == [dict(row) for row in before]
            keys = await conn.fetchval(
                "SELECT count(*) FROM eventlog.event_keys k JOIN eventlog.events e USING (global_position) "
                "WHERE k.event_id = e.event_id AND k.stream_id = e.stream_id AND k.stream_version = e.stream_version"
            )
            assert keys == len(before)
            # appends continue after the last position, and the old keys stay unique
            nxt = await conn.fetchval(_insert(), uuid.uuid4(), "unit-new", 1)
            assert nxt == before[-1]["global_position"] + 1
            with pytest.raises(asyncpg.UniqueViolationError):
                await conn.fetchval(_insert(), before[0]["event_id"], "unit-x", 1)
            with pytest.raises(asyncpg.UniqueViolationError):
                await conn.fetchval(_insert(), uuid.uuid4(), before[0]["stream_id"], before[0]["stream_version"])
        finally:
            await conn.close()
    finally:
        await drop_database(pg_server, name)
