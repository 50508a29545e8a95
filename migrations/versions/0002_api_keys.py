"""API keys: only a hash of each key is stored.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA auth")
    op.execute(
        """
        CREATE TABLE auth.api_keys (
            key_id text NOT NULL,
            name text NOT NULL,
            role text NOT NULL CHECK (role IN ('platform','office','unit','viewer','auditor','admin')),
            unit_id text,
            key_hash bytea NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz,
            CHECK (role <> 'unit' OR unit_id IS NOT NULL)
        )
        """
    )
    op.execute("CREATE INDEX api_keys_key_id ON auth.api_keys (key_id)")


def downgrade() -> None:
    op.execute("DROP SCHEMA auth CASCADE")
