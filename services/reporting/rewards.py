"""Money rewards of a period (半年信息奖励) per unit and per officer, with the lines that carry them."""

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.domain.money import yuan
from shared.domain.periods import Period
from shared.domain.policy import PolicySet
from shared.ledger_line import ledger_entry

NOW = 2**62
# Lines that count at the position and carry money. A revoked line pays nothing, so it is left out:
# a row's `reward_yuan` is always the sum of its `lines`.
_MONEY_LINES = """
SELECT l.event_id, l.global_position, l.occurred_at, l.unit_id, l.officer_id, l.clause, l.reward_clause,
       l.points, l.reward_yuan, l.officer_ids, l.item_id, l.note, l.policy_version,
       u.name AS unit_name, o.name AS officer_name
FROM proj.lines l
LEFT JOIN proj.units u ON u.unit_id = l.unit_id
LEFT JOIN proj.officers o ON o.officer_id = l.officer_id
WHERE l.reward_yuan > 0 AND l.month BETWEEN :first AND :last
  AND l.global_position <= :asof AND (l.revoked_position IS NULL OR l.revoked_position > :asof)
ORDER BY l.global_position, l.seq
"""


def _rows(groups: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Largest reward first, then by id in code-point order."""
    rows = []
    for group in groups.values():
        total = sum((Decimal(line["reward_yuan"]) for line in group["lines"]), Decimal(0))
        rows.append({**group["head"], "reward_yuan": yuan(total), "lines": group["lines"], "_total": total})
    rows.sort(key=lambda row: (-row["_total"], row["officer_id" if "officer_id" in row else "unit_id"]))
    for row in rows:
        del row["_total"]
    return rows


async def rewards(conn: AsyncConnection, *, period: Period, policies: PolicySet, as_of: int | None) -> dict[str, Any]:
    """Every unit and officer with money in the period; `total_yuan` is the units' sum."""
    asof = NOW if as_of is None else as_of
    result = await conn.execute(text(_MONEY_LINES), {"first": period.first, "last": period.last, "asof": asof})
    units: dict[str, dict[str, Any]] = defaultdict(lambda: {"lines": []})
    officers: dict[str, dict[str, Any]] = defaultdict(lambda: {"lines": []})
    for row in result:
        if row.officer_id is None:
            group = units[row.unit_id]
            group["head"] = {"unit_id": row.unit_id, "unit_name": row.unit_name}
        else:
            group = officers[row.officer_id]
            group["head"] = {"officer_id": row.officer_id, "officer_name": row.officer_name, "unit_id": row.unit_id}
        group["lines"].append(ledger_entry(row, policies, revoked_by=None))  # only lines that count
    unit_rows = _rows(units)
    total = sum((Decimal(row["reward_yuan"]) for row in unit_rows), Decimal(0))
    return {"period": period.label, "total_yuan": yuan(total), "units": unit_rows, "officers": _rows(officers)}
