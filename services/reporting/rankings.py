"""Unit and officer rankings for a period, from the projection, optionally as of a log position."""

from collections import defaultdict
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.domain.money import yuan
from shared.domain.periods import Period
from shared.domain.policy import PolicySet
from shared.domain.ranks import competition_ranks
from shared.domain.standing import is_ranked, latest_targets, period_target, target_met

NOW = 2**62
_LIVE = "global_position <= :asof AND (revoked_position IS NULL OR revoked_position > :asof)"


def rank_category(rows: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The rows of one unit category ranked among themselves (what `kind=` answers), from a full ranking."""
    return competition_ranks([dict(row) for row in rows if row["kind"] == kind], "net_points", "unit_id")


async def projection_position(conn: AsyncConnection) -> int:
    return (await conn.execute(text("SELECT position FROM proj.checkpoint"))).scalar_one()


Measures = dict[str, dict[str, Decimal]]  # subject -> measure -> value (see the projection's `totals`)


async def _measures(conn, period: Period, asof: int, *, officers: bool) -> Measures:
    """Each unit's (or officer's) sums over the period: from the running totals for "now", else
    recomputed from the lines and facts as they stood at `asof`. Both give the same measures."""
    found: Measures = defaultdict(lambda: defaultdict(Decimal))
    params = {"first": period.first, "last": period.last, "asof": asof, "kind": "o" if officers else "u"}
    if asof == NOW:
        result = await conn.execute(
            text("""
            SELECT subject, measure, sum(value) AS value FROM proj.totals
            WHERE kind = :kind AND month BETWEEN :first AND :last GROUP BY subject, measure"""),
            params,
        )
        for row in result:
            found[row.subject][row.measure] = row.value
        return found
    subject = "officer_id" if officers else "unit_id"
    result = await conn.execute(
        text(f"""
        SELECT {subject} AS subject, count(*) AS lines,
               coalesce(sum(points) FILTER (WHERE points > 0), 0) AS award,
               coalesce(sum(-points) FILTER (WHERE points < 0), 0) AS deduction,
               coalesce(sum(reward_yuan), 0) AS reward
        FROM proj.lines
        WHERE (officer_id IS NOT NULL) = (:kind = 'o') AND month BETWEEN :first AND :last AND {_LIVE}
        GROUP BY {subject}"""),
        params,
    )
    for row in result:
        found[row.subject].update(lines=row.lines, award=row.award, deduction=row.deduction, reward=row.reward)
    if officers:
        facts = await conn.execute(
            text(f"""
            SELECT officer_id AS subject, 'adopted' AS measure, count(*) AS n
            FROM proj.facts, unnest(officer_ids) AS officer_id
            WHERE fact = 'adopted' AND month BETWEEN :first AND :last AND {_LIVE}
            GROUP BY officer_id"""),
            params,
        )
    else:
        facts = await conn.execute(
            text(f"""
            SELECT unit_id AS subject, CASE fact WHEN 'endorsed' THEN 'endorsed:' || channel
                                                 WHEN 'adopted' THEN 'adopted:' || channel ELSE fact END AS measure,
                   count(*) AS n
            FROM proj.facts WHERE month BETWEEN :first AND :last AND {_LIVE}
            GROUP BY 1, 2"""),
            params,
        )
    for row in facts:
        found[row.subject][row.measure] += row.n
        if row.measure.startswith("adopted:"):
            found[row.subject]["adopted"] += row.n
    return found


def _score(measures: dict[str, Decimal]) -> dict[str, Any]:
    award, deduction = int(measures.get("award", 0)), int(measures.get("deduction", 0))
    return {
        "net_points": award - deduction,
        "award_points": award,
        "deduction_points": deduction,
        "reward_yuan": yuan(measures.get("reward", 0)),
    }


async def _targets(conn, period: Period, asof: int) -> dict[str, dict[str, int] | None]:
    """Each unit's target for the period, from the year's `unit.target-set` records in log order."""
    result = await conn.execute(
        text("""
        SELECT unit_id, year, month, submissions, adoptions FROM proj.targets
        WHERE year = :year AND global_position <= :asof ORDER BY global_position"""),
        {"year": period.year, "asof": asof},
    )
    slots = latest_targets(tuple(row) for row in result)
    units = {unit_id for unit_id, _year, _month in slots}
    return {unit_id: period_target(slots, unit_id, period.year, period.months) for unit_id in units}


async def unit_rankings(
    conn: AsyncConnection,
    *,
    period: Period,
    zone: ZoneInfo,
    as_of: int | None,
    policies: PolicySet,
    kind: str | None = None,
) -> list[dict[str, Any]]:
    """Every unit that belongs in the period's ranking, ranked by net points."""
    asof = NOW if as_of is None else as_of
    measures = await _measures(conn, period, asof, officers=False)
    units = await conn.execute(
        text("""
        SELECT unit_id, name, kind, occurred_at FROM proj.units
        WHERE global_position <= :asof"""),
        {"asof": asof},
    )
    targets = await _targets(conn, period, asof)
    policy = policies.for_last_month(period.last)
    end = period.end(zone)
    rows = []
    for unit in units:
        if kind is not None and unit.kind != kind:
            continue
        m = measures.get(unit.unit_id, {})
        if not is_ranked(unit.occurred_at, end, bool(m.get("lines"))):
            continue
        submitted, adopted = int(m.get("submitted", 0)), int(m.get("adopted", 0))
        target = targets.get(unit.unit_id)
        rows.append(
            {
                "unit_id": unit.unit_id,
                "unit_name": unit.name,
                "kind": unit.kind,
                **_score(m),
                "submitted": submitted,
                "adopted": adopted,
                "adopted_by_channel": {channel: int(m.get(f"adopted:{channel}", 0)) for channel in policy.channels},
                "endorsements": {level: int(m.get(f"endorsed:{level}", 0)) for level in policy.endorsement_levels},
                "target": target,
                "target_met": target_met(submitted, adopted, target),
            }
        )
    return competition_ranks(rows, "net_points", "unit_id")


async def officer_rankings(
    conn: AsyncConnection, *, period: Period, zone: ZoneInfo, as_of: int | None
) -> list[dict[str, Any]]:
    """Every officer that belongs in the period's ranking, ranked by net points."""
    asof = NOW if as_of is None else as_of
    measures = await _measures(conn, period, asof, officers=True)
    officers = await conn.execute(
        text("""
        SELECT officer_id, name, unit_id, occurred_at FROM proj.officers
        WHERE global_position <= :asof"""),
        {"asof": asof},
    )
    end = period.end(zone)
    rows = []
    for officer in officers:
        m = measures.get(officer.officer_id, {})
        if not is_ranked(officer.occurred_at, end, bool(m.get("lines"))):
            continue
        rows.append(
            {
                "officer_id": officer.officer_id,
                "officer_name": officer.name,
                "unit_id": officer.unit_id,
                **_score(m),
                "adopted": int(m.get("adopted", 0)),
            }
        )
    return competition_ranks(rows, "net_points", "officer_id")


async def unit_ranking_answer(
    conn: AsyncConnection,
    *,
    period: Period,
    zone: ZoneInfo,
    policies: PolicySet,
    kind: str | None = None,
    as_of: int | None = None,
) -> dict[str, Any]:
    """The body of GET /v1/rankings/units (and of each event of its stream)."""
    head = await projection_position(conn)
    rows = await unit_rankings(conn, period=period, zone=zone, as_of=as_of, policies=policies, kind=kind)
    return {
        "period": period.label,
        "policy_version": policies.for_last_month(period.last).version,
        "position": head if as_of is None else min(as_of, head),
        "kind": kind,
        "rows": rows,
    }
