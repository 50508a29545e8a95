"""Annual selection of 先进单位 / 先进个人, the units to criticise and the rectification list (E3–E5).

The rules are the domain's (shared/domain/standing.py); this module reads the year's rankings.
"""

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.rankings import officer_rankings, unit_rankings
from shared.domain.periods import parse_period
from shared.domain.policy import PolicySet
from shared.domain.standing import (
    officer_exclusion_reasons,
    to_criticize,
    to_rectify,
    top_with_ties,
    unit_exclusion_reasons,
)

UNIT_FIELDS = ("unit_id", "unit_name", "rank", "net_points", "deduction_points")
OFFICER_FIELDS = ("officer_id", "officer_name", "unit_id", "rank", "net_points", "deduction_points")


def _pick(row: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: row[name] for name in fields}


def _split(rows: list[dict[str, Any]], reasons_of, fields: tuple[str, ...], count: int) -> dict[str, Any]:
    eligible, excluded = [], []
    for row in rows:
        reasons = reasons_of(row)
        if reasons:
            excluded.append({**_pick(row, fields), "reasons": reasons})
        else:
            eligible.append(_pick(row, fields))
    return {"selected": top_with_ties(eligible, count), "eligible": eligible, "excluded": excluded}


async def selection(
    conn: AsyncConnection,
    *,
    year: int,
    units: int | None,
    officers: int | None,
    zone: ZoneInfo,
    policies: PolicySet,
    as_of: int | None,
) -> dict[str, Any]:
    """Who may be selected in `year`, who is selected, who is criticised and who must rectify."""
    policy = policies.for_year(year)
    thresholds = policy.thresholds
    period = parse_period(f"{year:04d}")
    unit_rows = await unit_rankings(conn, period=period, zone=zone, as_of=as_of, policies=policies)
    officer_rows = await officer_rankings(conn, period=period, zone=zone, as_of=as_of)
    # The year's ranking `target` is the annual target (standing.period_target over the 12 months).
    unit_target_met = {row["unit_id"]: row["target_met"] for row in unit_rows}
    return {
        "year": year,
        "policy_version": policy.version,
        "thresholds": {"exclusion": thresholds.exclusion, "criticism": thresholds.criticism},
        "units": _split(
            unit_rows,
            lambda row: unit_exclusion_reasons(row, exclusion=thresholds.exclusion),
            UNIT_FIELDS,
            policy.document.selection.units if units is None else units,
        ),
        "officers": _split(
            officer_rows,
            lambda row: officer_exclusion_reasons(
                row, exclusion=thresholds.exclusion, unit_target_met=unit_target_met.get(row["unit_id"])
            ),
            OFFICER_FIELDS,
            policy.document.selection.officers if officers is None else officers,
        ),
        "criticize": [row["unit_id"] for row in to_criticize(unit_rows, criticism=thresholds.criticism)],
        "rectification": [row["unit_id"] for row in to_rectify(unit_rows)],
    }
