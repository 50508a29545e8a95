"""The projection tables, created per generation so a rebuild can fill a fresh set while the live
one keeps serving. Readers use the views in schema `proj`, which point at the active generation;
switching generations replaces the views inside one transaction, so a reader sees the old
projection or the new one, never a half-built one.
"""

PROJECTION_TABLES = (
    "units",
    "officers",
    "items",
    "targets",
    "lines",
    "facts",
    "totals",
    "checkpoint",
    "solicitations",
    "solicitation_answers",
    "solicitation_closes",
    "rectifications",
    "payments",
)
READ_SCHEMA = "proj"


def generation_ddl(schema: str, *, secondary_indexes: bool = True) -> list[str]:
    """CREATE statements for one projection generation in `schema`.

    A rebuild passes `secondary_indexes=False` and runs `secondary_index_ddl` once the bulk load is
    done: one sort per index instead of an index insertion per row. The primary keys stay, since the
    bulk load itself looks rows up by them (revocations, item and adoption hydration).
    """
    return [
        f"CREATE SCHEMA {schema}",
        f"""CREATE TABLE {schema}.units (
            unit_id text COLLATE "C" PRIMARY KEY,
            name text NOT NULL,
            kind text NOT NULL,
            occurred_at timestamptz NOT NULL,
            global_position bigint NOT NULL)""",
        f"""CREATE TABLE {schema}.officers (
            officer_id text COLLATE "C" PRIMARY KEY,
            unit_id text COLLATE "C" NOT NULL,
            name text NOT NULL,
            occurred_at timestamptz NOT NULL,
            global_position bigint NOT NULL)""",
        f"""CREATE TABLE {schema}.items (
            item_id text COLLATE "C" PRIMARY KEY,
            unit_id text COLLATE "C" NOT NULL,
            title text NOT NULL,
            kind text NOT NULL,
            authors text[] NOT NULL,
            month int NOT NULL,
            global_position bigint NOT NULL)""",
        # every unit.target-set, kept as history so a ranking "as of position N" sees the targets then
        f"""CREATE TABLE {schema}.targets (
            global_position bigint PRIMARY KEY,
            unit_id text COLLATE "C" NOT NULL,
            year int NOT NULL,
            month int NOT NULL,
            submissions int NOT NULL,
            adoptions int NOT NULL)""",
        # one line = one effect of one event on one unit (officer_id NULL) or one officer
        f"""CREATE TABLE {schema}.lines (
            event_id uuid NOT NULL,
            seq int NOT NULL,
            global_position bigint NOT NULL,
            occurred_at timestamptz NOT NULL,
            month int NOT NULL,
            unit_id text COLLATE "C" NOT NULL,
            officer_id text COLLATE "C",
            clause text NOT NULL,
            reward_clause text,
            points int NOT NULL,
            reward_yuan numeric(14,2) NOT NULL,
            officer_ids text[] NOT NULL,
            item_id text,
            note text,
            policy_version text NOT NULL,
            revoked_by uuid,
            revoked_position bigint,
            PRIMARY KEY (event_id, seq))""",
        # counted activity: submissions, adoptions (by channel) and endorsements (by level)
        f"""CREATE TABLE {schema}.facts (
            event_id uuid PRIMARY KEY,
            global_position bigint NOT NULL,
            month int NOT NULL,
            unit_id text COLLATE "C" NOT NULL,
            fact text NOT NULL,
            channel text,
            item_id text NOT NULL,
            officer_ids text[] NOT NULL,
            revoked_by uuid,
            revoked_position bigint)""",
        # running sums per unit ('u') or officer ('o') and month, kept by the projector with the
        # lines and facts, so a ranking of "now" adds up a few rows per unit instead of every line.
        # measures: award, deduction, reward, lines, submitted, adopted, adopted:<channel>, endorsed:<level>
        f"""CREATE TABLE {schema}.totals (
            kind text NOT NULL,
            subject text COLLATE "C" NOT NULL,
            month int NOT NULL,
            measure text NOT NULL,
            value numeric(16,2) NOT NULL,
            PRIMARY KEY (month, kind, subject, measure))
            WITH (fillfactor = 50)""",  # room on each page, so the per-batch upserts are HOT updates
        f"""CREATE TABLE {schema}.checkpoint (
            id int PRIMARY KEY CHECK (id = 1),
            position bigint NOT NULL,
            policy_version text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT clock_timestamp())""",
        f"INSERT INTO {schema}.checkpoint (id, position, policy_version) VALUES (1, 0, '')",
        # the office's year (rules.md): 约稿 with the units asked (resolved at the issue), their answers
        # and closes; rectification plans and reviews; reward payments. Few rows; the fold restores
        # its solicitations from them and reporting reads them.
        f"""CREATE TABLE {schema}.solicitations (
            solicitation_id text COLLATE "C" PRIMARY KEY,
            title text NOT NULL,
            deadline timestamptz NOT NULL,
            unit_ids text[] NOT NULL,
            event_id uuid NOT NULL,
            global_position bigint NOT NULL)""",
        f"""CREATE TABLE {schema}.solicitation_answers (
            solicitation_id text COLLATE "C" NOT NULL,
            unit_id text COLLATE "C" NOT NULL,
            item_id text COLLATE "C" NOT NULL,
            on_time boolean NOT NULL,
            global_position bigint PRIMARY KEY)""",
        f"""CREATE TABLE {schema}.solicitation_closes (
            solicitation_id text COLLATE "C" PRIMARY KEY,
            event_id uuid NOT NULL,
            occurred_at timestamptz NOT NULL,
            global_position bigint NOT NULL)""",
        f"""CREATE TABLE {schema}.rectifications (
            global_position bigint PRIMARY KEY,
            unit_id text COLLATE "C" NOT NULL,
            year int NOT NULL,
            status text NOT NULL,
            text text,
            reference text)""",
        f"""CREATE TABLE {schema}.payments (
            event_id uuid PRIMARY KEY,
            global_position bigint NOT NULL,
            unit_id text COLLATE "C" NOT NULL,
            period text NOT NULL,
            amount_yuan numeric(14,2) NOT NULL,
            reference text NOT NULL)""",
    ] + (secondary_index_ddl(schema) if secondary_indexes else [])


def secondary_index_ddl(schema: str) -> list[str]:
    """The indexes readers use and the fold does not."""
    return [
        f"CREATE INDEX ON {schema}.lines (month, unit_id) WHERE officer_id IS NULL",
        f"CREATE INDEX ON {schema}.lines (officer_id, month) WHERE officer_id IS NOT NULL",
        f"CREATE INDEX ON {schema}.facts (month, unit_id)",
        f"CREATE INDEX ON {schema}.items (unit_id)",  # an audit folds one unit's items (services/scoring/audit.py)
    ]


def switch_views_ddl(schema: str) -> list[str]:
    """Point the `proj` read views at generation `schema` (run inside one transaction)."""
    return [f"CREATE SCHEMA IF NOT EXISTS {READ_SCHEMA}"] + [
        f"CREATE OR REPLACE VIEW {READ_SCHEMA}.{table} AS SELECT * FROM {schema}.{table}" for table in PROJECTION_TABLES
    ]
