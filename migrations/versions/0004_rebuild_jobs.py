"""Projection rebuild jobs: one row per requested rebuild, so any instance can answer its progress.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE scoring.rebuild_jobs (
            job_id uuid PRIMARY KEY,
            state text NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
            requested_by text,
            requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            started_at timestamptz,
            finished_at timestamptz,
            schema_name text,
            processed bigint NOT NULL DEFAULT 0,
            total bigint NOT NULL DEFAULT 0,
            events_per_second double precision NOT NULL DEFAULT 0,
            position bigint,
            error text
        )
        """
    )
    # At most one rebuild runs at a time: a second request joins the running one.
    op.execute("CREATE UNIQUE INDEX rebuild_jobs_one_running ON scoring.rebuild_jobs ((true)) WHERE state = 'running'")


def downgrade() -> None:
    op.execute("DROP TABLE scoring.rebuild_jobs")
