"""What-if: every unit's points and rank under the current policies and under a proposed policy.

One pass over the log, each event folded twice with `fold.apply` (the projector's own function):
once under the current PolicySet, once under the proposed policy alone. Only per-unit totals of
the period are kept, plus each scoring event's contribution so a later revocation can take it
back; nothing is stored.
"""

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from services.scoring.fold_pool import FoldPool
from services.scoring.log_reader import stream_log
from shared.db import connect_raw
from shared.domain.evolve import FoldError, FoldState, Outcome, evolve
from shared.domain.periods import Period
from shared.domain.policy import Policy, PolicyError, PolicySet, parse_policy
from shared.domain.ranks import competition_ranks
from shared.domain.standing import is_ranked
from shared.problems import Problem, validation_errors
from shared.service import ServiceState, db_role


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
    """Each unit's net points in a period, fed with the fold's outcomes in log order."""

    period: Period
    by_event: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    revoked: set[tuple[str, str | None]] = field(default_factory=set)  # (event, unit or None = every unit)

    def feed(self, outcome: Outcome) -> None:
        for line in outcome.lines:
            if line.officer_id is None and self.period.contains(line.month):
                self.by_event.setdefault(line.event_id, []).append((line.unit_id, line.points))
        for revocation in outcome.revocations:
            self.revoked.add((revocation.target_event_id, revocation.unit_id))

    def points(self) -> dict[str, int]:
        """Net points of every unit with a line that counts in the period."""
        totals: dict[str, int] = {}
        for event_id, contributions in self.by_event.items():
            if (event_id, None) in self.revoked:
                continue
            for unit_id, points in contributions:
                if (event_id, unit_id) in self.revoked:
                    continue
                totals[unit_id] = totals.get(unit_id, 0) + points
        return totals


async def compare(raw_conn, *, policies: PolicySet, proposed: Policy, period: Period, zone: ZoneInfo) -> dict[str, Any]:
    """Fold the whole log under both policies and put the period's points and ranks side by side."""
    alone = PolicySet([proposed], zone)
    current_state, proposed_state = FoldState(), FoldState()
    current, changed = PeriodPoints(period), PeriodPoints(period)
    units: dict[str, tuple[str, datetime]] = {}
    position = 0
    async for events in stream_log(raw_conn, zone=zone):
        for event in events:
            current_state, outcome = evolve(current_state, event, policies)
            current.feed(outcome)
            for table, values in outcome.rows:
                if table == "units":
                    units[values[0]] = (values[1], values[3])
            try:
                proposed_state, outcome = evolve(proposed_state, event, alone)
            except FoldError as exc:
                raise Problem(422, "invalid_policy", f"the proposed policy cannot score the log: {exc}") from exc
            changed.feed(outcome)
            position = event.position
        await asyncio.sleep(0)  # the fold is CPU work: let the projector and other requests run
    before, after = current.points(), changed.points()
    end = period.end(zone)
    rows: list[dict[str, Any]] = [
        {
            "unit_id": unit_id,
            "unit_name": name,
            "current_points": before.get(unit_id, 0),
            "proposed_points": after.get(unit_id, 0),
        }
        for unit_id, (name, registered) in units.items()
        if is_ranked(registered, end, unit_id in before or unit_id in after)
    ]
    for row in rows:
        row["change"] = row["proposed_points"] - row["current_points"]
    competition_ranks(rows, "current_points", "unit_id", rank_field="current_rank")
    competition_ranks(rows, "proposed_points", "unit_id", rank_field="proposed_rank")
    return {
        "period": period.label,
        "position": position,
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
    raw = await connect_raw(url, role=role)
    try:
        return await compare(raw, policies=policies, proposed=proposed, period=period, zone=zone)
    finally:
        await raw.close()
