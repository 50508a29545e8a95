"""Ledgers of a unit or an officer, read from the projection, optionally as of a log position."""

from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.domain.money import yuan
from shared.domain.periods import Period
from shared.domain.policy import PolicySet
from shared.ledger_line import ledger_entry
from shared.problems import Problem

_LINES = """
SELECT event_id, global_position, occurred_at, clause, reward_clause, points, reward_yuan, officer_ids,
       item_id, note, policy_version,
       CASE WHEN revoked_position <= :asof THEN revoked_by END AS revoked_by
FROM proj.lines
WHERE {subject} AND month BETWEEN :first AND :last AND global_position <= :asof
ORDER BY global_position, seq
"""
NOW = 2**62


async def ledger(
    conn: AsyncConnection,
    *,
    policies: PolicySet,
    period: Period,
    unit_id: str | None = None,
    officer_id: str | None = None,
    as_of: int | None = None,
) -> dict[str, Any]:
    """The ledger of one unit (`unit_id`) or one officer (`officer_id`) for a period."""
    asof = NOW if as_of is None else as_of
    params: dict[str, Any]
    if unit_id is not None:
        known = await conn.execute(
            text("SELECT 1 FROM proj.units WHERE unit_id = :id AND global_position <= :asof"),
            {"id": unit_id, "asof": asof},
        )
        subject, params = "unit_id = :id AND officer_id IS NULL", {"id": unit_id}
        what = f"unit {unit_id}"
    else:
        known = await conn.execute(
            text("SELECT 1 FROM proj.officers WHERE officer_id = :id AND global_position <= :asof"),
            {"id": officer_id, "asof": asof},
        )
        subject, params = "officer_id = :id", {"id": officer_id}
        what = f"officer {officer_id}"
    if known.first() is None:
        raise Problem(404, "not_found", f"{what} is not registered" + ("" if as_of is None else f" as of {as_of}"))
    result = await conn.execute(
        text(_LINES.format(subject=subject)), {**params, "first": period.first, "last": period.last, "asof": asof}
    )
    entries, award, deduction, reward = [], 0, 0, Decimal(0)
    for row in result:
        counts = row.revoked_by is None
        if counts:
            award += max(row.points, 0)
            deduction += max(-row.points, 0)
            reward += row.reward_yuan
        revoked_by = str(row.revoked_by) if row.revoked_by else None
        entries.append(ledger_entry(row, policies, revoked_by=revoked_by))
    body: dict[str, Any] = {"unit_id": unit_id} if unit_id is not None else {"officer_id": officer_id}
    if officer_id is not None:
        owner = await conn.execute(text("SELECT unit_id FROM proj.officers WHERE officer_id = :id"), {"id": officer_id})
        body["unit_id"] = owner.scalar()
    position: int = (await conn.execute(text("SELECT position FROM proj.checkpoint"))).scalar_one()
    body.update(
        {
            "period": period.label,
            "policy_version": policies.for_last_month(period.last).version,
            "position": position if as_of is None else min(as_of, position),
            "net_points": award - deduction,
            "award_points": award,
            "deduction_points": deduction,
            "reward_yuan": yuan(reward),
            "entries": entries,
        }
    )
    return body
