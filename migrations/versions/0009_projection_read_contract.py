"""The read contract between scoring and reporting: `scoring.projection_version()`.

Reporting needs to know which projection it reads (the active generation and its checkpoint) to
make ETags; it used to read `scoring.active_generation` directly, a table whose shape is scoring's
business. Now scoring's migrations own a function that answers `"<schema>:<position>"` in one
statement, and reporting may call it but no longer read the table. The function reads the table,
so a rebuild's switch (which locks the table) still waits for the readers in flight.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION scoring.projection_version() RETURNS text
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
            SELECT g.schema_name || ':' || c.position
            FROM scoring.active_generation g, proj.checkpoint c WHERE g.id = 1
        $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION scoring.projection_version() FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION scoring.projection_version() TO kaohe_reporting, kaohe_scoring")
    op.execute("REVOKE SELECT ON scoring.active_generation FROM kaohe_reporting")


def downgrade() -> None:
    op.execute("GRANT SELECT ON scoring.active_generation TO kaohe_reporting")
    op.execute("DROP FUNCTION scoring.projection_version()")
