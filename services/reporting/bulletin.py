"""The bulletin (通报) of a quarter or a year as data; the renderers lay it out as HTML, xlsx, docx."""

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.labels import (
    CATEGORY_NAMES,
    CHANNEL_NAMES,
    CHANNEL_SHORT,
    LEVEL_NAMES,
    period_name,
    year_to_date,
)
from services.reporting.rankings import NOW, rank_category, unit_rankings
from shared.domain.events import CHANNELS, LEVELS
from shared.domain.periods import Period
from shared.problems import Problem

ISSUER = "区人民政府办公室"
SALUTATION = "各镇（街道）、区直各部门："
_LIVE = "f.global_position <= :asof AND (f.revoked_position IS NULL OR f.revoked_position > :asof)"


def table_headers() -> list[str]:
    """The columns of a ranking table: 排名, 单位, 报送, 采用 (total and by channel), 批示, 扣分, points."""
    return (
        ["排名", "单位", "报送", "采用合计"]
        + [f"采用·{CHANNEL_SHORT[c]}" for c in CHANNELS]
        + ["批示", "扣分", "本期得分", "年度累计得分"]
    )


def grouped_headers() -> tuple[list[tuple[str, int]], list[str]]:
    """The same columns as two header rows for print: (title, columns spanned) over the channels'
    short names; a title spanning one column stands over both rows."""
    return (
        [
            ("排名", 1),
            ("单位", 1),
            ("报送", 1),
            ("采用（条次）", 1 + len(CHANNELS)),
            ("批示", 1),
            ("扣分", 1),
            ("本期得分", 1),
            ("年度累计得分", 1),
        ],
        ["合计"] + [CHANNEL_SHORT[c] for c in CHANNELS],
    )


def table_cells(row: dict[str, Any]) -> list[Any]:
    """One ranking row in the order of `table_headers`."""
    return (
        [row["rank"], row["unit_name"], row["submitted"], row["adopted"]]
        + [row["adopted_by_channel"][c] for c in CHANNELS]
        + [row["endorsements"], row["deduction_points"], row["net_points"], row["year_net_points"]]
    )


def check_period(period: Period) -> None:
    if period.kind not in ("quarter", "year"):
        raise Problem(422, "invalid_period", f"a bulletin covers a quarter or a year, not {period.label}")


def _number(period: Period) -> str:
    """文号: the quarter's number, 5 for the annual bulletin issued after the fourth."""
    issue = (period.first_month - 1) // 3 + 1 if period.kind == "quarter" else 5
    return f"区政办信通〔{period.year}〕{issue}号"


def _issued(period: Period) -> str:
    year, month = (period.year + 1, 1) if period.last_month == 12 else (period.year, period.last_month + 1)
    return f"{year}年{month}月"


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


def _shortfall(row: dict[str, Any]) -> list[str]:
    reasons = []
    if row["submitted"] == 0:
        reasons.append("nothing_submitted")
    target = row["target"]
    if target is not None and row["submitted"] < target["submissions"]:
        reasons.append("submissions_short")
    if target is not None and row["adopted"] < target["adoptions"]:
        reasons.append("adoptions_short")
    return reasons


async def _appendix(conn: AsyncConnection, period: Period, asof: int) -> list[dict[str, Any]]:
    result = await conn.execute(
        text(f"""
        SELECT f.channel, f.item_id, i.title, f.unit_id, u.name AS unit_name
        FROM proj.facts f JOIN proj.items i ON i.item_id = f.item_id LEFT JOIN proj.units u ON u.unit_id = f.unit_id
        WHERE f.fact = 'adopted' AND f.month BETWEEN :first AND :last AND {_LIVE}
        ORDER BY f.global_position"""),
        {"first": period.first, "last": period.last, "asof": asof},
    )
    by_channel: dict[str, list[dict[str, Any]]] = {channel: [] for channel in CHANNELS}
    for row in result:
        by_channel[row.channel].append(
            {"item_id": row.item_id, "title": row.title, "unit_id": row.unit_id, "unit_name": row.unit_name}
        )
    return [
        {"channel": channel, "channel_name": CHANNEL_NAMES[channel], "items": items}
        for channel, items in by_channel.items()
        if items
    ]


def _texts(name: str, totals: dict[str, Any], shortfalls: list[dict[str, Any]]) -> dict[str, str]:
    channels = "、".join(f"{CHANNEL_NAMES[c]}{n}条次" for c, n in totals["adopted_by_channel"].items() if n)
    endorsements = "、".join(f"{LEVEL_NAMES[level]}{totals['endorsements'][level]}次" for level in LEVELS)
    overview = (
        f"{name}，全区{totals['units']}个单位共报送政务信息{totals['submitted']}条，"
        f"被各级刊物采用{totals['adopted']}条次"
        + (f"，其中{channels}" if channels else "")
        + f"；信息获领导批示{sum(totals['endorsements'].values())}次（{endorsements}）。"
    )
    if shortfalls:
        names = "、".join(row["unit_name"] for row in shortfalls)
        shortfall = (
            f"{name}，{names}等{len(shortfalls)}个单位未完成报送或采用目标任务（或未报送信息），"
            "请认真分析原因，明确专人负责，切实加强政务信息工作。"
        )
    else:
        shortfall = f"{name}，各单位均完成报送和采用目标任务。"
    return {
        "salutation": SALUTATION,
        "opening": f"现将{name}全区政务信息报送采用情况通报如下。",
        "overview": overview,
        "shortfall": shortfall,
        "closing": "希望各单位进一步提高认识，加强信息报送工作，不断提高政务信息的质量和时效。",
    }


async def bulletin(
    conn: AsyncConnection,
    *,
    period: Period,
    zone: ZoneInfo,
    policy_version: str,
    position: int,
    as_of: int | None = None,
) -> dict[str, Any]:
    """The bulletin of a quarter or a year, with everything the renderers print."""
    check_period(period)
    asof = NOW if as_of is None else as_of
    everyone = await unit_rankings(conn, period=period, zone=zone, as_of=as_of)
    year_rows = await unit_rankings(conn, period=year_to_date(period), zone=zone, as_of=as_of)
    year_points = {row["unit_id"]: row["net_points"] for row in year_rows}
    categories = []
    for kind, category in CATEGORY_NAMES.items():
        rows = rank_category(everyone, kind)
        if rows:
            categories.append({"kind": kind, "name": category, "rows": [_row(row, year_points) for row in rows]})
    totals = {
        "units": len(everyone),
        "submitted": sum(r["submitted"] for r in everyone),
        "adopted": sum(r["adopted"] for r in everyone),
        "adopted_by_channel": {c: sum(r["adopted_by_channel"][c] for r in everyone) for c in CHANNELS},
        "endorsements": {level: sum(r["endorsements"][level] for r in everyone) for level in LEVELS},
    }
    shortfalls = []
    for row in sorted(everyone, key=lambda r: (list(CATEGORY_NAMES).index(r["kind"]), r["rank"], r["unit_id"])):
        reasons = _shortfall(row)
        if reasons:
            shortfalls.append(
                {
                    "unit_id": row["unit_id"],
                    "unit_name": row["unit_name"],
                    "kind": row["kind"],
                    "category": CATEGORY_NAMES[row["kind"]],
                    "submitted": row["submitted"],
                    "adopted": row["adopted"],
                    "target": row["target"],
                    "reasons": reasons,
                }
            )
    name = period_name(period)
    return {
        "period": period.label,
        "period_name": name,
        "policy_version": policy_version,
        "position": position,
        "title": f"关于{name}政务信息报送采用情况的通报",
        "document_number": _number(period),
        "issuer": ISSUER,
        "issued": _issued(period),
        "channels": [{"channel": c, "name": CHANNEL_NAMES[c]} for c in CHANNELS],
        "totals": totals,
        "text": _texts(name, totals, shortfalls),
        "categories": categories,
        "shortfalls": shortfalls,
        "appendix": await _appendix(conn, period, asof),
    }
