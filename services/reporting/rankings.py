"""Unit and officer rankings for a period, from the projection, optionally as of a log position."""

from collections import defaultdict
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.events import CHANNELS, LEVELS
from shared.money import yuan
from shared.periods import Period
from shared.ranks import competition_ranks

NOW = 2**62
_LIVE = "global_position <= :asof AND (revoked_position IS NULL OR revoked_position > :asof)"


def rank_category(rows: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The rows of one unit category ranked among themselves (what `kind=` answers), from a full ranking."""
    return competition_ranks([dict(row) for row in rows if row["kind"] == kind], "net_points", "unit_id")


async def projection_position(conn: AsyncConnection) -> int:
    return (await conn.execute(text("SELECT position FROM proj.checkpoint"))).scalar_one()


async def _points(conn, period: Period, asof: int, *, officers: bool) -> dict[str, dict[str, Any]]:
    subject = "officer_id" if officers else "unit_id"
    where = "officer_id IS NOT NULL" if officers else "officer_id IS NULL"
    result = await conn.execute(text(f"""
        SELECT {subject} AS id,
               coalesce(sum(points) FILTER (WHERE points > 0), 0) AS award,
               coalesce(sum(-points) FILTER (WHERE points < 0), 0) AS deduction,
               coalesce(sum(reward_yuan), 0) AS reward
        FROM proj.lines
        WHERE {where} AND month BETWEEN :first AND :last AND {_LIVE}
        GROUP BY {subject}"""), {"first": period.first, "last": period.last, "asof": asof})
    return {row.id: {"award": int(row.award), "deduction": int(row.deduction), "reward": row.reward} for row in result}


async def _targets(conn, period: Period, asof: int) -> dict[str, dict[str, int] | None]:
    """Each unit's summed targets over the period's months (month target, else the yearly default)."""
    result = await conn.execute(text("""
        SELECT DISTINCT ON (unit_id, month) unit_id, month, submissions, adoptions
        FROM proj.targets WHERE year = :year AND global_position <= :asof
        ORDER BY unit_id, month, global_position DESC"""), {"year": period.year, "asof": asof})
    slots: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)
    for row in result:
        slots[row.unit_id][row.month] = (row.submissions, row.adoptions)
    sums: dict[str, dict[str, int] | None] = {}
    for unit_id, by_month in slots.items():
        chosen = [by_month.get(m, by_month.get(0)) for m in period.months]
        chosen = [c for c in chosen if c is not None]
        sums[unit_id] = ({"submissions": sum(c[0] for c in chosen), "adoptions": sum(c[1] for c in chosen)}
                         if chosen else None)
    return sums


async def unit_rankings(conn: AsyncConnection, *, period: Period, zone: ZoneInfo, as_of: int | None,
                        kind: str | None = None) -> list[dict[str, Any]]:
    """Every unit that belongs in the period's ranking, ranked by net points."""
    asof = NOW if as_of is None else as_of
    points = await _points(conn, period, asof, officers=False)
    units = await conn.execute(text("""
        SELECT unit_id, name, kind, occurred_at < :end AS registered_in_time FROM proj.units
        WHERE global_position <= :asof"""), {"end": period.end(zone), "asof": asof})
    counts: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "submitted": 0, "adopted": 0, "by_channel": dict.fromkeys(CHANNELS, 0), "endorsements": dict.fromkeys(LEVELS, 0)})
    facts = await conn.execute(text(f"""
        SELECT unit_id, fact, channel, count(*) AS n FROM proj.facts
        WHERE month BETWEEN :first AND :last AND {_LIVE}
        GROUP BY unit_id, fact, channel"""), {"first": period.first, "last": period.last, "asof": asof})
    for row in facts:
        tally = counts[row.unit_id]
        if row.fact == "submitted":
            tally["submitted"] += row.n
        elif row.fact == "adopted":
            tally["adopted"] += row.n
            tally["by_channel"][row.channel] += row.n
        else:
            tally["endorsements"][row.channel] += row.n
    targets = await _targets(conn, period, asof)
    rows = []
    for unit in units:
        if kind is not None and unit.kind != kind:
            continue
        if not unit.registered_in_time and unit.unit_id not in points:
            continue
        score = points.get(unit.unit_id, {"award": 0, "deduction": 0, "reward": Decimal(0)})
        tally = counts[unit.unit_id]
        target = targets.get(unit.unit_id)
        met = (None if target is None else
               tally["submitted"] >= target["submissions"] and tally["adopted"] >= target["adoptions"])
        rows.append({
            "unit_id": unit.unit_id, "unit_name": unit.name, "kind": unit.kind,
            "net_points": score["award"] - score["deduction"], "award_points": score["award"],
            "deduction_points": score["deduction"], "reward_yuan": yuan(score["reward"]),
            "submitted": tally["submitted"], "adopted": tally["adopted"], "adopted_by_channel": tally["by_channel"],
            "endorsements": tally["endorsements"], "target": target, "target_met": met,
        })
    return competition_ranks(rows, "net_points", "unit_id")


async def officer_rankings(conn: AsyncConnection, *, period: Period, zone: ZoneInfo,
                           as_of: int | None) -> list[dict[str, Any]]:
    """Every officer that belongs in the period's ranking, ranked by net points."""
    asof = NOW if as_of is None else as_of
    points = await _points(conn, period, asof, officers=True)
    officers = await conn.execute(text("""
        SELECT officer_id, name, unit_id, occurred_at < :end AS registered_in_time FROM proj.officers
        WHERE global_position <= :asof"""), {"end": period.end(zone), "asof": asof})
    adopted = await conn.execute(text(f"""
        SELECT officer_id, count(*) AS n FROM proj.facts, unnest(officer_ids) AS officer_id
        WHERE fact = 'adopted' AND month BETWEEN :first AND :last AND {_LIVE}
        GROUP BY officer_id"""), {"first": period.first, "last": period.last, "asof": asof})
    adopted_by = {row.officer_id: row.n for row in adopted}
    rows = []
    for officer in officers:
        if not officer.registered_in_time and officer.officer_id not in points:
            continue
        score = points.get(officer.officer_id, {"award": 0, "deduction": 0, "reward": Decimal(0)})
        rows.append({
            "officer_id": officer.officer_id, "officer_name": officer.name, "unit_id": officer.unit_id,
            "net_points": score["award"] - score["deduction"], "award_points": score["award"],
            "deduction_points": score["deduction"], "reward_yuan": yuan(score["reward"]),
            "adopted": adopted_by.get(officer.officer_id, 0),
        })
    return competition_ranks(rows, "net_points", "officer_id")
