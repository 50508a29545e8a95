"""The items answering a solicitation, found by its id: a dispute of a close reads who missed it.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX events_solicitation_answers ON eventlog.events ((data->>'solicitation_id')) "
        "WHERE type = 'item.submitted' AND data ? 'solicitation_id'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX eventlog.events_solicitation_answers")
