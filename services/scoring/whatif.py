"""What-if: every unit's points and rank under the current policies and under a proposed policy.

The current side is the projection's own per-unit sums (the fold under the current policies); the
proposed side is folded with `evolve` (the projector's own function) under the proposed policy
alone, from the fold state restored from the projection as of just before the period's first
possible line, over the events the period's lines depend on. With no projection yet, the whole log
is folded under both. Only per-unit totals of the period are kept, plus each scoring event's
contribution so a later revocation can take it back; nothing is stored.
"""

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from pydantic import ValidationError

from services.scoring.fold_pool import FoldPool, worker_connection
from services.scoring.folding import ChunkFolder, collector_paused
from services.scoring.log_reader import stream_log
from shared.domain.evolve import FoldError, FoldState, Outcome, evolve, period_month
from shared.domain.periods import Period
from shared.domain.policy import Policy, PolicyError, PolicySet, parse_policy
from shared.domain.ranks import competition_ranks
from shared.domain.standing import is_ranked
from shared.problems import Problem, validation_errors
from shared.read_position import WAIT_SECONDS
from shared.service import ServiceState, db_role

SNAPSHOT_ATTEMPTS = 3


def proposed_policy(document: Any) -> Policy:
    """The posted document validated like a policy file; 422 `invalid_policy` naming the bad field."""
    if not isinstance(document, dict):
        raise Problem(422, "invalid_policy", "policy must be a policy document (an object)")
    try:
        return parse_policy(document, source="policy")
    except PolicyError as exc:
        cause = exc.__cause__
        raw = cause.errors() if isinstance(cause, ValidationError) else []
        errors = validation_errors(raw)
        for error in errors:
            error["loc"] = ["body", "policy", *error["loc"]]
        raise Problem(422, "invalid_policy", str(exc), errors=errors) from exc


@dataclass
class PeriodPoints:
    """Each unit's net points in a period, fed with the fold's outcomes in log order.

    `base` is each unit's (points, lines) in the period as the projection holds them (then nothing
    is fed).
    """

    period: Period
    base: dict[str, tuple[int, int]] = field(default_factory=dict)
    by_event: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    revoked: set[tuple[str, str | None]] = field(default_factory=set)  # (event, unit or None = every unit)

    def feed(self, outcome: Outcome) -> None:
        first, last = self.period.first, self.period.last  # Period.contains, inlined: once per line
        for line in outcome.lines:
            if line.officer_id is None and first <= line.month <= last:
                self.by_event.setdefault(line.event_id, []).append((line.unit_id, line.points))
        for revocation in outcome.revocations:
            self.revoked.add((revocation.target_event_id, revocation.unit_id))

    def points(self) -> dict[str, int]:
        """Net points of every unit with a line that counts in the period."""
        totals = {unit_id: points for unit_id, (points, lines) in self.base.items() if lines > 0}
        for event_id, contributions in self.by_event.items():
            if (event_id, None) in self.revoked:
                continue
            for unit_id, points in contributions:
                if (event_id, unit_id) in self.revoked:
                    continue
                totals[unit_id] = totals.get(unit_id, 0) + points
        return totals


_DEADLINE = "(i.data->>'deadline')::timestamptz"
_DATED = (
    "'item.adopted', 'item.endorsed', 'unit.false-information', 'unit.late-reported', "
    "'unit.solicitation-missed', 'unit.criticized'"
)

# Dated in the period: its local month is one of the period's, i.e. it happened between the period's
# first instant and the next period's (timestamps compared, no time-zone conversion per row).
_IN_PERIOD = "({t} >= {start} AND {t} < {end})"

# The smallest position of an event that could give a line in the period under any policy: lines
# fall in the event's local month (adoptions, endorsements, deductions), the closed month (closes;
# reopens only revoke them), the assessed year (S1/D1) or the solicitation's deadline month (D7). A
# close whose solicitation's deadline cannot be placed outside the period counts, to be safe.
_FIRST_LINE = (
    "SELECT min(e.global_position) FROM eventlog.events e WHERE e.global_position <= $1 AND ("
    f"(e.type IN ({_DATED}) AND {_IN_PERIOD.format(t='e.occurred_at', start='$5', end='$6')}) "
    "OR (e.type IN ('period.month-closed', 'period.month-reopened') "
    "AND (e.data->>'year')::int * 100 + (e.data->>'month')::int BETWEEN $2 AND $3) "
    "OR (e.type = 'unit.assessed' AND (e.data->>'year')::int = $4) "
    "OR (e.type = 'solicitation.closed' AND NOT EXISTS (SELECT 1 FROM eventlog.events i "
    "WHERE i.type = 'solicitation.issued' AND i.data->>'solicitation_id' = e.data->>'solicitation_id' "
    f"AND NOT {_IN_PERIOD.format(t=_DEADLINE, start='$5', end='$6')})))"
)

# After the restore point, the events the period's lines can depend on (a condition for
# log_reader.stream_log: $1..$2 the range, $3 the zone, $4..$5 the period's bounds, `bounds`).
# The period's lines come from events dated in it and from closes, assessments and solicitation
# closes (few: all kept, with the units, targets, solicitations and revocations they read). What
# else they read is the items that adoptions and endorsements name (`ChunkFolder.hydrate` finds
# them in the generation) and the month counts a close evaluates (`ChunkFolder.month_counts_at`
# sets them from the generation's facts before the close). So submissions are left out, the
# period's most numerous events, except those that answer a solicitation, and so is every event
# dated outside the period.
NEEDED = (
    "type IN ('unit.registered', 'unit.target-set', 'unit.assessed', 'event.revoked', 'unit.dispute-resolved', "
    "'period.month-closed', 'period.month-reopened', 'solicitation.issued', 'solicitation.closed') "
    f"OR (type IN ({_DATED}) AND {_IN_PERIOD.format(t='occurred_at', start='$4', end='$5')}) "
    "OR (type = 'item.submitted' AND data->>'solicitation_id' IS NOT NULL)"
)


def bounds(period: Period, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The period's first instant and the first instant after it."""
    return period.start(zone), period.end(zone)


async def restore_point(raw_conn, *, period: Period, head: int, zone: ZoneInfo) -> int:
    """The last position before any event that could put a line in the period (`head` if none)."""
    first = await raw_conn.fetchval(_FIRST_LINE, head, period.first, period.last, period.year, *bounds(period, zone))
    return head if first is None else first - 1


@dataclass
class Restored:
    """The fold state as of `as_of` (a position before the period's first line) in the generation
    whose checkpoint is `checkpoint`, with the units registered by then (name, registration time)."""

    folder: ChunkFolder
    as_of: int
    checkpoint: int
    units: dict[str, tuple[str, datetime]]


async def _restored(raw_conn, policies: PolicySet, *, period: Period, zone: ZoneInfo) -> Restored | None:
    """The fold state as of a position before the period's first line up to the generation's
    checkpoint; None when there is no generation to restore from (then the whole log is folded).

    The state does not depend on the policy (only lines do), so the active generation's tables, cut
    at that position, give the proposed fold its starting state.
    """
    schema = await raw_conn.fetchval("SELECT schema_name FROM scoring.active_generation WHERE id = 1")
    if schema is None:
        return None
    checkpoint = await raw_conn.fetchval(f"SELECT position FROM {schema}.checkpoint") or 0
    as_of = await restore_point(raw_conn, period=period, head=checkpoint, zone=zone)
    if as_of <= 0:
        return None
    folder = ChunkFolder(policies, schema)
    await folder.restore(raw_conn, as_of=as_of)
    # hold the items table too (hydration reads it): a rebuild's switch cannot drop it under the fold
    await raw_conn.execute(f"SELECT FROM {schema}.items LIMIT 0")
    units = {
        row["unit_id"]: (row["name"], row["occurred_at"])
        for row in await raw_conn.fetch(
            f"SELECT unit_id, name, occurred_at FROM {schema}.units WHERE global_position <= $1 "
            "ORDER BY global_position",
            as_of,
        )
    }
    return Restored(folder, as_of, checkpoint, units)


async def _projected(raw_conn, schema: str, period: Period) -> dict[str, tuple[int, int]]:
    """Each unit's (net points, lines) in the period as the generation holds them at its checkpoint:
    the fold under the current policies, already done."""
    rows = await raw_conn.fetch(
        "SELECT subject, coalesce(sum(value) FILTER (WHERE measure = 'award'), 0) "
        "- coalesce(sum(value) FILTER (WHERE measure = 'deduction'), 0), "
        "coalesce(sum(value) FILTER (WHERE measure = 'lines'), 0) "
        f"FROM {schema}.totals WHERE kind = 'u' AND month BETWEEN $1 AND $2 GROUP BY subject",
        period.first,
        period.last,
    )
    return {subject: (int(points), int(lines)) for subject, points, lines in rows}


async def compare(
    raw_conn,
    *,
    policies: PolicySet,
    proposed: Policy,
    period: Period,
    zone: ZoneInfo,
    checkpointed: bool = True,
) -> dict[str, Any]:
    """Fold the log under both policies and put the period's points and ranks side by side.

    With `checkpointed` and a projection that reaches the log's head within `WAIT_SECONDS` (as a
    `min_position` read waits; else the whole log is folded), the answer is as of the projection's checkpoint (its
    `position`, as a ranking's): the current side is the projection's own sums (it is the fold
    under the current policies), and only the proposed side is folded, from the state restored from
    the projection as of just before the first event that could give a line in the period
    (`_restored`), over only the events the period's lines depend on (`NEEDED`). The answer is the
    same as folding the log up to that position under both (tests/http/test_whatif_checkpoint.py).
    Events left out are not folded under the proposed policy, so a policy unable to score them is
    not refused.
    """
    if checkpointed:  # every event appended before the request is in the answer, as with a min_position read
        checkpointed = await _projection_reaches(raw_conn, await _head(raw_conn))
    for attempt in range(1, SNAPSHOT_ATTEMPTS + 1):
        snapshot = raw_conn.transaction(isolation="repeatable_read", readonly=True)
        await snapshot.start()
        try:
            # as in a rebuild: the fold's states and chunks hold no cycles, and full collections over
            # them were a third of the time (cProfile, 2025-Q3 of the 1M log)
            with collector_paused():
                return await _compare(
                    raw_conn, policies=policies, proposed=proposed, period=period, zone=zone, checkpointed=checkpointed
                )
        except asyncpg.UndefinedTableError:
            # a rebuild's switch dropped the generation this snapshot still names (before its tables
            # were locked here): a new snapshot names the new one
            if attempt == SNAPSHOT_ATTEMPTS:
                raise
        finally:
            if not raw_conn.is_closed():
                await snapshot.rollback()
    raise AssertionError("unreachable")


async def _head(raw_conn) -> int:
    return await raw_conn.fetchval("SELECT coalesce(max(global_position), 0) FROM eventlog.events")


async def _projection_reaches(raw_conn, position: int) -> bool:
    """Whether the projection folds `position` within WAIT_SECONDS (polled, 10 → 100 ms)."""
    deadline, delay = time.monotonic() + WAIT_SECONDS, 0.01
    while (await raw_conn.fetchval("SELECT position FROM proj.checkpoint")) < position:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)
    return True


async def _compare(raw_conn, *, policies, proposed, period, zone, checkpointed) -> dict[str, Any]:
    alone = PolicySet([proposed], zone)
    head = await _head(raw_conn)
    restored = await _restored(raw_conn, policies, period=period, zone=zone) if checkpointed else None
    current, changed = PeriodPoints(period), PeriodPoints(period)
    folder: ChunkFolder | None = None
    units: dict[str, tuple[str, datetime]] = {}
    state, after = FoldState(), 0
    where, args = "", tuple[datetime, ...]()
    if restored is not None:
        folder, units, state, after = restored.folder, restored.units, restored.folder.state, restored.as_of
        head = restored.checkpoint
        current.base = await _projected(raw_conn, folder.schema, period)
        where, args = NEEDED, bounds(period, zone)
    async for events in stream_log(raw_conn, zone=zone, after=after, until=head, where=where, args=args):
        if folder is not None:
            folder.state = state
            await folder.hydrate(raw_conn, events)
            state = folder.state
        for event in events:
            if folder is None:  # no projection to take the current side from
                current.feed(evolve(state, event, policies)[1])
            elif event.type == "period.month-closed" and period.contains(closed := period_month(event)):
                state = await folder.month_counts_at(raw_conn, state, month=closed, position=event.position)
            try:
                # the state after an event does not depend on the policy
                state, outcome = evolve(state, event, alone)
            except FoldError as exc:
                raise Problem(422, "invalid_policy", f"the proposed policy cannot score the log: {exc}") from exc
            changed.feed(outcome)
            for table, values in outcome.rows:
                if table == "units":
                    units[values[0]] = (values[1], values[3])
            if folder is not None and outcome.revocations:
                folder.revoked_since.update(revocation.target_event_id for revocation in outcome.revocations)
        await asyncio.sleep(0)  # the fold is CPU work: let the projector and other requests run
    before_points, after_points = current.points(), changed.points()
    end = period.end(zone)
    rows: list[dict[str, Any]] = [
        {
            "unit_id": unit_id,
            "unit_name": name,
            "current_points": before_points.get(unit_id, 0),
            "proposed_points": after_points.get(unit_id, 0),
        }
        for unit_id, (name, registered) in units.items()
        if is_ranked(registered, end, unit_id in before_points or unit_id in after_points)
    ]
    for row in rows:
        row["change"] = row["proposed_points"] - row["current_points"]
    competition_ranks(rows, "current_points", "unit_id", rank_field="current_rank")
    competition_ranks(rows, "proposed_points", "unit_id", rank_field="proposed_rank")
    return {
        "period": period.label,
        "position": head,
        "current_policy_version": policies.for_last_month(period.last).version,
        "proposed_policy_version": proposed.version,
        "rows": rows,
    }


async def what_if(state: ServiceState, *, document: Any, period: Period, pool: FoldPool) -> dict[str, Any]:
    """POST /v1/what-if: validate the document, then compare in a fold worker (off the event loop)."""
    proposed = proposed_policy(document)
    return await pool.run(
        compare_on_own_connection,
        url=state.settings.service_database_url("scoring"),
        role=db_role("scoring", state.settings),
        policies=state.policies,
        proposed=proposed,
        period=period,
        zone=state.settings.zone,
    )


async def compare_on_own_connection(
    *, url: str, role: str | None, policies: PolicySet, proposed: Policy, period: Period, zone: ZoneInfo
) -> dict[str, Any]:
    async with worker_connection(url, role) as raw:
        return await compare(raw, policies=policies, proposed=proposed, period=period, zone=zone)
