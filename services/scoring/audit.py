"""The audit of one deduction: the event as recorded, its disputes, and a replay of the raw log.

Everything derived (clause, points, year totals before and after, revocation, the replay check)
comes from folding the log with `evolve`, the projector's own function, so the audit can disagree
with the stored projection only if the projection is wrong. The replay folds only the unit's
scope of the log (`unit_scope`: its unit stream, its items' streams, the period and solicitation
streams) — a unit's own lines depend on nothing else — in a fold worker process, off the event loop.

A `solicitation.closed` is a deduction too: D7 for each asked unit with nothing on time, each line
its own unit's, disputed and revoked unit by unit (rules.md "The office's year"). Its audit is one
unit's: `?unit_id=` names it; it may be left out when the close deducted exactly one unit, and is
422 `unit_id_required` (naming the units) when it deducted several. A unit the event deducted
nothing from is 422 `not_a_deduction`, for a close and for any other deduction alike.
"""

import asyncio
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.scoring.fold_pool import FoldPool, worker_connection
from services.scoring.log_reader import read_scope, stream_log
from shared.domain.events import DEDUCTION_TYPES, RecordedEvent
from shared.domain.evolve import FoldState, Line, LogEvent, Outcome, evolve
from shared.domain.policy import PolicySet
from shared.domain.standing import thresholds_crossed
from shared.eventstore import find_events
from shared.problems import Problem
from shared.read_position import read_projection
from shared.service import ServiceState, db_role

# An assessment deducts when its outcome's clause does (D1), a close when a unit missed the deadline
# (D7); the replay's lines decide.
MAY_DEDUCT = DEDUCTION_TYPES | {"unit.assessed", "solicitation.closed"}
_DISPUTES = """
SELECT event_id::text, type, recorded_at, data FROM eventlog.events
WHERE stream_id = :stream AND type IN ('unit.deduction-disputed', 'unit.dispute-resolved')
  AND data->>'deduction_event_id' = :event_id
ORDER BY global_position
"""
_UNIT_ITEMS = "SELECT item_id FROM proj.items WHERE unit_id = :unit_id"
# Items of the unit submitted after the projection's checkpoint (the projection lists those before).
_LATER_ITEMS = (
    "SELECT data->>'item_id' FROM eventlog.events WHERE type = 'item.submitted' "
    "AND global_position > $1 AND data->>'unit_id' = $2"
)
_PROJECTED = """
SELECT coalesce(sum(-points), 0) FROM proj.lines
WHERE unit_id = :unit_id AND officer_id IS NULL AND points < 0 AND month BETWEEN :first AND :last
  AND global_position <= :asof AND (revoked_position IS NULL OR revoked_position > :asof)
"""


@dataclass
class YearDeductions:
    """Every unit's deduction points per year, kept up to date from the fold's outcomes in log order.

    All units, because which unit an event deducted is known only once the replay reaches it (a
    close deducts several)."""

    by_event: dict[tuple[str, int, str], int] = field(default_factory=dict)  # (unit, year, event) -> points
    revoked: dict[tuple[str | None, str], tuple[int, str]] = field(default_factory=dict)  # -> (position, by)

    def feed(self, outcome: Outcome) -> None:
        for line in outcome.lines:
            if line.officer_id is None and line.points < 0:
                key = (line.unit_id, line.month // 100, line.event_id)
                self.by_event[key] = self.by_event.get(key, 0) - line.points
        for revocation in outcome.revocations:
            # unit_id None: every line of the event; else that unit's only (a dispute of a close's D7)
            target = (revocation.unit_id, revocation.target_event_id)
            self.revoked.setdefault(target, (revocation.position, revocation.revoked_by))

    def revoked_by(self, unit_id: str, event_id: str) -> str | None:
        found = [r for r in (self.revoked.get((None, event_id)), self.revoked.get((unit_id, event_id))) if r]
        return min(found)[1] if found else None

    def points(self, unit_id: str, year: int) -> int:
        return sum(
            points
            for (unit, in_year, event_id), points in self.by_event.items()
            if unit == unit_id and in_year == year and self.revoked_by(unit, event_id) is None
        )

    def snapshot(self) -> dict[tuple[str, int], int]:
        """Every (unit, year)'s points now: what the projection should hold at its checkpoint."""
        totals: dict[tuple[str, int], int] = {}
        for (unit, year, event_id), points in self.by_event.items():
            if self.revoked_by(unit, event_id) is None:
                totals[(unit, year)] = totals.get((unit, year), 0) + points
        return totals


async def recorded_deduction(conn: AsyncConnection, event_id: UUID) -> RecordedEvent:
    """The event as recorded; 404 when unknown, 422 when it is not a deduction."""
    found = await find_events(conn, [event_id])
    if event_id not in found:
        raise Problem(404, "not_found", f"no event {event_id}")
    event = found[event_id][0]
    if event.type not in MAY_DEDUCT:
        raise Problem(422, "not_a_deduction", f"event {event_id} is a {event.type}, not a deduction")
    return event


async def disputes_of(conn: AsyncConnection, event: RecordedEvent, unit_id: str) -> list[dict[str, Any]]:
    """Each dispute of the deduction with the resolution that closed it (or null while open); a
    close's are in the disputing unit's stream."""
    stream = f"unit-{unit_id}" if event.type == "solicitation.closed" else event.stream_id
    rows = await conn.execute(text(_DISPUTES), {"stream": stream, "event_id": str(event.event_id)})
    disputes: list[dict[str, Any]] = []
    for row in rows:
        if row.type == "unit.deduction-disputed":
            disputes.append(
                {
                    "event_id": row.event_id,
                    "reason": row.data["reason"],
                    "evidence": row.data.get("evidence"),
                    "recorded_at": row.recorded_at.isoformat(),
                    "resolution": None,
                }
            )
        elif disputes and disputes[-1]["resolution"] is None:
            disputes[-1]["resolution"] = {
                "event_id": row.event_id,
                "outcome": row.data["outcome"],
                "reason": row.data["reason"],
                "recorded_at": row.recorded_at.isoformat(),
            }
    return disputes


async def checkpoint_of(conn: AsyncConnection) -> int:
    """The stored projection's checkpoint."""
    # The generation first, as every reader that holds the projection across statements does: a
    # rebuild's switch takes it first too, so the switch waits for this reader (or this reader for
    # the switch) and neither can hold a view the other waits for (services/scoring/rebuild.py).
    await conn.execute(text("SELECT schema_name FROM scoring.active_generation WHERE id = 1"))
    return (await conn.execute(text("SELECT position FROM proj.checkpoint"))).scalar_one()


async def projected_year(conn: AsyncConnection, *, unit_id: str, year: int, checkpoint: int) -> int:
    """The unit's year deduction points in the stored projection as of `checkpoint` (lines carry their
    positions, so the answer is the same whenever it is asked)."""
    points: int = (
        await conn.execute(
            text(_PROJECTED), {"unit_id": unit_id, "first": year * 100 + 1, "last": year * 100 + 12, "asof": checkpoint}
        )
    ).scalar_one()
    return int(points)


@dataclass
class Replayed:
    line: Line
    before: int
    after: int
    recomputed: int
    revoked_by: str | None

    @property
    def unit_id(self) -> str:
        return self.line.unit_id

    @property
    def year(self) -> int:
        return self.line.month // 100


def deducted_line(event_id: str, outcome: Outcome, unit_id: str | None) -> Line:
    """The unit line of the event that the audit is about: the named unit's, else the only one."""
    lines = {line.unit_id: line for line in outcome.lines if line.officer_id is None and line.points < 0}
    if unit_id is not None:
        if unit_id not in lines:
            raise Problem(422, "not_a_deduction", f"event {event_id} deducts no points from unit {unit_id}")
        return lines[unit_id]
    if not lines:
        raise Problem(422, "not_a_deduction", f"event {event_id} deducts no points")
    if len(lines) > 1:
        units = ", ".join(sorted(lines))
        raise Problem(
            422,
            "unit_id_required",
            f"event {event_id} deducted points from {len(lines)} units ({units}): name one with ?unit_id=",
            errors=[{"loc": ["query", "unit_id"], "msg": f"one of {units}", "type": "missing"}],
            unit_ids=sorted(lines),
        )
    return next(iter(lines.values()))


async def unit_scope(raw_conn, *, unit_id: str, items: list[str], checkpoint: int, zone) -> list[LogEvent]:
    """Every event the unit's own lines depend on, in log order, read in one snapshot: its unit
    stream (registration, targets, deductions, assessments, disputes and revocations of them), the
    streams of its items (submissions, adoptions and their revocations feed the month counts a month
    close evaluates), the period streams (closes, reopenings) and the solicitation streams (a close
    deducts D7 from the asked units that did not answer in time). Month closes and solicitations
    evaluate every registered unit, so here they evaluate this one alone with the same state: its
    lines come out exactly as in a fold of the whole log (tests/domain/test_audit_scope.py)."""
    async with raw_conn.transaction(isolation="repeatable_read", readonly=True):
        head = await raw_conn.fetchval("SELECT coalesce(max(global_position), 0) FROM eventlog.events")
        later = [row[0] for row in await raw_conn.fetch(_LATER_ITEMS, checkpoint, unit_id)]
        streams = [f"unit-{unit_id}", *(f"item-{item}" for item in sorted(set(items) | set(later)))]
        return await read_scope(raw_conn, streams=streams, until=head, zone=zone)


async def _once(events: list[LogEvent]):
    yield events


async def replay_deduction(
    raw_conn,
    *,
    policies: PolicySet,
    zone,
    event_id: str,
    position: int,
    unit_id: str | None,
    checkpoint: int,
    items: list[str] | None = None,
) -> Replayed:
    """Fold the unit's scope (with `items` None, the whole log) once: the unit's year points around
    the event, at `checkpoint`, and now."""
    if items is None or unit_id is None:
        chunks: Any = stream_log(raw_conn, zone=zone)
    else:
        chunks = _once(await unit_scope(raw_conn, unit_id=unit_id, items=items, checkpoint=checkpoint, zone=zone))
    replayer = Replayer(policies=policies, event_id=event_id, position=position, unit_id=unit_id, checkpoint=checkpoint)
    async for events in chunks:
        replayer.feed(events)
        await asyncio.sleep(0)  # a long replay is CPU work: let other work of the process run
    return replayer.result()


class Replayer:
    """The replay itself, a pure fold over events in log order (the whole log or one unit's scope)."""

    def __init__(self, *, policies: PolicySet, event_id: str, position: int, unit_id: str | None, checkpoint: int):
        self.policies, self.event_id, self.position = policies, event_id, position
        self.unit_id, self.checkpoint = unit_id, checkpoint
        self.tracker = YearDeductions()
        self.state = FoldState()
        self.line: Line | None = None
        self.at_checkpoint: dict[tuple[str, int], int] | None = None
        self.before = self.after = 0
        self.refused: Problem | None = None  # raised by `result`, once the fold is done

    def feed(self, events: list[LogEvent]) -> None:
        tracker = self.tracker
        for event in events:
            if self.at_checkpoint is None and event.position > self.checkpoint:
                self.at_checkpoint = tracker.snapshot()
            self.state, outcome = evolve(self.state, event, self.policies)
            tracker.feed(outcome)
            if event.position == self.position:
                try:
                    line = self.line = deducted_line(self.event_id, outcome, self.unit_id)
                except Problem as problem:
                    self.refused = problem
                    continue
                self.after = tracker.points(line.unit_id, line.month // 100)
                self.before = self.after + line.points  # this event's own line is the only change

    def result(self) -> Replayed:
        if self.refused is not None:
            raise self.refused
        line = self.line
        if line is None:
            raise Problem(422, "not_a_deduction", f"event {self.event_id} deducts no points")
        key = (line.unit_id, line.month // 100)
        at_checkpoint = self.tracker.snapshot() if self.at_checkpoint is None else self.at_checkpoint
        return Replayed(
            line=line,
            before=self.before,
            after=self.after,
            recomputed=at_checkpoint.get(key, 0),
            revoked_by=self.tracker.revoked_by(line.unit_id, self.event_id),
        )


async def replay_on_own_connection(*, url: str, role: str | None, **replay: Any) -> Replayed:
    """The replay in a fold worker process, on the worker's own connection."""
    async with worker_connection(url, role) as raw:
        return await replay_deduction(raw, **replay)


def audit_body(
    *, event: RecordedEvent, disputes: list[dict[str, Any]], replayed: Replayed, projected: int, policies: PolicySet
) -> dict[str, Any]:
    """The answer of precise answer 7: thresholds from the policy the deduction was scored under."""
    line = replayed.line
    policy = policies.by_version.get(line.policy_version) or policies.current
    thresholds = policy.document.thresholds
    crossed = thresholds_crossed(replayed.before, replayed.after, (thresholds.exclusion, thresholds.criticism))
    return {
        "event": event.model_dump(mode="json"),
        "clause": line.clause,
        "clause_text": policy.text_of(line.clause),
        "points": line.points,
        "policy_version": line.policy_version,
        "year": replayed.year,
        "unit_id": replayed.unit_id,
        "revoked": replayed.revoked_by is not None,
        "revoked_by": replayed.revoked_by,
        "disputes": disputes,
        "year_deduction_points_before": replayed.before,
        "year_deduction_points_after": replayed.after,
        "thresholds_crossed": crossed,
        "replay_check": {
            "recomputed": replayed.recomputed,
            "projected": projected,
            "match": replayed.recomputed == projected,
        },
    }


async def audit_deduction(
    state: ServiceState,
    event_id: UUID,
    *,
    pool: FoldPool,
    unit_id: str | None = None,
    min_position: int | None = None,
) -> tuple[dict[str, Any], int]:
    """The full audit of one deduction event (api.md precise answers 7 and 16) for one unit, and the
    projection position it reflects. Reads where projection reads go (the standby when configured)."""

    async def read(conn: AsyncConnection) -> tuple[RecordedEvent, int, str | None, list[str] | None]:
        event = await recorded_deduction(conn, event_id)
        if unit_id is not None and event.type != "solicitation.closed" and event.data["unit_id"] != unit_id:
            raise Problem(422, "not_a_deduction", f"event {event_id} deducts no points from unit {unit_id}")
        # Whose scope to replay: the event's unit, or the unit named for a close (a close without one
        # replays the whole log, which finds the units it deducted).
        scope_unit = unit_id if event.type == "solicitation.closed" else event.data["unit_id"]
        items = None
        if scope_unit is not None:
            items = [row[0] for row in await conn.execute(text(_UNIT_ITEMS), {"unit_id": scope_unit})]
        return event, await checkpoint_of(conn), scope_unit, items

    (event, checkpoint, scope_unit, items), position = await read_projection(
        state.reads, min_position, read, primary=state.engine
    )
    replayed = await pool.run(  # the replay folds the log: in a fold worker, off the event loop
        replay_on_own_connection,
        url=state.settings.read_url("scoring"),
        role=db_role("scoring", state.settings),
        policies=state.policies,
        zone=state.settings.zone,
        event_id=str(event_id),
        position=event.global_position,
        unit_id=scope_unit,
        checkpoint=checkpoint,
        items=items,
    )
    async with state.reads.connect() as conn:
        disputes = await disputes_of(conn, event, replayed.unit_id)
        projected = await projected_year(conn, unit_id=replayed.unit_id, year=replayed.year, checkpoint=checkpoint)
    body = audit_body(event=event, disputes=disputes, replayed=replayed, projected=projected, policies=state.policies)
    return body, position
