"""The audit of one deduction: the event as recorded, its disputes, and a replay of the raw log.

Everything derived (clause, points, year totals before and after, revocation, the replay check)
comes from folding the raw log with `evolve`, the projector's own function, so the audit can
disagree with the stored projection only if the projection is wrong. The replay folds only the
unit's scope of the log (`unit_scope`: its unit stream, its items' streams, the period streams) —
a unit's own lines depend on nothing else — in a fold worker process, off the event loop.
"""

import asyncio
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.scoring.fold_pool import FoldPool
from services.scoring.log_reader import read_scope, stream_log
from shared.db import connect_raw
from shared.domain.events import DEDUCTION_TYPES, RecordedEvent
from shared.domain.evolve import FoldState, Line, LogEvent, Outcome, evolve
from shared.domain.policy import PolicySet
from shared.eventstore import find_events
from shared.problems import Problem
from shared.service import ServiceState, db_role

# An assessment deducts when its outcome's clause does (D1); the replay's line decides.
MAY_DEDUCT = DEDUCTION_TYPES | {"unit.assessed"}
_DISPUTES = """
SELECT event_id::text, type, recorded_at, data FROM eventlog.events
WHERE stream_id = :stream AND type IN ('unit.deduction-disputed', 'unit.dispute-resolved')
  AND data->>'deduction_event_id' = :event_id
ORDER BY global_position
"""
_UNIT_ITEMS = "SELECT item_id FROM proj.items WHERE unit_id = :unit_id"
_PROJECTED = """
SELECT coalesce(sum(-points), 0) FROM proj.lines
WHERE unit_id = :unit_id AND officer_id IS NULL AND points < 0 AND month BETWEEN :first AND :last
  AND global_position <= :asof AND (revoked_position IS NULL OR revoked_position > :asof)
"""


@dataclass
class YearDeductions:
    """A unit's deduction points in one year, kept up to date from the fold's outcomes in log order."""

    unit_id: str
    year: int
    by_event: dict[str, int] = field(default_factory=dict)
    revoked_by: dict[str, str] = field(default_factory=dict)

    def feed(self, outcome: Outcome) -> None:
        for line in outcome.lines:
            if (
                line.officer_id is None
                and line.unit_id == self.unit_id
                and line.month // 100 == self.year
                and line.points < 0
            ):
                self.by_event[line.event_id] = self.by_event.get(line.event_id, 0) - line.points
        for revocation in outcome.revocations:
            self.revoked_by.setdefault(revocation.target_event_id, revocation.revoked_by)

    @property
    def points(self) -> int:
        return sum(points for event_id, points in self.by_event.items() if event_id not in self.revoked_by)


async def recorded_deduction(conn: AsyncConnection, event_id: UUID) -> RecordedEvent:
    """The event as recorded; 404 when unknown, 422 when it is not a deduction."""
    found = await find_events(conn, [event_id])
    if event_id not in found:
        raise Problem(404, "not_found", f"no event {event_id}")
    event = found[event_id][0]
    if event.type not in MAY_DEDUCT:
        raise Problem(422, "not_a_deduction", f"event {event_id} is a {event.type}, not a deduction")
    return event


async def disputes_of(conn: AsyncConnection, event: RecordedEvent) -> list[dict[str, Any]]:
    """Each dispute of the deduction with the resolution that closed it (or null while open)."""
    rows = await conn.execute(text(_DISPUTES), {"stream": event.stream_id, "event_id": str(event.event_id)})
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


async def projected_year(conn: AsyncConnection, *, unit_id: str, year: int) -> tuple[int, int]:
    """The stored projection's checkpoint and the unit's year deduction points as of it."""
    checkpoint = (await conn.execute(text("SELECT position FROM proj.checkpoint"))).scalar_one()
    points = (
        await conn.execute(
            text(_PROJECTED), {"unit_id": unit_id, "first": year * 100 + 1, "last": year * 100 + 12, "asof": checkpoint}
        )
    ).scalar_one()
    return checkpoint, int(points)


@dataclass
class Replayed:
    line: Line
    before: int
    after: int
    recomputed: int
    revoked_by: str | None


# Items of the unit submitted after the projection's checkpoint (the projection lists those before).
_LATER_ITEMS = (
    "SELECT data->>'item_id' FROM eventlog.events WHERE type = 'item.submitted' "
    "AND global_position > $1 AND data->>'unit_id' = $2"
)


async def unit_scope(raw_conn, *, unit_id: str, items: list[str], checkpoint: int, zone) -> list[LogEvent]:
    """Every event the unit's own lines depend on, in log order, read in one snapshot: its unit
    stream (registration, targets, deductions, assessments, disputes and revocations of them), the
    streams of its items (submissions, adoptions and their revocations feed the month counts a month
    close evaluates), and the period streams (closes, reopenings). The fold is per unit apart from
    month closes, which evaluate every registered unit and so evaluate this one alone here with the
    same state: its lines come out exactly as in a fold of the whole log (tests/test_audit_scope.py)."""
    async with raw_conn.transaction(isolation="repeatable_read", readonly=True):
        head = await raw_conn.fetchval("SELECT coalesce(max(global_position), 0) FROM eventlog.events")
        later = [row[0] for row in await raw_conn.fetch(_LATER_ITEMS, checkpoint, unit_id)]
        streams = [f"unit-{unit_id}", *(f"item-{item}" for item in sorted(set(items) | set(later)))]
        return await read_scope(raw_conn, streams=streams, until=head, zone=zone)


async def replay_deduction(
    raw_conn,
    *,
    policies: PolicySet,
    zone,
    event_id: str,
    position: int,
    year: int,
    unit_id: str,
    checkpoint: int,
    items: list[str] | None = None,
) -> Replayed:
    """Fold the unit's scope (or, with `items` None, the whole log) once: the year's points around
    the event, at `checkpoint`, and now."""
    if items is None:
        chunks: Any = stream_log(raw_conn, zone=zone)
    else:
        chunks = _once(await unit_scope(raw_conn, unit_id=unit_id, items=items, checkpoint=checkpoint, zone=zone))
    replayer = Replayer(
        policies=policies, event_id=event_id, position=position, year=year, unit_id=unit_id, checkpoint=checkpoint
    )
    async for events in chunks:
        replayer.feed(events)
        await asyncio.sleep(0)  # a long replay is CPU work: let other work of the process run
    return replayer.result()


class Replayer:
    """The replay itself, a pure fold over events in log order (the whole log or one unit's scope)."""

    def __init__(self, *, policies: PolicySet, event_id: str, position: int, year: int, unit_id: str, checkpoint: int):
        self.policies, self.event_id, self.position, self.checkpoint = policies, event_id, position, checkpoint
        self.tracker = YearDeductions(unit_id=unit_id, year=year)
        self.state = FoldState()
        self.line: Line | None = None
        self.before = self.after = 0
        self.recomputed: int | None = None

    def feed(self, events: list[LogEvent]) -> None:
        tracker, position = self.tracker, self.position
        for event in events:
            if self.recomputed is None and event.position > self.checkpoint:
                self.recomputed = tracker.points
            if event.position == position:
                self.before = tracker.points
            self.state, outcome = evolve(self.state, event, self.policies)
            tracker.feed(outcome)
            if event.position == position:
                self.after = tracker.points
                self.line = next((l for l in outcome.lines if l.officer_id is None), None)

    def result(self) -> Replayed:
        if self.line is None or self.line.points >= 0:
            raise Problem(422, "not_a_deduction", f"event {self.event_id} deducts no points")
        return Replayed(
            line=self.line,
            before=self.before,
            after=self.after,
            recomputed=self.tracker.points if self.recomputed is None else self.recomputed,
            revoked_by=self.tracker.revoked_by.get(self.event_id),
        )


async def _once(events: list[LogEvent]):
    yield events


async def replay_on_own_connection(*, url: str, role: str | None, **replay: Any) -> Replayed:
    raw = await connect_raw(url, role=role)
    try:
        return await replay_deduction(raw, **replay)
    finally:
        await raw.close()


def audit_body(
    *, event: RecordedEvent, disputes: list[dict[str, Any]], replayed: Replayed, projected: int, policies: PolicySet
) -> dict[str, Any]:
    """The answer of precise answer 7: thresholds from the policy the deduction was scored under."""
    line = replayed.line
    policy = policies.by_version.get(line.policy_version) or policies.current
    thresholds = policy.document.thresholds
    crossed = sorted({t for t in (thresholds.exclusion, thresholds.criticism) if replayed.before < t <= replayed.after})
    return {
        "event": event.model_dump(mode="json"),
        "clause": line.clause,
        "clause_text": policy.text_of(line.clause),
        "points": line.points,
        "policy_version": line.policy_version,
        "year": line.month // 100,
        "unit_id": line.unit_id,
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


async def audit_deduction(state: ServiceState, event_id: UUID, *, pool: FoldPool) -> dict[str, Any]:
    """The full audit of one deduction event (api.md precise answers 7 and 16)."""
    async with state.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():  # the checkpoint and the projected points from one snapshot
            event = await recorded_deduction(conn, event_id)
            disputes = await disputes_of(conn, event)
            unit_id, year = event.data["unit_id"], event.occurred_at.astimezone(state.settings.zone).year
            if event.type == "unit.assessed":  # S1/D1 count in the year they assess (fold._assessed)
                year = event.data["year"]
            # the unit's items before the checkpoint and lines: the rebuild's switch takes items first too
            items = [row[0] for row in await conn.execute(text(_UNIT_ITEMS), {"unit_id": unit_id})]
            checkpoint, projected = await projected_year(conn, unit_id=unit_id, year=year)
    replayed = await pool.run(  # the replay folds the log: in a fold worker, off the event loop
        replay_on_own_connection,
        url=state.settings.service_database_url("scoring"),
        role=db_role("scoring", state.settings),
        policies=state.policies,
        zone=state.settings.zone,
        event_id=str(event_id),
        position=event.global_position,
        year=year,
        unit_id=unit_id,
        checkpoint=checkpoint,
        items=items,
    )
    return audit_body(event=event, disputes=disputes, replayed=replayed, projected=projected, policies=state.policies)
