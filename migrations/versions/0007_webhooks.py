"""Webhook subscriptions and their delivery log (api.md "Webhooks"; architecture.md "Outbox, not dual writes").

A subscription row is its own outbox cursor: `delivered_position` is the last log position handled
(delivered, or passed over because its type is not subscribed), and `attempts`/`next_attempt_at` say
how the event after it is being retried. The worker advances them in the same transaction that
writes the attempt's row in `webhooks.deliveries`, so the log itself is the outbox: nothing is sent
that was not committed, nothing committed is skipped, and a restart resumes from the cursor.

Only ingest (which runs the worker and the subscription routes) may touch these tables.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA webhooks")
    op.execute(
        """
        CREATE TABLE webhooks.subscriptions (
            subscription_id uuid PRIMARY KEY,
            url text NOT NULL,
            types text[] NOT NULL DEFAULT '{}',
            secret text NOT NULL,
            after_position bigint NOT NULL,
            delivered_position bigint NOT NULL,
            attempts int NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            created_by jsonb,
            CHECK (delivered_position >= after_position)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE webhooks.deliveries (
            delivery_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            subscription_id uuid NOT NULL REFERENCES webhooks.subscriptions ON DELETE CASCADE,
            event_id uuid NOT NULL,
            global_position bigint NOT NULL,
            attempt int NOT NULL,
            status_code int,
            error text,
            at timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """
    )
    op.execute("CREATE INDEX deliveries_latest ON webhooks.deliveries (subscription_id, delivery_id DESC)")
    op.execute("REVOKE ALL ON ALL TABLES IN SCHEMA webhooks FROM PUBLIC")
    op.execute("GRANT USAGE ON SCHEMA webhooks TO kaohe_ingest")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON webhooks.subscriptions, webhooks.deliveries TO kaohe_ingest")


def downgrade() -> None:
    op.execute("DROP SCHEMA webhooks CASCADE")
