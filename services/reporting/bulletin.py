"""The bulletin (通报) of a quarter or a year as data; the renderers lay it out as HTML, xlsx, docx."""

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.labels import period_name, year_to_date
from services.reporting.office_year import rectifications
from services.reporting.rankings import NOW, rank_category, unit_rankings
from services.reporting.selection import selection
from shared.domain.advice import advice, shortfall_figures
from shared.domain.periods import Period
from shared.domain.policy import Policy, PolicySet
from shared.domain.standing import shortfall_reasons, to_criticize
from shared.problems import Problem

_LIVE = "f.global_position <= :asof AND (f.revoked_position IS NULL OR f.revoked_position > :asof)"


def table_headers(channels: list[dict[str, str]]) -> list[str]:
    """The columns of a ranking table: 排名, 单位, 报送, 采用 (total and by channel), 批示, 扣分, points."""
    return (
        ["排名", "单位", "报送", "采用合计"]
        + [f"采用·{c['short']}" for c in channels]
        + ["批示", "扣分", "本期得分", "年度累计得分"]
    )


def grouped_headers(channels: list[dict[str, str]]) -> tuple[list[tuple[str, int]], list[str]]:
    """The same columns as two header rows for print: (title, columns spanned) over the channels'
    short names; a title spanning one column stands over both rows."""
    return (
        [
            ("排名", 1),
            ("单位", 1),
            ("报送", 1),
            ("采用（条次）", 1 + len(channels)),
            ("批示", 1),
            ("扣分", 1),
            ("本期得分", 1),
            ("年度累计得分", 1),
        ],
        ["合计"] + [c["short"] for c in channels],
    )


def table_cells(row: dict[str, Any], channels: list[dict[str, str]]) -> list[Any]:
    """One ranking row in the order of `table_headers`."""
    return (
        [row["rank"], row["unit_name"], row["submitted"], row["adopted"]]
        + [row["adopted_by_channel"][c["channel"]] for c in channels]
        + [row["endorsements"], row["deduction_points"], row["net_points"], row["year_net_points"]]
    )


def name_grid(names: list[str], per_row: int) -> list[list[str]]:
    """A 表彰名单 as a 表彰通报 prints it: the names in rows of `per_row`, the last row padded with ""."""
    rows = [names[start : start + per_row] for start in range(0, len(names), per_row)]
    return [row + [""] * (per_row - len(row)) for row in rows]


def commended_lists(data: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """The year bulletin's 表彰名单 under （一）（二）: (kind "units" or "officers", heading with the
    count, names); an officer with the unit in brackets. Their figures are in 附件2."""
    units, officers = data["commended"]["units"], data["commended"]["officers"]
    lists = []
    if units:
        lists.append(("units", f"政务信息工作先进单位（{len(units)}个）", [row["unit_name"] or "" for row in units]))
    if officers:
        names = [f"{row['officer_name']}（{row['unit_name'] or row['unit_id']}）" for row in officers]
        lists.append(("officers", f"政务信息工作先进个人（{len(officers)}名）", names))
    return [(kind, f"（{'一二'[index]}）{heading}", names) for index, (kind, heading, names) in enumerate(lists)]


def appendix_titles(data: dict[str, Any]) -> list[str]:
    """The 附件说明 under the body: the adopted items, and for a year the commended's figures."""
    titles = [f"{data['period_name']}采用信息目录"]
    if "commended" in data and (data["commended"]["units"] or data["commended"]["officers"]):
        titles.append(f"{data['period_name']}政务信息工作先进单位和先进个人考评得分")
    return titles


def check_period(period: Period) -> None:
    if period.kind not in ("quarter", "year"):
        raise Problem(422, "invalid_period", f"a bulletin covers a quarter or a year, not {period.label}")


def _number(period: Period, policy: Policy) -> str:
    """文号 from the policy's series: the quarter's number, 5 for the annual bulletin after the fourth."""
    issue = (period.first_month - 1) // 3 + 1 if period.kind == "quarter" else 5
    return policy.document.bulletin.document_number.format(year=period.year, number=issue)


ISSUE_DAY = 10  # 成文日期 with the day: the 10th of the month after the period (the office's usual date)


def _issued(period: Period) -> str:
    year, month = (period.year + 1, 1) if period.last_month == 12 else (period.year, period.last_month + 1)
    return f"{year}年{month}月{ISSUE_DAY}日"


def _row(row: dict[str, Any], year_points: dict[str, int]) -> dict[str, Any]:
    return {
        "rank": row["rank"],
        "unit_id": row["unit_id"],
        "unit_name": row["unit_name"],
        "submitted": row["submitted"],
        "adopted": row["adopted"],
        "adopted_by_channel": row["adopted_by_channel"],
        "endorsements": sum(row["endorsements"].values()),
        "deduction_points": row["deduction_points"],
        "net_points": row["net_points"],
        "year_net_points": year_points.get(row["unit_id"], 0),
        "target": row["target"],
        "target_met": row["target_met"],
    }


async def _appendix(conn: AsyncConnection, period: Period, asof: int, policy: Policy) -> list[dict[str, Any]]:
    result = await conn.execute(
        text(f"""
        SELECT f.channel, f.item_id, i.title, f.unit_id, u.name AS unit_name
        FROM proj.facts f JOIN proj.items i ON i.item_id = f.item_id LEFT JOIN proj.units u ON u.unit_id = f.unit_id
        WHERE f.fact = 'adopted' AND f.month BETWEEN :first AND :last AND {_LIVE}
        ORDER BY f.global_position"""),
        {"first": period.first, "last": period.last, "asof": asof},
    )
    by_channel: dict[str, list[dict[str, Any]]] = {channel: [] for channel in policy.channels}
    for row in result:
        by_channel.setdefault(row.channel, []).append(
            {"item_id": row.item_id, "title": row.title, "unit_id": row.unit_id, "unit_name": row.unit_name}
        )
    return [
        {"channel": channel, "channel_name": policy.channel_names.get(channel, channel), "items": items}
        for channel, items in by_channel.items()
        if items
    ]


def _texts(name: str, totals: dict[str, Any], shortfalls: list[dict[str, Any]], policy: Policy) -> dict[str, str]:
    """The bulletin's sentences, from the policy's templates."""
    texts = policy.document.bulletin.texts
    channels = "、".join(
        f"{policy.channel_names.get(c, c)}{n}条次" for c, n in totals["adopted_by_channel"].items() if n
    )
    levels = "、".join(f"{policy.level_names[level]}{n}次" for level, n in totals["endorsements"].items())
    overview = texts["overview"].format(
        period_name=name,
        units=totals["units"],
        submitted=totals["submitted"],
        adopted=totals["adopted"],
        channels=texts["overview_channels"].format(channels=channels) if channels else "",
        endorsements=sum(totals["endorsements"].values()),
        levels=levels,
    )
    if shortfalls:
        # the table under the sentence lists them all: the sentence names the first ("甲等8个单位")
        names = shortfalls[0]["unit_name"]
        shortfall = texts["shortfall_some"].format(period_name=name, names=names, count=len(shortfalls))
    else:
        shortfall = texts["shortfall_none"].format(period_name=name)
    return {
        "salutation": policy.document.bulletin.salutation,
        "opening": texts["opening"].format(period_name=name),
        "overview": overview,
        "shortfall": shortfall,
        "closing": texts["closing"],
    }


async def bulletin(
    conn: AsyncConnection,
    *,
    period: Period,
    zone: ZoneInfo,
    policies: PolicySet,
    position: int,
    as_of: int | None = None,
    units: int | None = None,
    officers: int | None = None,
) -> dict[str, Any]:
    """The bulletin of a quarter or a year, with everything the renderers print; a year's also carries
    the 表彰通报's lists (`units`/`officers`: how many to commend, default the policy's)."""
    check_period(period)
    policy = policies.for_last_month(period.last)
    asof = NOW if as_of is None else as_of
    everyone = await unit_rankings(conn, period=period, zone=zone, as_of=as_of, policies=policies)
    year_rows = await unit_rankings(conn, period=year_to_date(period), zone=zone, as_of=as_of, policies=policies)
    year_points = {row["unit_id"]: row["net_points"] for row in year_rows}
    categories = []
    kinds = policy.unit_kind_names
    for kind, category in kinds.items():
        rows = rank_category(everyone, kind)
        if rows:
            categories.append({"kind": kind, "name": category, "rows": [_row(row, year_points) for row in rows]})
    totals = {
        "units": len(everyone),
        "submitted": sum(r["submitted"] for r in everyone),
        "adopted": sum(r["adopted"] for r in everyone),
        "adopted_by_channel": {c: sum(r["adopted_by_channel"][c] for r in everyone) for c in policy.channels},
        "endorsements": {level: sum(r["endorsements"][level] for r in everyone) for level in policy.endorsement_levels},
    }
    shortfalls = []
    for row in sorted(everyone, key=lambda r: (list(kinds).index(r["kind"]), r["rank"], r["unit_id"])):
        reasons = shortfall_reasons(row)
        if reasons:
            figures = shortfall_figures(row)
            shortfalls.append(
                {
                    "unit_id": row["unit_id"],
                    "unit_name": row["unit_name"],
                    "kind": row["kind"],
                    "category": kinds[row["kind"]],
                    "submitted": row["submitted"],
                    "target_submissions": figures["target_submissions"],
                    "adopted": row["adopted"],
                    "target_adoptions": figures["target_adoptions"],
                    "advice": advice(reasons, figures, policy.document.bulletin.texts),
                    "target": row["target"],
                    "reasons": reasons,
                }
            )
    name = period_name(period)
    year_end = (
        await _year_end(
            conn, period, everyone, zone=zone, policies=policies, as_of=as_of, units=units, officers=officers
        )
        if period.kind == "year"
        else {}
    )
    return {
        "period": period.label,
        "period_name": name,
        "policy_version": policy.version,
        "position": position,
        "title": f"关于{name}政务信息报送采用情况的通报",
        "document_number": _number(period, policy),
        "issuer": policy.document.bulletin.issuer,
        "issued": _issued(period),
        "channels": [
            {"channel": c, "name": policy.channel_names[c], "short": policy.channel_short[c]} for c in policy.channels
        ],
        "levels": [{"level": level, "name": policy.level_names[level]} for level in policy.endorsement_levels],
        "totals": totals,
        "text": _texts(name, totals, shortfalls, policy),
        "categories": categories,
        "shortfalls": shortfalls,
        "appendix": await _appendix(conn, period, asof, policy),
        **year_end,
    }


async def _year_end(
    conn: AsyncConnection,
    period: Period,
    year_rows: list[dict[str, Any]],
    *,
    zone: ZoneInfo,
    policies: PolicySet,
    as_of: int | None,
    units: int | None,
    officers: int | None,
) -> dict[str, Any]:
    """The 表彰通报's lists (E3–E5): commended units and officers, criticised units, rectification."""
    policy = policies.for_year(period.year)
    chosen = await selection(
        conn, year=period.year, units=units, officers=officers, zone=zone, policies=policies, as_of=as_of
    )
    threshold = policy.thresholds.criticism
    criticized = [
        {"unit_id": r["unit_id"], "unit_name": r["unit_name"], "deduction_points": r["deduction_points"]}
        for r in to_criticize(year_rows, criticism=threshold)
    ]
    plans = await rectifications(conn, year=period.year, zone=zone, policies=policies)
    rectification = [
        {"unit_id": r["unit_id"], "unit_name": r["unit_name"], "status": r["status"]} for r in plans["rows"]
    ]
    names = {r["unit_id"]: r["unit_name"] for r in year_rows}
    commended = {
        "units": chosen["units"]["selected"],
        "officers": [{**r, "unit_name": names.get(r["unit_id"])} for r in chosen["officers"]["selected"]],
    }
    texts = policy.document.bulletin.texts
    say = {}
    if commended["units"] or commended["officers"]:
        # the 表彰名单 under the decision lists every name: the sentence names the first of each
        say["commended"] = texts.get("commended", "").format(
            units=commended["units"][0]["unit_name"] if commended["units"] else "—",
            count=len(commended["units"]),
            officers=commended["officers"][0]["officer_name"] if commended["officers"] else "—",
            officer_count=len(commended["officers"]),
        )
    else:
        say["commended"] = texts.get("commended_none", "")
    for key, rows in (("criticized", criticized), ("rectification", rectification)):
        first = rows[0]["unit_name"] if rows else ""  # the table under it lists them all
        template = texts.get(key if rows else f"{key}_none", "")
        say[key] = template.format(names=first, count=len(rows), threshold=threshold)
    say["hopes"] = texts.get("hopes", "")
    return {
        "commended": commended,
        "criticized": criticized,
        "rectification": rectification,
        "year_text": say,
    }
