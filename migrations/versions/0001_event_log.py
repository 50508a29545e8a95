"""The append-only event log, its immutability trigger, and projection generation 1.

Revision ID: 0001
Revises:
"""

from alembic import op

from shared.eventstore import APPEND_LOCK_KEY, EVENTS_CHANNEL
from shared.projection_schema import generation_ddl, switch_views_ddl

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA eventlog")
    op.execute(
        """
        CREATE TABLE eventlog.events (
            global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id uuid NOT NULL UNIQUE,
            stream_id text COLLATE "C" NOT NULL,
            stream_version int NOT NULL CHECK (stream_version > 0),
            type text NOT NULL,
            schema_version smallint NOT NULL,
            occurred_at timestamptz NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            actor jsonb,
            data jsonb NOT NULL,
            metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
            content_hash bytea NOT NULL,
            UNIQUE (stream_id, stream_version)
        )
        """
    )
    op.execute("CREATE INDEX events_type_position ON eventlog.events (type, global_position)")
    op.execute("CREATE INDEX events_recorded_at ON eventlog.events (recorded_at)")
    op.execute(
        """
        CREATE FUNCTION eventlog.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'eventlog.events is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON eventlog.events "
        "FOR EACH ROW EXECUTE FUNCTION eventlog.refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON eventlog.events "
        "FOR EACH STATEMENT EXECUTE FUNCTION eventlog.refuse_change()"
    )
    # Every INSERT takes the append lock before its rows draw positions (statement triggers fire
    # before the executor evaluates the identity default), so even a writer that bypasses
    # shared/eventstore.append cannot commit positions out of order. See eventstore.append.
    op.execute(
        f"""
        CREATE FUNCTION eventlog.serialise_append() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock({APPEND_LOCK_KEY});
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER events_serialise_append BEFORE INSERT ON eventlog.events "
        "FOR EACH STATEMENT EXECUTE FUNCTION eventlog.serialise_append()"
    )
    # Wake projectors. NOTIFY is delivered at commit, so a woken reader can already see the rows;
    # identical payloads within one transaction collapse into one notification.
    op.execute(
        f"""
        CREATE FUNCTION eventlog.notify_append() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{EVENTS_CHANNEL}', '');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER events_notify_append AFTER INSERT ON eventlog.events "
        "FOR EACH STATEMENT EXECUTE FUNCTION eventlog.notify_append()"
    )

    op.execute("CREATE SCHEMA scoring")
    op.execute("CREATE TABLE scoring.active_generation (id int PRIMARY KEY CHECK (id = 1), schema_name text NOT NULL)")
    op.execute("CREATE SEQUENCE scoring.generation_seq START 2")
    for statement in generation_ddl("proj_g1") + switch_views_ddl("proj_g1"):
        op.execute(statement)
    op.execute("INSERT INTO scoring.active_generation VALUES (1, 'proj_g1')")


def downgrade() -> None:
    raise NotImplementedError("the event log is never dropped by a migration")
