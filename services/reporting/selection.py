"""Annual selection of 先进单位 / 先进个人, the units to criticise and the rectification list (E3–E5)."""

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.rankings import officer_rankings, unit_rankings
from shared.domain.periods import parse_period
from shared.domain.policy import Policy

UNIT_FIELDS = ("unit_id", "unit_name", "rank", "net_points", "deduction_points")
OFFICER_FIELDS = ("officer_id", "officer_name", "unit_id", "rank", "net_points", "deduction_points")


def top_with_ties(eligible: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The first `count` rows (already ranked) plus every row tied with the last of them."""
    if count <= 0 or not eligible:
        return []
    if len(eligible) <= count:
        return list(eligible)
    cut = eligible[count - 1]["net_points"]
    return [row for row in eligible if row["net_points"] >= cut]


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
    conn: AsyncConnection, *, year: int, units: int, officers: int, zone: ZoneInfo, policy: Policy, as_of: int | None
) -> dict[str, Any]:
    """Who may be selected in `year`, who is selected, who is criticised and who must rectify."""
    thresholds = policy.document.thresholds
    period = parse_period(f"{year:04d}")
    unit_rows = await unit_rankings(conn, period=period, zone=zone, as_of=as_of)
    officer_rows = await officer_rankings(conn, period=period, zone=zone, as_of=as_of)
    # The year's ranking `target` is already the annual target: every month's own target, else the
    # year's default, summed; None when no month of the year has one.
    unit_target_met = {row["unit_id"]: row["target_met"] for row in unit_rows}

    def unit_reasons(row: dict[str, Any]) -> list[str]:
        reasons = []
        if row["deduction_points"] >= thresholds.exclusion:
            reasons.append("deductions_at_least_100")
        if row["target"] is None:
            reasons.append("no_annual_target")
        elif not row["target_met"]:
            reasons.append("annual_target_missed")
        return reasons

    def officer_reasons(row: dict[str, Any]) -> list[str]:
        reasons = []
        if row["deduction_points"] >= thresholds.exclusion:
            reasons.append("deductions_at_least_100")
        if unit_target_met.get(row["unit_id"]) is not True:
            reasons.append("unit_annual_target_missed")
        return reasons

    return {
        "year": year,
        "policy_version": policy.version,
        "thresholds": {"exclusion": thresholds.exclusion, "criticism": thresholds.criticism},
        "units": _split(unit_rows, unit_reasons, UNIT_FIELDS, units),
        "officers": _split(officer_rows, officer_reasons, OFFICER_FIELDS, officers),
        "criticize": [row["unit_id"] for row in unit_rows if row["deduction_points"] >= thresholds.criticism],
        "rectification": [row["unit_id"] for row in unit_rows if row["target"] is not None and not row["target_met"]],
    }
