"""Least privilege: one NOLOGIN role per service, which the service switches to (SET ROLE).

- kaohe_ingest: INSERT and SELECT on the log, nothing else on it (the append-only trigger is the
  second line of defence, not the first).
- kaohe_scoring: SELECT on the log; owns the schemas `scoring`, `proj` and every `proj_g*`, and may
  CREATE SCHEMA in the database so a rebuild can make a new generation.
- kaohe_reporting: SELECT on the `proj` views and `scoring.active_generation`, plus the two
  columns of the log that turn an `as_of` time into a position (no event content).
All three read `auth.api_keys` and `alembic_version` (readiness). Roles are cluster-wide and
created only when missing (many databases share one server in tests); grants are per database.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SERVICE_ROLES = ("kaohe_ingest", "kaohe_scoring", "kaohe_reporting")


def _create_role(role: str) -> None:
    # Concurrent migrations of several databases may race on the same cluster-wide role.
    op.execute(f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {role} NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$""")
    # The login user must be able to SET ROLE to it (and to hand objects over to it below).
    op.execute(f"""
        DO $$ BEGIN
            IF NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
                EXECUTE format('GRANT {role} TO %I', current_user);
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$""")


def _owner_to_scoring(schema_pattern: str) -> None:
    """Hand every schema matching the pattern, and its tables, views and sequences, to kaohe_scoring."""
    op.execute(f"""
        DO $$ DECLARE r record; BEGIN
            FOR r IN SELECT nspname FROM pg_namespace WHERE nspname LIKE '{schema_pattern}' LOOP
                EXECUTE format('ALTER SCHEMA %I OWNER TO kaohe_scoring', r.nspname);
            END LOOP;
            FOR r IN SELECT n.nspname, c.relname, c.relkind FROM pg_class c
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname LIKE '{schema_pattern}' AND c.relkind IN ('r', 'v', 'm', 'p')
            LOOP
                EXECUTE format('ALTER %s %I.%I OWNER TO kaohe_scoring',
                               CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                              ELSE 'TABLE' END, r.nspname, r.relname);
            END LOOP;
            -- sequences not owned by a table column (those follow their table)
            FOR r IN SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname LIKE '{schema_pattern}' AND c.relkind = 'S'
                       AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
            LOOP
                EXECUTE format('ALTER SEQUENCE %I.%I OWNER TO kaohe_scoring', r.nspname, r.relname);
            END LOOP;
        END $$""")


def upgrade() -> None:
    for role in SERVICE_ROLES:
        _create_role(role)

    op.execute("GRANT SELECT ON public.alembic_version TO kaohe_ingest, kaohe_scoring, kaohe_reporting")
    op.execute("GRANT USAGE ON SCHEMA auth TO kaohe_ingest, kaohe_scoring, kaohe_reporting")
    op.execute("GRANT SELECT ON auth.api_keys TO kaohe_ingest, kaohe_scoring, kaohe_reporting")

    # The log.
    op.execute("REVOKE ALL ON eventlog.events FROM PUBLIC")
    op.execute("GRANT USAGE ON SCHEMA eventlog TO kaohe_ingest, kaohe_scoring, kaohe_reporting")
    op.execute("GRANT SELECT, INSERT ON eventlog.events TO kaohe_ingest")
    op.execute("GRANT SELECT ON eventlog.events TO kaohe_scoring")
    op.execute("GRANT SELECT (global_position, recorded_at) ON eventlog.events TO kaohe_reporting")

    # Scoring owns the projections; a rebuild creates proj_gN schemas as kaohe_scoring.
    op.execute("""
        DO $$ BEGIN
            EXECUTE format('GRANT CREATE ON DATABASE %I TO kaohe_scoring', current_database());
        END $$""")
    _owner_to_scoring("scoring")
    _owner_to_scoring("proj")
    _owner_to_scoring("proj\\_g%")
    # Objects a later migration creates as the login user in these schemas stay usable by scoring.
    for schema in ("scoring", "proj"):
        op.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA {schema} GRANT ALL ON TABLES TO kaohe_scoring"
        )
        op.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA {schema} GRANT ALL ON SEQUENCES TO kaohe_scoring"
        )
    op.execute(
        "ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA proj GRANT SELECT ON TABLES TO kaohe_reporting"
    )

    # Reporting reads the views (checked as their owner, kaohe_scoring, against the generation
    # tables) and which generation is active.
    op.execute("GRANT USAGE ON SCHEMA proj, scoring TO kaohe_reporting")
    op.execute("GRANT SELECT ON ALL TABLES IN SCHEMA proj TO kaohe_reporting")
    op.execute("GRANT SELECT ON scoring.active_generation TO kaohe_reporting")
    op.execute("""
        DO $$ DECLARE r record; BEGIN
            FOR r IN SELECT nspname FROM pg_namespace WHERE nspname LIKE 'proj\\_g%' LOOP
                EXECUTE format('GRANT USAGE ON SCHEMA %I TO kaohe_reporting', r.nspname);
                EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO kaohe_reporting', r.nspname);
            END LOOP;
        END $$""")
    # Generations a rebuild creates later (as kaohe_scoring) are readable by reporting too, once the
    # rebuild grants USAGE on the new schema.
    op.execute("ALTER DEFAULT PRIVILEGES FOR ROLE kaohe_scoring GRANT SELECT ON TABLES TO kaohe_reporting")


def downgrade() -> None:
    for role in SERVICE_ROLES:
        op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA eventlog, auth FROM {role}")
    op.execute("""
        DO $$ BEGIN
            EXECUTE format('REVOKE CREATE ON DATABASE %I FROM kaohe_scoring', current_database());
        END $$""")
