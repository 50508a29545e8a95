"""The partitioned event log: its DDL (used by migration 0006) and keeping partitions ahead of need.

`eventlog.events` is partitioned by RANGE of `global_position`, one partition per
`eventlog.partition_plan.size` positions (partition k holds [k·size, (k+1)·size)). Why position
and not recorded month (docs/scaling.md "The partitioned log"): every hot read is by position —
the projector's `global_position > checkpoint`, `GET /v1/events?after=`, a rebuild's full scan in
order — and prunes to the last one or two partitions; partitions are in log order, so an ordered
scan is an Append without a merge; a partition is full and never written again once positions
pass its end, which is what makes it safe to detach for archive; and the position is assigned by
the database under the append lock, while a recorded time is a clock a writer could lie about.

Uniqueness that is not by position (event id; stream id + version) cannot be a unique index of a
partitioned table (those must include the partition key), so it lives in the small unpartitioned
`eventlog.event_keys`, written by the log's row trigger in the same INSERT. Per-stream and
by-id reads look up positions there, and then read the log by position, which prunes.

Positions only the database assigns: the column's default is `eventlog.next_position()`, which
takes the append lock and draws from a sequence no service role may use; the row trigger refuses
any row whose position is not the one this session just drew and nobody drew after (an explicit
`global_position`, a gap below the checkpoint, 2^62-1). PostgreSQL 15 has no identity columns on
partitioned tables, hence a default plus that trigger.
"""

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.eventstore import APPEND_LOCK_KEY

log = logging.getLogger("kaohe.log_partitions")
SEQUENCE = "eventlog.events_position_seq"
DEFAULT_PARTITION_SIZE = 1_000_000
PARTITIONS_AHEAD = 2

# Functions and triggers of the partitioned log. The functions that write or draw run as their
# owner (the migrating user); their search_path is pinned so no caller's schema can shadow a name.
FUNCTIONS_DDL = [
    f"""
    CREATE FUNCTION eventlog.next_position() RETURNS bigint LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog AS $$
    BEGIN
        -- Drawn only under the append lock (re-entrant; the INSERT's statement trigger already
        -- holds it), so a position drawn is committed before any later one is drawn.
        PERFORM pg_advisory_xact_lock({APPEND_LOCK_KEY});
        RETURN nextval('{SEQUENCE}');
    END $$
    """,
    f"""
    CREATE FUNCTION eventlog.guard_append() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog AS $$
    BEGIN
        -- The position must be the one the default just drew in this session and the newest drawn
        -- anywhere: an explicit position (a gap below a checkpoint, 2^62-1) is refused.
        IF NEW.global_position IS DISTINCT FROM pg_sequence_last_value('{SEQUENCE}')
           OR NEW.global_position IS DISTINCT FROM currval('{SEQUENCE}') THEN
            RAISE EXCEPTION 'global_position is assigned by the database; % refused', NEW.global_position
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        INSERT INTO eventlog.event_keys (event_id, stream_id, stream_version, global_position)
        VALUES (NEW.event_id, NEW.stream_id, NEW.stream_version, NEW.global_position);
        RETURN NEW;
    END $$
    """,
    # Partitions `ahead` beyond the one the sequence is in; returns how many it created. Run by the
    # ingest service at start and periodically, and callable by an operator or a scheduled job.
    f"""
    CREATE FUNCTION eventlog.ensure_partitions(ahead int DEFAULT {PARTITIONS_AHEAD}) RETURNS int
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
    DECLARE
        size bigint := (SELECT p.size FROM eventlog.partition_plan p WHERE p.id = 1);
        last_drawn bigint := coalesce(pg_sequence_last_value('{SEQUENCE}'), 0);
        covered bigint;
        made int := 0;
        name text;
    BEGIN
        -- One caller at a time (a second waits, then finds the work done).
        PERFORM pg_advisory_xact_lock({APPEND_LOCK_KEY} + 1);
        SELECT coalesce(max((regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''?(\\d+)''?\\)'))[1]::bigint), 0)
          INTO covered
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'eventlog.events'::regclass;
        WHILE covered < (last_drawn / size + 1 + ahead) * size LOOP
            name := format('events_p%s', lpad((covered / size)::text, 6, '0'));
            -- CREATE TABLE ... PARTITION OF would take an ACCESS EXCLUSIVE lock on the log and queue
            -- every read and append behind any long scan (a rebuild); ATTACH takes SHARE UPDATE
            -- EXCLUSIVE, which neither reads nor appends conflict with.
            EXECUTE format('CREATE TABLE eventlog.%I (LIKE eventlog.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                           name);
            EXECUTE format('ALTER TABLE eventlog.%I ADD CHECK (global_position >= %s AND global_position < %s)',
                           name, covered, covered + size);
            EXECUTE format('ALTER TABLE eventlog.events ATTACH PARTITION eventlog.%I FOR VALUES FROM (%s) TO (%s)',
                           name, covered, covered + size);
            PERFORM eventlog.protect_partition(name);
            covered := covered + size;
            made := made + 1;
        END LOOP;
        RETURN made;
    END $$
    """,
    # Statement triggers are not cloned to partitions: TRUNCATE of one partition is refused by its own.
    """
    CREATE FUNCTION eventlog.protect_partition(name text) RETURNS void LANGUAGE plpgsql
    SET search_path = pg_catalog AS $$
    DECLARE
        trigger_name name;
    BEGIN
        EXECUTE format('CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON eventlog.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION eventlog.refuse_change()', name);
        -- Clones of the log's row triggers are made with the default (origin) firing: always, too.
        FOR trigger_name IN SELECT t.tgname FROM pg_trigger t
                             WHERE t.tgrelid = format('eventlog.%I', name)::regclass AND NOT t.tgisinternal LOOP
            EXECUTE format('ALTER TABLE eventlog.%I ENABLE ALWAYS TRIGGER %I', name, trigger_name);
        END LOOP;
    END $$
    """,
]

# Row triggers on the partitioned table are cloned to every partition, present and future.
TRIGGERS_DDL = [
    "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON eventlog.events "
    "FOR EACH ROW EXECUTE FUNCTION eventlog.refuse_change()",
    "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON eventlog.events "
    "FOR EACH STATEMENT EXECUTE FUNCTION eventlog.refuse_change()",
    "CREATE TRIGGER events_serialise_append BEFORE INSERT ON eventlog.events "
    "FOR EACH STATEMENT EXECUTE FUNCTION eventlog.serialise_append()",
    "CREATE TRIGGER events_guard_append BEFORE INSERT ON eventlog.events "
    "FOR EACH ROW EXECUTE FUNCTION eventlog.guard_append()",
    "CREATE TRIGGER events_notify_append AFTER INSERT ON eventlog.events "
    "FOR EACH STATEMENT EXECUTE FUNCTION eventlog.notify_append()",
]
# ENABLE ALWAYS: `session_replication_role = replica` (which a superuser or a logical-replication
# apply worker sets) must not switch the log's guards off.
ALWAYS_TRIGGERS = (
    "events_append_only",
    "events_no_truncate",
    "events_serialise_append",
    "events_guard_append",
    "events_notify_append",
)


async def ensure_partitions(conn: AsyncConnection, ahead: int = PARTITIONS_AHEAD) -> int:
    """Create the partitions the log will need next; returns how many were created."""
    result = await conn.execute(text("SELECT eventlog.ensure_partitions(:ahead)"), {"ahead": ahead})
    return int(result.scalar_one())


async def keep_partitions_ahead(engine: AsyncEngine, *, every_seconds: float = 60.0) -> None:
    """Run by ingest (the only writer): partitions ahead at start, then every minute.

    A failure (database away, a lock not had within the timeout) is logged and retried at the
    next round; with two partitions of a million positions ahead there is plenty of time."""
    while True:
        try:
            async with engine.begin() as conn:
                await conn.execute(text("SET LOCAL lock_timeout = '2s'"))
                made = await ensure_partitions(conn)
            if made:
                log.info("created %d log partition(s) ahead of need", made)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("could not create log partitions ahead (%s); retrying", exc)
        await asyncio.sleep(every_seconds)
