"""Routes of the reporting service: rankings, selection, rewards, bulletins and the dashboard."""

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from services.reporting.bulletin import bulletin, check_period
from services.reporting.bulletin_render_docx import render_docx
from services.reporting.bulletin_render_html import render_html
from services.reporting.bulletin_render_xlsx import render_xlsx
from services.reporting.caching import conditional_answer, json_bytes, static_answer
from services.reporting.dashboard import choose_periods, dashboard_data, quarter_of, render_page, static_asset
from services.reporting.labels import period_name
from services.reporting.rankings import officer_rankings, projection_position, unit_rankings
from services.reporting.rewards import rewards
from services.reporting.schemas import Bulletin, OfficerRanking, Rewards, Selection, UnitRanking
from services.reporting.selection import selection
from shared.asof import resolve_position
from shared.auth import Principal, reader_or_none, require
from shared.domain.periods import BadPeriod, Period, month_key, parse_period
from shared.params import AsOf, AsOfPosition, PeriodParam
from shared.problems import Problem
from shared.service import StateDep

router = APIRouter(prefix="/v1", tags=["rankings"])
RankingReader = Annotated[Principal, require("read_rankings", public=True)]
CONDITIONAL = {304: {"description": "Not modified: the `If-None-Match` ETag is current"}}


@router.get("/rankings/units", response_model=UnitRanking, responses=CONDITIONAL, summary="Units ranked by net points")
async def rank_units(
    request: Request,
    period: PeriodParam,
    state: StateDep,
    _principal: RankingReader,
    kind: Annotated[Literal["department", "township", "other"] | None, Query()] = None,
    as_of_position: AsOfPosition = None,
    as_of: AsOf = None,
) -> Response:
    """Every unit of the period with points, money, activity and targets; `kind` ranks one category."""

    async def render(conn):
        position = await resolve_position(conn, as_of_position=as_of_position, as_of=as_of)
        head = await projection_position(conn)
        rows = await unit_rankings(conn, period=period, zone=state.settings.zone, as_of=position, kind=kind)
        return json_bytes(
            {
                "period": period.label,
                "policy_version": state.policies.current.version,
                "position": head if position is None else min(position, head),
                "kind": kind,
                "rows": rows,
            }
        )

    return await conditional_answer(request, render)


@router.get(
    "/rankings/officers", response_model=OfficerRanking, responses=CONDITIONAL, summary="Officers ranked by net points"
)
async def rank_officers(
    request: Request,
    period: PeriodParam,
    state: StateDep,
    _principal: RankingReader,
    as_of_position: AsOfPosition = None,
    as_of: AsOf = None,
) -> Response:
    """Every officer of the period: full points of items they wrote, deductions naming them, money shares."""

    async def render(conn):
        position = await resolve_position(conn, as_of_position=as_of_position, as_of=as_of)
        head = await projection_position(conn)
        rows = await officer_rankings(conn, period=period, zone=state.settings.zone, as_of=position)
        return json_bytes(
            {
                "period": period.label,
                "policy_version": state.policies.current.version,
                "position": head if position is None else min(position, head),
                "rows": rows,
            }
        )

    return await conditional_answer(request, render)


# --- selection, rewards, bulletins -----------------------------------------------------------------

ReportReader = Annotated[Principal, require("read_reports")]
PublicReportReader = Annotated[Principal, require("read_reports", public=True)]
BULLETIN_TYPES = {
    "json": ("application/json", "inline"),
    "html": ("text/html; charset=utf-8", "inline"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "attachment"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "attachment"),
}
RENDERERS = {"html": render_html, "xlsx": render_xlsx, "docx": render_docx}


@router.get(
    "/selection/{year}",
    response_model=Selection,
    responses=CONDITIONAL,
    tags=["selection"],
    summary="Annual selection of 先进单位 and 先进个人 (E3–E5)",
)
async def select(
    request: Request,
    year: Annotated[int, Path(ge=2000, le=2100)],
    state: StateDep,
    _principal: ReportReader,
    units: Annotated[int, Query(ge=0, le=10_000, description="How many units to select")] = 10,
    officers: Annotated[int, Query(ge=0, le=10_000, description="How many officers to select")] = 10,
    as_of_position: AsOfPosition = None,
    as_of: AsOf = None,
) -> Response:
    """Eligible, selected (ties at the cut line all selected) and excluded units and officers with every
    reason; the units to criticise and those that must write a rectification plan."""

    async def render(conn):
        position = await resolve_position(conn, as_of_position=as_of_position, as_of=as_of)
        policy = state.policies.at(datetime(year, 12, 31, 12, tzinfo=state.settings.zone))
        body = await selection(
            conn, year=year, units=units, officers=officers, zone=state.settings.zone, policy=policy, as_of=position
        )
        head = await projection_position(conn)
        return json_bytes({**body, "position": head if position is None else min(position, head)})

    return await conditional_answer(request, render)


@router.get(
    "/rewards",
    response_model=Rewards,
    responses=CONDITIONAL,
    tags=["rewards"],
    summary="Money rewards of a period per unit and per officer",
)
async def list_rewards(
    request: Request,
    period: PeriodParam,
    state: StateDep,
    _principal: ReportReader,
    as_of_position: AsOfPosition = None,
    as_of: AsOf = None,
) -> Response:
    """Rows with money only, each with the ledger lines that carry it; `total_yuan` sums the units."""

    async def render(conn):
        position = await resolve_position(conn, as_of_position=as_of_position, as_of=as_of)
        return json_bytes(await rewards(conn, period=period, policies=state.policies, as_of=position))

    return await conditional_answer(request, render)


async def _bulletin_period(period: Annotated[str, Path(description="2026-Q1 … 2026-Q4 or 2026")]) -> Period:
    try:
        parsed = parse_period(period)
    except BadPeriod as exc:
        raise Problem(422, "invalid_period", str(exc)) from exc
    check_period(parsed)
    return parsed


@router.get(
    "/bulletins/{period}",
    response_model=Bulletin,
    responses={**CONDITIONAL, 200: {"content": {kind: {} for kind, _ in BULLETIN_TYPES.values()}}},
    tags=["bulletins"],
    summary="The bulletin (通报) of a quarter or a year",
)
async def get_bulletin(
    request: Request,
    period: Annotated[Period, Depends(_bulletin_period)],
    state: StateDep,
    _principal: PublicReportReader,
    fmt: Annotated[Literal["json", "html", "xlsx", "docx"], Query(alias="format")] = "json",
) -> Response:
    """Totals, one ranking table per unit category, the units short of target and the adopted titles,
    as JSON, a printable HTML page, an Excel workbook or a Word document."""
    media_type, disposition = BULLETIN_TYPES[fmt]
    filename = f"kaohe-bulletin-{period.label}.{fmt}"
    local_name = quote(f"关于{period_name(period)}政务信息报送采用情况的通报.{fmt}")
    headers = {"Content-Disposition": f"{disposition}; filename=\"{filename}\"; filename*=UTF-8''{local_name}"}

    async def render(conn):
        data = await bulletin(
            conn,
            period=period,
            zone=state.settings.zone,
            policy_version=state.policies.current.version,
            position=await projection_position(conn),
        )
        if fmt == "json":
            return json_bytes(data)
        return await asyncio.to_thread(RENDERERS[fmt], data), media_type

    return await conditional_answer(request, render, headers=headers)


# --- the dashboard ---------------------------------------------------------------------------------


async def _optional_period(
    period: Annotated[str | None, Query(description="2025-Q4 or 2025; default: now")] = None,
) -> Period | None:
    if period is None:
        return None
    try:
        return parse_period(period)
    except BadPeriod as exc:
        raise Problem(422, "invalid_period", str(exc)) from exc


OptionalPeriod = Annotated[Period | None, Depends(_optional_period)]


def _now_quarter(state) -> str:
    return quarter_of(*divmod(month_key(datetime.now(UTC), state.settings.zone), 100)).label


async def _dashboard(conn, state, requested: Period | None) -> dict[str, Any]:
    quarter, year, why = await choose_periods(
        conn, requested=requested, zone=state.settings.zone, now=datetime.now(UTC)
    )
    return await dashboard_data(
        conn,
        quarter=quarter,
        year=year,
        why=why,
        zone=state.settings.zone,
        policy_version=state.policies.current.version,
    )


@router.get("/dashboard", responses=CONDITIONAL, tags=["dashboard"], summary="What the dashboard page shows")
async def dashboard_json(
    request: Request, state: StateDep, _principal: PublicReportReader, period: OptionalPeriod = None
) -> Response:
    """Rankings of the quarter and the year by category, the officers' top list, the update time."""

    async def render(conn):
        return json_bytes(await _dashboard(conn, state, period))

    return await conditional_answer(request, render, digest_extra="" if period else _now_quarter(state))


page_router = APIRouter(tags=["dashboard"])
STATIC = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "signin.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}


@page_router.get(
    "/",
    response_class=HTMLResponse,
    responses=CONDITIONAL,
    summary="The dashboard page (看板)",
    description="A wall-screen page that refreshes itself by polling `/v1/dashboard` with If-None-Match. "
    "With no key it is a sign-in page (登录页): the browser keeps the key it is given (typed in, or in a "
    "`#key=…` link from `kaohe keys create --role viewer --link`) in its session and sends it as a bearer "
    "header; the key never travels in a URL the server sees. With `KAOHE_PUBLIC_READS=true`, or called "
    "with a key, the first answer comes inline.\n\n"
    "Roles 角色: none needed for the page; its data needs `viewer`, `office`, `auditor` or `admin`.",
)
async def dashboard_page(
    request: Request,
    state: StateDep,
    period: OptionalPeriod = None,
    refresh: Annotated[int, Query(ge=1, le=3600, description="Seconds between polls")] = 15,
) -> Response:
    endpoint = "v1/dashboard" + (f"?{urlencode({'period': period.label})}" if period else "")
    principal = await reader_or_none(request, "read_reports")
    if principal is None:
        # Not signed in (a browser never sends the bearer header on navigation): the page without
        # data; its script signs in with the key kept in the session, or asks for one.
        page = render_page(None, endpoint=endpoint, refresh_seconds=refresh, timezone=state.settings.timezone)
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    async def render(conn):
        data = await _dashboard(conn, state, period)
        page = render_page(data, endpoint=endpoint, refresh_seconds=refresh, timezone=state.settings.timezone)
        return page, "text/html; charset=utf-8"

    return await conditional_answer(request, render, digest_extra="" if period else _now_quarter(state))


@page_router.get("/static/{name}", include_in_schema=False)
async def static_file(request: Request, name: str) -> Response:
    """The page's own script and style sheet (no data in them, so no key needed)."""
    if name not in STATIC:
        raise Problem(404, "not_found", f"no static file {name}")
    return static_answer(request, static_asset(name), STATIC[name])
