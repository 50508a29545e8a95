"""Write the fold's outcomes into one projection generation, with the checkpoint, in one transaction."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from operator import attrgetter

from shared.domain.evolve import Fact, Line, Outcome, Revocation
from shared.eventstore import PROJECTION_CHANNEL

LINE_COLUMNS = (
    "event_id",
    "seq",
    "global_position",
    "occurred_at",
    "month",
    "unit_id",
    "officer_id",
    "clause",
    "reward_clause",
    "points",
    "reward_yuan",
    "officer_ids",
    "item_id",
    "note",
    "policy_version",
)
FACT_COLUMNS = ("event_id", "global_position", "month", "unit_id", "fact", "channel", "item_id", "officer_ids")
ROW_COLUMNS = {
    "units": ("unit_id", "name", "kind", "occurred_at", "global_position"),
    "officers": ("officer_id", "unit_id", "name", "occurred_at", "global_position"),
    "items": ("item_id", "unit_id", "title", "kind", "authors", "month", "global_position"),
    "targets": ("global_position", "unit_id", "year", "month", "submissions", "adoptions"),
    "solicitations": ("solicitation_id", "title", "deadline", "unit_ids", "event_id", "global_position"),
    "solicitation_answers": ("solicitation_id", "unit_id", "item_id", "on_time", "global_position"),
    "solicitation_closes": ("solicitation_id", "event_id", "occurred_at", "global_position"),
    "rectifications": ("global_position", "unit_id", "year", "status", "text", "reference"),
    "payments": ("event_id", "global_position", "unit_id", "period", "amount_yuan", "reference"),
}

# what the running sums read of a Line and of a Fact (the same order as the RETURNING of a revocation)
_LINE_TOTALS = attrgetter("month", "unit_id", "officer_id", "points", "reward_yuan")
_FACT_TOTALS = attrgetter("month", "unit_id", "fact", "channel", "officer_ids")


async def write_outcomes(
    conn,
    schema: str,
    outcomes: Sequence[Outcome],
    *,
    position: int,
    policy_version: str,
    notify: bool = True,
    totals: "Totals | None" = None,
) -> None:
    """Store a batch's outcomes and move the checkpoint to `position`; the caller owns the transaction.

    With `totals`, the batch's changes to the running sums are added to it instead of written: the
    caller writes them later (a rebuild, once for many batches, before the generation is used).
    """
    lines: list[Line] = []
    facts: list[Fact] = []
    revocations: list[Revocation] = []
    rows: dict[str, list[tuple]] = {table: [] for table in ROW_COLUMNS}
    deferred = totals is not None
    totals = totals if totals is not None else Totals()
    for outcome in outcomes:
        if outcome.lines:
            lines += outcome.lines  # a Line's fields are LINE_COLUMNS in order: it is a COPY row
        if outcome.facts:
            facts += outcome.facts  # likewise FACT_COLUMNS
        if outcome.revocations:
            revocations += outcome.revocations
        for table, row in outcome.rows:
            rows[table].append(row)
    for table, records in rows.items():
        if table == "items" and records:
            await _copy(conn, schema, "items", records, ROW_COLUMNS["items"], _items_text)
        elif records:
            await conn.copy_records_to_table(table, schema_name=schema, records=records, columns=ROW_COLUMNS[table])
    if lines:
        await _copy(conn, schema, "lines", lines, LINE_COLUMNS, _lines_text)
        totals.add_lines(map(_LINE_TOTALS, lines), sign=1)
    if facts:
        await _copy(conn, schema, "facts", facts, FACT_COLUMNS, _facts_text)
        totals.add_facts(map(_FACT_TOTALS, facts), sign=1)
    if revocations:
        targets = (
            [r.target_event_id for r in revocations],
            [r.revoked_by for r in revocations],
            [r.position for r in revocations],
            [r.unit_id for r in revocations],
        )
        revoked_lines = await _revoke(
            conn, schema, "lines", ("month", "unit_id", "officer_id", "points", "reward_yuan"), targets
        )
        totals.add_lines(revoked_lines, sign=-1)
        revoked_facts = await _revoke(
            conn, schema, "facts", ("month", "unit_id", "fact", "channel", "officer_ids"), targets
        )
        totals.add_facts(revoked_facts, sign=-1)
    if not deferred:
        await totals.write(conn, schema)
    await conn.execute(
        f"UPDATE {schema}.checkpoint SET position = $1, policy_version = $2, updated_at = clock_timestamp()",
        position,
        policy_version,
    )
    if notify:
        await conn.execute("SELECT pg_notify($1, $2)", PROJECTION_CHANNEL, f"{schema}:{position}")


async def _copy(conn, schema: str, table: str, records: Sequence[tuple], columns: tuple[str, ...], encode) -> None:
    """COPY rows in PostgreSQL's text format when they encode plainly, else in binary.

    Lines, facts and items are most of what a rebuild writes, and formatting them as text costs less than
    half of asyncpg's binary encoding. The text is built without escaping, then checked: every tab,
    newline and backslash and every double quote must be one the encoder put there (field and row
    separators, the NULL marker backslash-N, the quotes around array elements). A value of the fold with
    any of those characters in it sends the batch through the binary path, which needs no escaping.
    """
    text = _as_text(records, columns, encode)
    if text is not None:
        # an async iterable, not a file: asyncpg reads files in its thread pool (threads, malloc arenas)
        await conn.copy_to_table(table, schema_name=schema, source=_once(text), columns=columns, format="text")
    else:
        await conn.copy_records_to_table(table, schema_name=schema, records=records, columns=columns)


async def _once(data: bytes):
    yield data


def _as_text(records: Sequence[tuple], columns: tuple[str, ...], encode) -> bytes | None:
    """The rows as COPY text, or None if a value holds a character the format would need escaped."""
    text, nulls, elements = encode(records)
    if (
        text.count("\t") == len(records) * (len(columns) - 1)
        and text.count("\n") == len(records)
        and "\r" not in text
        and text.count("\\") == nulls
        and text.count('"') == 2 * elements
    ):
        return text.encode()
    return None


_NULL = "\\N"


def _array(values: tuple[str, ...] | list[str]) -> str:
    return '{"' + '","'.join(values) + '"}' if values else "{}"


def _lines_text(lines: Sequence[tuple]) -> tuple[str, int, int]:
    """Lines as COPY text (LINE_COLUMNS), the number of NULLs written and of array elements."""
    rows, nulls, elements = [], 0, 0
    last_at = last_text = None
    # str(reward), not f"{reward}": Decimal's __format__ costs several times its __str__, same text
    for (
        event_id,
        seq,
        position,
        occurred_at,
        month,
        unit_id,
        officer_id,
        clause,
        reward_clause,
        points,
        reward,
        officer_ids,
        item_id,
        note,
        version,
    ) in lines:
        if occurred_at is not last_at:  # the lines of an event follow one another
            last_at, last_text = occurred_at, occurred_at.isoformat()
        nulls += (officer_id is None) + (reward_clause is None) + (item_id is None) + (note is None)
        elements += len(officer_ids)
        rows.append(
            f"{event_id}\t{seq}\t{position}\t{last_text}\t{month}\t{unit_id}\t"
            f"{_NULL if officer_id is None else officer_id}\t{clause}\t"
            f"{_NULL if reward_clause is None else reward_clause}\t{points}\t{str(reward)}\t{_array(officer_ids)}\t"
            f"{_NULL if item_id is None else item_id}\t{_NULL if note is None else note}\t{version}\n"
        )
    return "".join(rows), nulls, elements


def _facts_text(facts: Sequence[tuple]) -> tuple[str, int, int]:
    """Facts as COPY text (FACT_COLUMNS), the number of NULLs written and of array elements."""
    rows, nulls, elements = [], 0, 0
    for event_id, position, month, unit_id, fact, channel, item_id, officer_ids in facts:
        nulls += channel is None
        elements += len(officer_ids)
        rows.append(
            f"{event_id}\t{position}\t{month}\t{unit_id}\t{fact}\t{_NULL if channel is None else channel}\t"
            f"{item_id}\t{_array(officer_ids)}\n"
        )
    return "".join(rows), nulls, elements


def _items_text(items: Sequence[tuple]) -> tuple[str, int, int]:
    """Item rows as COPY text (ROW_COLUMNS["items"]), no NULLs, and the number of array elements."""
    rows, elements = [], 0
    for item_id, unit_id, title, kind, authors, month, position in items:
        elements += len(authors)
        rows.append(f"{item_id}\t{unit_id}\t{title}\t{kind}\t{_array(authors)}\t{month}\t{position}\n")
    return "".join(rows), 0, elements


class Totals:
    """Changes to the running sums of a batch, added up before one upsert.

    Lines change four measures of one (kind, subject, month) at once, kept together in a list (one
    dictionary look-up per line); facts change measures named after their channel or level. Counts
    and points stay ints (cheaper than Decimal arithmetic) until a reward makes them Decimal.
    """

    def __init__(self) -> None:
        self.line_sums: dict[tuple[str, str, int], list] = {}  # -> [lines, award, deduction, reward]
        self.deltas: dict[tuple[str, str, int, str], int] = defaultdict(int)

    def __len__(self) -> int:
        return 4 * len(self.line_sums) + len(self.deltas)

    def add_lines(self, lines: Iterable[tuple], *, sign: int) -> None:
        """(month, unit_id, officer_id, points, reward_yuan) of lines added (+1) or revoked (-1)."""
        sums = self.line_sums
        for month, unit_id, officer_id, points, reward in lines:
            key = ("u", unit_id, month) if officer_id is None else ("o", officer_id, month)
            found = sums.get(key)
            if found is None:
                found = sums[key] = [0, 0, 0, 0]
            found[0] += sign
            if points > 0:
                found[1] += sign * points
            elif points < 0:
                found[2] -= sign * points
            if reward:
                found[3] += sign * reward

    def add_facts(self, facts: Iterable[tuple], *, sign: int) -> None:
        """(month, unit_id, fact, channel, officer_ids) of facts added (+1) or revoked (-1)."""
        deltas = self.deltas
        for month, unit_id, kind, channel, officer_ids in facts:
            if kind == "submitted":
                deltas[("u", unit_id, month, "submitted")] += sign
            elif kind == "adopted":
                deltas[("u", unit_id, month, "adopted")] += sign
                deltas[("u", unit_id, month, f"adopted:{channel}")] += sign
                for officer_id in officer_ids:
                    deltas[("o", officer_id, month, "adopted")] += sign
            else:
                deltas[("u", unit_id, month, f"endorsed:{channel}")] += sign

    def take(self) -> list[tuple]:
        """Every change that is not zero as a (kind, subject, month, measure, value) row; then forget them."""
        changes = [
            (kind, subject, month, measure, value)
            for (kind, subject, month), found in self.line_sums.items()
            for measure, value in zip(_LINE_MEASURES, found)
            if value
        ]
        changes += [(*key, value) for key, value in self.deltas.items() if value]
        self.line_sums.clear()
        self.deltas.clear()
        return changes

    async def stage(self, conn, schema: str) -> None:
        """Append the changes to the generation's staging table by COPY (a rebuild: no upsert per
        batch; `add_up_staged` sums them into the totals once, at the end); then forget them."""
        changes = self.take()
        if changes:
            await _copy(conn, schema, STAGED_TOTALS, changes, TOTAL_COLUMNS, _totals_text)

    async def write(self, conn, schema: str) -> None:
        """Add the changes to the stored sums (the caller owns the transaction), then forget them."""
        changes = self.take()
        if not changes:
            return
        kinds, subjects, months, measures, values = (list(column) for column in zip(*changes))
        await conn.execute(
            f"INSERT INTO {schema}.totals AS t (kind, subject, month, measure, value) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::numeric[]) "
            "ON CONFLICT (month, kind, subject, measure) DO UPDATE SET value = t.value + EXCLUDED.value",
            kinds,
            subjects,
            months,
            measures,
            values,
        )
        if any(value < 0 for value in values):
            # A sum that a revocation brought back to 0 is deleted, not kept as a zero row: the stored
            # sums must not depend on how the log was cut into batches (a rebuild, or a projector that
            # took over after a kill -9, adds an adoption and its revocation up in one batch and never
            # writes the row), so the projection equals a rebuild row for row.
            await conn.execute(
                f"DELETE FROM {schema}.totals t USING unnest($1::text[], $2::text[], $3::int[], $4::text[]) "
                "AS z(kind, subject, month, measure) WHERE t.value = 0 AND t.kind = z.kind "
                "AND t.subject = z.subject AND t.month = z.month AND t.measure = z.measure",
                kinds,
                subjects,
                months,
                measures,
            )


_LINE_MEASURES = ("lines", "award", "deduction", "reward")
TOTAL_COLUMNS = ("kind", "subject", "month", "measure", "value")
STAGED_TOTALS = "totals_staged"


def staged_totals_ddl(schema: str) -> str:
    """The staging table of a rebuild's running sums: unlogged and unindexed, dropped once added up (a
    crash restarts the rebuild from nothing, so nothing in it needs to survive one)."""
    return (
        f"CREATE UNLOGGED TABLE {schema}.{STAGED_TOTALS} "
        "(kind text, subject text, month int, measure text, value numeric(16,2))"
    )


async def add_up_staged(conn, schema: str) -> None:
    """The staged changes summed into the generation's totals (empty until now), then dropped. A
    sum of 0 is no row, as the projector's upserts leave it (`Totals.write`)."""
    await conn.execute(
        f"INSERT INTO {schema}.totals (kind, subject, month, measure, value) "
        f"SELECT kind, subject, month, measure, sum(value) FROM {schema}.{STAGED_TOTALS} "
        "GROUP BY kind, subject, month, measure HAVING sum(value) <> 0"
    )
    await conn.execute(f"DROP TABLE {schema}.{STAGED_TOTALS}")


def _totals_text(changes: Sequence[tuple]) -> tuple[str, int, int]:
    """Changes to the running sums as COPY text (TOTAL_COLUMNS): no NULLs, no arrays."""
    return (
        "".join(
            f"{kind}\t{subject}\t{month}\t{measure}\t{value}\n" for kind, subject, month, measure, value in changes
        ),
        0,
        0,
    )


async def _revoke(conn, schema: str, table: str, returning: tuple[str, ...], targets: tuple[list, ...]) -> list:
    """Mark the rows of the target events revoked (once; with a unit, only that unit's); return what
    they counted, for the totals."""
    return await conn.fetch(
        f"UPDATE {schema}.{table} AS t SET revoked_by = r.by, revoked_position = r.pos "
        "FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[]) AS r(target, by, pos, unit) "
        "WHERE t.event_id = r.target AND t.revoked_by IS NULL AND (r.unit IS NULL OR t.unit_id = r.unit) "
        f"RETURNING {', '.join(f't.{column}' for column in returning)}",
        *targets,
    )
