"""The wall-screen dashboard: which periods it shows, the JSON it polls, and the page around it."""

from datetime import datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.labels import period_name
from services.reporting.office_year import solicitations
from services.reporting.rankings import officer_rankings, rank_category, unit_rankings
from shared.domain.periods import Period, month_key, parse_period
from shared.domain.policy import PolicySet
from shared.problems import Problem

TITLE = "政务信息工作考核"
OFFICERS_SHOWN = 10
SOLICITATIONS_SHOWN = 6


def quarter_of(year: int, month: int) -> Period:
    return parse_period(f"{year:04d}-Q{(month - 1) // 3 + 1}")


async def _latest_month(conn: AsyncConnection, *, year: int | None = None) -> int | None:
    where = "" if year is None else "WHERE month BETWEEN :first AND :last"
    params = {} if year is None else {"first": year * 100 + 1, "last": year * 100 + 12}
    found = await conn.execute(
        text(f"""
        SELECT max(month) FROM (SELECT month FROM proj.facts {where} UNION ALL SELECT month FROM proj.lines {where}) m
        """),
        params,
    )
    return found.scalar()


async def choose_periods(
    conn: AsyncConnection, *, requested: Period | None, zone: ZoneInfo, now: datetime
) -> tuple[Period, Period, str]:
    """(quarter, year, why): the requested quarter or year, else now's quarter in the district's zone —
    unless nothing at all happened this year, then the latest quarter that has data (an imported history
    or the demo is still worth a look)."""
    if requested is not None:
        if requested.kind == "quarter":
            return requested, parse_period(str(requested.year)), "requested"
        if requested.kind != "year":
            raise Problem(422, "invalid_period", f"the dashboard shows a quarter or a year, not {requested.label}")
        latest = await _latest_month(conn, year=requested.year)
        month = 12 if latest is None else latest % 100
        return quarter_of(requested.year, month), requested, "requested"
    current = month_key(now, zone)
    if await _latest_month(conn, year=current // 100) is None:
        latest = await _latest_month(conn)
        if latest is not None:
            quarter = quarter_of(latest // 100, latest % 100)
            return quarter, parse_period(str(quarter.year)), "latest_data"
    quarter = quarter_of(current // 100, current % 100)
    return quarter, parse_period(str(quarter.year)), "now"


def _board(
    period: Period, rows: list[dict[str, Any]], per_kind: dict[str, list[dict[str, Any]]], policies: PolicySet
) -> dict[str, Any]:
    policy = policies.for_last_month(period.last)
    short = ("rank", "unit_id", "unit_name", "kind", "net_points", "submitted", "adopted", "deduction_points")
    return {
        "period": period.label,
        "name": period_name(period),
        "totals": {
            "units": len(rows),
            "submitted": sum(r["submitted"] for r in rows),
            "adopted": sum(r["adopted"] for r in rows),
            "endorsements": sum(sum(r["endorsements"].values()) for r in rows),
            "adopted_by_channel": {c: sum(r["adopted_by_channel"][c] for r in rows) for c in policy.channels},
            "endorsements_by_level": {lv: sum(r["endorsements"][lv] for r in rows) for lv in policy.endorsement_levels},
        },
        "categories": [
            {"kind": kind, "name": name, "rows": [{k: row[k] for k in short} for row in per_kind[kind]]}
            for kind, name in policy.unit_kind_names.items()
            if per_kind[kind]
        ],
        "overall": [{k: row[k] for k in short} for row in rows],
    }


async def _unit_board(conn: AsyncConnection, period: Period, zone: ZoneInfo, policies: PolicySet) -> dict[str, Any]:
    rows = await unit_rankings(conn, period=period, zone=zone, as_of=None, policies=policies)
    per_kind = {kind: rank_category(rows, kind) for kind in policies.for_last_month(period.last).unit_kind_names}
    return _board(period, rows, per_kind, policies)


async def open_solicitations(conn: AsyncConnection, *, zone: ZoneInfo) -> list[dict[str, Any]]:
    """The 约稿 still open, soonest deadline first: counts only, since the wall may be public — which
    unit has not answered is for `GET /v1/solicitations`. The page counts down to `deadline` itself
    (the JSON only changes when the projection moves, so "overdue" is the screen's to tell)."""
    found = (await solicitations(conn, status="open", unit_id=None))["solicitations"]
    shown = []
    for row in found[:SOLICITATIONS_SHOWN]:
        local = datetime.fromisoformat(row["deadline"]).astimezone(zone)
        shown.append(
            {
                "solicitation_id": row["solicitation_id"],
                "title": row["title"],
                "deadline": row["deadline"],
                "deadline_local": f"{local.month}月{local.day}日 {local:%H:%M}",
                "asked": len(row["units"]),
                "answered": sum(u["status"] != "pending" for u in row["units"]),
            }
        )
    return shown


async def dashboard_data(
    conn: AsyncConnection, *, quarter: Period, year: Period, why: str, zone: ZoneInfo, policies: PolicySet
) -> dict[str, Any]:
    """Everything the page shows: both rankings by category, the officers' top list, the open 约稿, the update time."""
    quarter_board = await _unit_board(conn, quarter, zone, policies)
    year_board = await _unit_board(conn, year, zone, policies)
    names = {row["unit_id"]: row["unit_name"] for row in year_board["overall"]}
    officers = await officer_rankings(conn, period=year, zone=zone, as_of=None)
    checkpoint = (await conn.execute(text("SELECT position, updated_at FROM proj.checkpoint"))).one()
    return {
        "title": TITLE,
        "chosen_by": why,
        "policy_version": policies.for_last_month(year.last).version,
        "position": checkpoint.position,
        "updated_at": checkpoint.updated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
        "quarter": quarter_board,
        "year": year_board,
        "solicitations": await open_solicitations(conn, zone=zone),
        "officers": {
            "period": year.label,
            "name": period_name(year),
            "rows": [
                {
                    "rank": row["rank"],
                    "officer_id": row["officer_id"],
                    "officer_name": row["officer_name"],
                    "unit_name": names.get(row["unit_id"], row["unit_id"]),
                    "net_points": row["net_points"],
                    "adopted": row["adopted"],
                }
                for row in officers[:OFFICERS_SHOWN]
            ],
        },
    }


def static_asset(name: str) -> bytes:
    return resources.files("services.reporting").joinpath("static", name).read_bytes()


def render_page(data: dict[str, Any] | None, *, endpoint: str, refresh_seconds: int, timezone: str) -> bytes:
    """The page with its first answer inline (no blank screen while the first poll runs); with None,
    the page of a browser not yet signed in (its script signs in, then polls)."""

    # "<" escaped inside the JSON so no title can close the <script> element it sits in.
    def inline(value: Any) -> str:
        return orjson.dumps(value).decode().replace("<", "\\u003c")

    config = {"endpoint": endpoint, "refresh_seconds": refresh_seconds, "timezone": timezone}
    page = static_asset("dashboard.html").decode("utf-8")
    return (
        page.replace("__TITLE__", TITLE).replace("__CONFIG__", inline(config)).replace("__DATA__", inline(data))
    ).encode("utf-8")
