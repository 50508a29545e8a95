"""The log becomes a partitioned table, in place; positions only the database assigns; guards always on.

The existing table is not copied: it loses its identity (a partitioned table cannot have one in
PostgreSQL 15; the sequence takes over from its last value) and is ATTACHed as the first partition,
covering every position it holds up to the next partition boundary. Only the two keys that a
partitioned table cannot make unique are copied, into `eventlog.event_keys`. See
shared/log_partitions.py for the why of each piece.

Revision ID: 0006
Revises: 0004
"""

from alembic import op

from shared.log_partitions import (
    ALWAYS_TRIGGERS,
    DEFAULT_PARTITION_SIZE,
    FUNCTIONS_DDL,
    PARTITIONS_AHEAD,
    SEQUENCE,
    TRIGGERS_DDL,
)

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nothing may append while the log changes shape (the append lock's own key, then the table).
    op.execute("SELECT pg_advisory_xact_lock(x'6B616F6865'::bigint)")
    op.execute("LOCK TABLE eventlog.events IN ACCESS EXCLUSIVE MODE")

    # The old table, about to become the first partition: its own triggers go (the partitioned
    # table's are cloned onto it), its identity becomes the free-standing sequence.
    op.execute("ALTER TABLE eventlog.events RENAME TO events_p000000")
    for trigger in ("events_append_only", "events_no_truncate", "events_serialise_append", "events_notify_append"):
        op.execute(f"DROP TRIGGER {trigger} ON eventlog.events_p000000")
    op.execute("ALTER TABLE eventlog.events_p000000 ALTER COLUMN global_position DROP IDENTITY")
    op.execute("ALTER INDEX eventlog.events_type_position RENAME TO events_p000000_type_position")
    op.execute("ALTER INDEX eventlog.events_recorded_at RENAME TO events_p000000_recorded_at")

    op.execute(f"CREATE SEQUENCE {SEQUENCE} AS bigint")
    op.execute(f"SELECT setval('{SEQUENCE}', max(global_position)) FROM eventlog.events_p000000 HAVING count(*) > 0")
    op.execute("CREATE TABLE eventlog.partition_plan (id int PRIMARY KEY CHECK (id = 1), size bigint NOT NULL)")
    op.execute(f"INSERT INTO eventlog.partition_plan VALUES (1, {DEFAULT_PARTITION_SIZE})")

    # Event ids and stream versions, unique across all partitions.
    op.execute(
        """
        CREATE TABLE eventlog.event_keys (
            event_id uuid PRIMARY KEY,
            stream_id text COLLATE "C" NOT NULL,
            stream_version int NOT NULL,
            global_position bigint NOT NULL,
            UNIQUE (stream_id, stream_version)
        )
        """
    )
    op.execute(
        "INSERT INTO eventlog.event_keys SELECT event_id, stream_id, stream_version, global_position "
        "FROM eventlog.events_p000000"
    )
    # The partition no longer needs them: event_keys holds both keys for every partition.
    op.execute("ALTER TABLE eventlog.events_p000000 DROP CONSTRAINT events_event_id_key")
    op.execute("ALTER TABLE eventlog.events_p000000 DROP CONSTRAINT events_stream_id_stream_version_key")
    op.execute("ALTER TABLE eventlog.events_p000000 RENAME CONSTRAINT events_pkey TO events_p000000_pkey")

    op.execute(
        """
        CREATE TABLE eventlog.events (
            global_position bigint NOT NULL,
            event_id uuid NOT NULL,
            stream_id text COLLATE "C" NOT NULL,
            stream_version int NOT NULL CONSTRAINT events_stream_version_check CHECK (stream_version > 0),
            type text NOT NULL,
            schema_version smallint NOT NULL,
            occurred_at timestamptz NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            actor jsonb,
            data jsonb NOT NULL,
            metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
            content_hash bytea NOT NULL,
            CONSTRAINT events_pkey PRIMARY KEY (global_position)
        ) PARTITION BY RANGE (global_position)
        """
    )
    op.execute("CREATE INDEX events_type_position ON eventlog.events (type, global_position)")
    op.execute("CREATE INDEX events_recorded_at ON eventlog.events (recorded_at)")
    for statement in FUNCTIONS_DDL:
        op.execute(statement)
    op.execute("ALTER TABLE eventlog.events ALTER COLUMN global_position SET DEFAULT eventlog.next_position()")

    # The old table as the first partition. Its CHECK lets ATTACH skip a second validating scan.
    op.execute(
        f"""
        DO $$ DECLARE
            upper bigint := (coalesce((SELECT max(global_position) FROM eventlog.events_p000000), 0)
                             / {DEFAULT_PARTITION_SIZE} + 1) * {DEFAULT_PARTITION_SIZE};
        BEGIN
            EXECUTE format('ALTER TABLE eventlog.events_p000000 ADD CONSTRAINT events_p000000_range '
                           'CHECK (global_position >= 0 AND global_position < %s)', upper);
            EXECUTE format('ALTER TABLE eventlog.events ATTACH PARTITION eventlog.events_p000000 '
                           'FOR VALUES FROM (0) TO (%s)', upper);
        END $$
        """
    )
    # ATTACH adopted the partition's primary key and its two indexes as the parent's (same definitions).

    for statement in TRIGGERS_DDL:
        op.execute(statement)
    for trigger in ALWAYS_TRIGGERS:
        op.execute(f"ALTER TABLE eventlog.events ENABLE ALWAYS TRIGGER {trigger}")
    op.execute("SELECT eventlog.protect_partition('events_p000000')")
    op.execute(f"SELECT eventlog.ensure_partitions({PARTITIONS_AHEAD})")

    # Privileges as migration 0003 gave them on the old table, plus the key table and the functions.
    op.execute("REVOKE ALL ON eventlog.events, eventlog.event_keys, eventlog.partition_plan FROM PUBLIC")
    op.execute("GRANT SELECT, INSERT ON eventlog.events TO kaohe_ingest")
    op.execute("GRANT SELECT ON eventlog.events TO kaohe_scoring")
    op.execute("GRANT SELECT (global_position, recorded_at) ON eventlog.events TO kaohe_reporting")
    op.execute("GRANT SELECT ON eventlog.event_keys TO kaohe_ingest, kaohe_scoring")
    op.execute("REVOKE ALL ON SEQUENCE eventlog.events_position_seq FROM PUBLIC")
    op.execute(
        "REVOKE EXECUTE ON FUNCTION eventlog.ensure_partitions(int), eventlog.protect_partition(text) FROM PUBLIC"
    )
    op.execute("GRANT EXECUTE ON FUNCTION eventlog.ensure_partitions(int) TO kaohe_ingest")


def downgrade() -> None:
    raise NotImplementedError("the event log is never dropped by a migration")
