"""The office's year as reporting reads it: solicitations with each asked unit's status, the
rectification list with each unit's plan, and the half-year reward statement (earned, paid, balance).

Reads only the projection (`proj.*`); the rules that made those rows are the domain's.
"""

from collections import defaultdict
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.rankings import unit_rankings
from services.reporting.rewards import rewards
from shared.domain.money import yuan
from shared.domain.periods import parse_period
from shared.domain.policy import PolicySet
from shared.domain.standing import to_rectify

SolicitationStatus = Literal["open", "closed", "all"]


def unit_status(*, closed: bool, answers: list[tuple[str, bool]]) -> str:
    """on_time (an item by the deadline), late (only after it), missing (closed, nothing), pending."""
    if any(on_time for _item, on_time in answers):
        return "on_time"
    if answers:
        return "late"
    return "missing" if closed else "pending"


async def solicitations(conn: AsyncConnection, *, status: SolicitationStatus, unit_id: str | None) -> dict[str, Any]:
    """Every solicitation (deadline order) with its asked units' status; `unit_id` keeps that unit's rows."""
    rows = (
        await conn.execute(
            text(
                "SELECT s.solicitation_id, s.title, s.deadline, s.unit_ids, c.event_id AS close_id, "
                "c.occurred_at AS closed_at FROM proj.solicitations s "
                "LEFT JOIN proj.solicitation_closes c USING (solicitation_id) "
                "ORDER BY s.deadline, s.solicitation_id"
            )
        )
    ).all()
    answers: dict[tuple[str, str], list[tuple[str, bool]]] = defaultdict(list)
    for answer in await conn.execute(
        text(
            "SELECT solicitation_id, unit_id, item_id, on_time FROM proj.solicitation_answers ORDER BY global_position"
        )
    ):
        answers[(answer.solicitation_id, answer.unit_id)].append((answer.item_id, answer.on_time))
    found = []
    for row in rows:
        closed = row.close_id is not None
        if (status == "open" and closed) or (status == "closed" and not closed):
            continue
        asked = [u for u in row.unit_ids if unit_id is None or u == unit_id]
        if unit_id is not None and not asked:
            continue  # a unit key sees the solicitations that asked it
        found.append(
            {
                "solicitation_id": row.solicitation_id,
                "title": row.title,
                "deadline": row.deadline.isoformat(),
                "closed": closed,
                "close_event_id": str(row.close_id) if closed else None,
                "units": [
                    {
                        "unit_id": u,
                        "status": unit_status(closed=closed, answers=answers[(row.solicitation_id, u)]),
                        "item_ids": [item for item, _ in answers[(row.solicitation_id, u)]],
                    }
                    for u in sorted(asked)
                ],
            }
        )
    return {"solicitations": found}


async def rectifications(
    conn: AsyncConnection, *, year: int, zone: ZoneInfo, policies: PolicySet, unit_id: str | None = None
) -> dict[str, Any]:
    """Every unit on the year's rectification list (E5) and every unit that submitted a plan, with where it stands."""
    ranking = await unit_rankings(conn, period=parse_period(f"{year:04d}"), zone=zone, as_of=None, policies=policies)
    names = {row["unit_id"]: row["unit_name"] for row in ranking}
    rows: dict[str, dict[str, Any]] = {
        row["unit_id"]: {"unit_id": row["unit_id"], "unit_name": row["unit_name"], "status": "required", "plan": None}
        for row in to_rectify(ranking)
    }
    for event in await conn.execute(
        text(
            "SELECT r.unit_id, r.status, r.text, r.reference, u.name FROM proj.rectifications r "
            "LEFT JOIN proj.units u USING (unit_id) WHERE r.year = :year ORDER BY r.global_position"
        ),
        {"year": year},
    ):
        row = rows.setdefault(
            event.unit_id, {"unit_id": event.unit_id, "unit_name": names.get(event.unit_id, event.name)}
        )
        row["status"] = event.status
        if event.status == "submitted":
            row["plan"], row["reference"], row["reason"] = event.text, event.reference, None
        else:
            row["reason"] = event.text
    found = []
    for key in sorted(rows):
        if unit_id is not None and key != unit_id:
            continue
        row = rows[key]
        found.append(
            {
                "unit_id": row["unit_id"],
                "unit_name": row["unit_name"],
                "status": row["status"],
                "plan": row.get("plan"),
                "reference": row.get("reference"),
                "reason": row.get("reason"),
            }
        )
    return {"year": year, "rows": found}


async def statement(conn: AsyncConnection, *, period_label: str, policies: PolicySet) -> dict[str, Any]:
    """Per unit: money earned in the half-year as the log stands now, paid for it, the balance, officers' shares."""
    earned = await rewards(conn, period=parse_period(period_label), policies=policies, as_of=None)
    units: dict[str, dict[str, Any]] = {}
    for row in earned["units"]:
        units[row["unit_id"]] = {
            "unit_id": row["unit_id"],
            "unit_name": row["unit_name"],
            "earned": Decimal(row["reward_yuan"]),
            "paid": Decimal(0),
            "payments": [],
        }
    for payment in await conn.execute(
        text(
            "SELECT p.event_id, p.unit_id, p.amount_yuan, p.reference, u.name FROM proj.payments p "
            "LEFT JOIN proj.units u USING (unit_id) WHERE p.period = :period ORDER BY p.global_position"
        ),
        {"period": period_label},
    ):
        row = units.setdefault(
            payment.unit_id,
            {
                "unit_id": payment.unit_id,
                "unit_name": payment.name,
                "earned": Decimal(0),
                "paid": Decimal(0),
                "payments": [],
            },
        )
        row["paid"] += payment.amount_yuan
        row["payments"].append(
            {
                "event_id": str(payment.event_id),
                "amount_yuan": yuan(payment.amount_yuan),
                "reference": payment.reference,
            }
        )
    shares: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for officer in earned["officers"]:
        shares[officer["unit_id"]].append(
            {
                "officer_id": officer["officer_id"],
                "officer_name": officer["officer_name"],
                "share_yuan": officer["reward_yuan"],
            }
        )
    rows = []
    for unit_id in sorted(units):
        row = units[unit_id]
        rows.append(
            {
                "unit_id": unit_id,
                "unit_name": row["unit_name"],
                "earned_yuan": yuan(row["earned"]),
                "paid_yuan": yuan(row["paid"]),
                "balance_yuan": yuan(row["earned"] - row["paid"]),
                "payments": row["payments"],
                "officers": sorted(shares[unit_id], key=lambda o: o["officer_id"]),
            }
        )
    return {
        "period": period_label,
        "total_earned_yuan": yuan(sum((u["earned"] for u in units.values()), Decimal(0))),
        "total_paid_yuan": yuan(sum((u["paid"] for u in units.values()), Decimal(0))),
        "units": rows,
    }
