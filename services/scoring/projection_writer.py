"""Write the fold's outcomes into one projection generation, with the checkpoint, in one transaction."""

from typing import Sequence

from shared.eventstore import PROJECTION_CHANNEL
from services.scoring.fold import Outcome

LINE_COLUMNS = ("event_id", "seq", "global_position", "occurred_at", "month", "unit_id", "officer_id", "clause",
                "reward_clause", "points", "reward_yuan", "officer_ids", "item_id", "note", "policy_version")
FACT_COLUMNS = ("event_id", "global_position", "month", "unit_id", "fact", "channel", "item_id", "officer_ids")
ROW_COLUMNS = {
    "units": ("unit_id", "name", "kind", "occurred_at", "global_position"),
    "officers": ("officer_id", "unit_id", "name", "occurred_at", "global_position"),
    "items": ("item_id", "unit_id", "title", "kind", "authors", "month", "global_position"),
    "targets": ("global_position", "unit_id", "year", "month", "submissions", "adoptions"),
}


async def write_outcomes(conn, schema: str, outcomes: Sequence[Outcome], *, position: int, policy_version: str,
                         notify: bool = True) -> None:
    """Store a batch's outcomes and move the checkpoint to `position`; the caller owns the transaction."""
    lines, facts, revocations = [], [], []
    rows: dict[str, list[tuple]] = {table: [] for table in ROW_COLUMNS}
    for outcome in outcomes:
        lines.extend(outcome.lines)  # a Line's fields are LINE_COLUMNS in order: it is a COPY row
        facts.extend(outcome.facts)  # likewise FACT_COLUMNS
        revocations.extend((r.target_event_id, r.revoked_by, r.position) for r in outcome.revocations)
        for table, row in outcome.rows:
            rows[table].append(row)
    for table, records in rows.items():
        if records:
            await conn.copy_records_to_table(table, schema_name=schema, records=records, columns=ROW_COLUMNS[table])
    if lines:
        await conn.copy_records_to_table("lines", schema_name=schema, records=lines, columns=LINE_COLUMNS)
    if facts:
        await conn.copy_records_to_table("facts", schema_name=schema, records=facts, columns=FACT_COLUMNS)
    if revocations:
        for table in ("lines", "facts"):
            await conn.executemany(
                f"UPDATE {schema}.{table} SET revoked_by = $2::uuid, revoked_position = $3 "
                "WHERE event_id = $1::uuid AND revoked_by IS NULL",
                revocations,
            )
    await conn.execute(
        f"UPDATE {schema}.checkpoint SET position = $1, policy_version = $2, updated_at = clock_timestamp()",
        position, policy_version,
    )
    if notify:
        await conn.execute("SELECT pg_notify($1, $2)", PROJECTION_CHANNEL, f"{schema}:{position}")

