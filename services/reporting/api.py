"""Routes of the reporting service: rankings, selection, rewards, bulletins and the dashboard."""

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from sse_starlette import EventSourceResponse

from services.reporting.bulletin import bulletin, check_period
from services.reporting.bulletin_render_docx import render_docx
from services.reporting.bulletin_render_html import render_html
from services.reporting.bulletin_render_xlsx import render_xlsx
from services.reporting.caching import conditional_answer, json_bytes, static_answer
from services.reporting.dashboard import choose_periods, dashboard_data, quarter_of, render_page, static_asset
from services.reporting.labels import period_name
from services.reporting.office_year import rectifications, solicitations, statement
from services.reporting.rankings import officer_rankings, projection_position, unit_ranking_answer
from services.reporting.rewards import rewards
from services.reporting.schemas import Bulletin, OfficerRanking, Rewards, Selection, UnitRanking
from services.reporting.selection import selection
from services.reporting.statement_render_xlsx import render_statement_xlsx
from shared.asof import resolve_position
from shared.auth import Principal, reader_or_none, require
from shared.domain.periods import Period, month_key
from shared.params import AsOf, AsOfPosition, OptionalPeriodParam, PeriodParam, period_of
from shared.problems import Problem
from shared.read_position import MinPosition
from shared.service import StateDep

router = APIRouter(prefix="/v1", tags=["rankings"])
RankingReader = Annotated[Principal, require("read_rankings", public=True)]
CONDITIONAL: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the `If-None-Match` ETag is current"}
}


@router.get("/rankings/units", response_model=UnitRanking, responses=CONDITIONAL, summary="Units ranked by net points")
async def rank_units(
    request: Request,
    period: PeriodParam,
    state: StateDep,
    _principal: RankingReader,
    kind: Annotated[Literal["department", "township", "other"] | None, Query()] = None,
    as_of_position: AsOfPosition = None,
    as_of: AsOf = None,
    min_position: MinPosition = None,
) -> Response:
    """Every unit of the period with points, money, activity and targets; `kind` ranks one category."""

    async def render(conn):
        position = await resolve_position(conn, as_of_position=as_of_position, as_of=as_of)
        return json_bytes(
            await unit_ranking_answer(
                conn,
                period=period,
                zone=state.settings.zone,
                policies=state.policies,
                kind=kind,
                as_of=position,
            )
        )

    return await conditional_answer(request, render, min_position=min_position)


@router.get(
    "/rankings/units/stream",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "Server-sent events: `event: ranking`, `data:` the ranking as GET /v1/rankings/units "
            "answers it; at once, then whenever it changes (at most one per second)",
        }
    },
    summary="The units' ranking, pushed as it changes",
)
async def stream_units(
    request: Request,
    period: PeriodParam,
    state: StateDep,
    _principal: RankingReader,
    kind: Annotated[Literal["department", "township", "other"] | None, Query()] = None,
    access_token: Annotated[
        str | None,
        Query(
            description="The key, for a client that cannot send headers (EventSource); "
            "`Authorization: Bearer` is preferred. Never logged."
        ),
    ] = None,
) -> EventSourceResponse:
    """Open as long as the client stays; one ranking query per change serves every listener."""
    feeds = request.app.state.ranking_feeds

    async def events():
        async with feeds.listen(period, kind) as feed:
            async for message in feed.events():
                yield message

    return EventSourceResponse(events(), headers={"Cache-Control": "no-cache"})


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
    min_position: MinPosition = None,
) -> Response:
    """Every officer of the period: full points of items they wrote, deductions naming them, money shares."""

    async def render(conn):
        position = await resolve_position(conn, as_of_position=as_of_position, as_of=as_of)
        head = await projection_position(conn)
        rows = await officer_rankings(conn, period=period, zone=state.settings.zone, as_of=position)
        return json_bytes(
            {
                "period": period.label,
                "policy_version": state.policies.for_last_month(period.last).version,
                "position": head if position is None else min(position, head),
                "rows": rows,
            }
        )

    return await conditional_answer(request, render, min_position=min_position)


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
    units: Annotated[
        int | None, Query(ge=0, le=10_000, description="How many units to select (default: the policy's)")
    ] = None,
    officers: Annotated[
        int | None, Query(ge=0, le=10_000, description="How many officers to select (default: the policy's)")
    ] = None,
    as_of_position: AsOfPosition = None,
    as_of: AsOf = None,
    min_position: MinPosition = None,
) -> Response:
    """Eligible, selected (ties at the cut line all selected) and excluded units and officers with every
    reason; the units to criticise and those that must write a rectification plan."""

    async def render(conn):
        position = await resolve_position(conn, as_of_position=as_of_position, as_of=as_of)
        body = await selection(
            conn,
            year=year,
            units=units,
            officers=officers,
            zone=state.settings.zone,
            policies=state.policies,
            as_of=position,
        )
        head = await projection_position(conn)
        return json_bytes({**body, "position": head if position is None else min(position, head)})

    return await conditional_answer(request, render, min_position=min_position)


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
    min_position: MinPosition = None,
) -> Response:
    """Rows with money only, each with the ledger lines that carry it; `total_yuan` sums the units."""

    async def render(conn):
        position = await resolve_position(conn, as_of_position=as_of_position, as_of=as_of)
        return json_bytes(await rewards(conn, period=period, policies=state.policies, as_of=position))

    return await conditional_answer(request, render, min_position=min_position)


async def _bulletin_period(period: Annotated[str, Path(description="2026-Q1 … 2026-Q4 or 2026")]) -> Period:
    parsed = period_of(period)
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
    units: Annotated[
        int | None, Query(ge=0, le=10_000, description="A year's commended units (default: the policy's)")
    ] = None,
    officers: Annotated[
        int | None, Query(ge=0, le=10_000, description="A year's commended officers (default: the policy's)")
    ] = None,
    min_position: MinPosition = None,
) -> Response:
    """Totals, one ranking table per unit category, the units short of target and the adopted titles,
    as JSON, a printable HTML page, an Excel workbook or a Word document; a year's bulletin is the
    表彰通报 (commended, criticised, rectification)."""
    media_type, disposition = BULLETIN_TYPES[fmt]
    filename = f"kaohe-bulletin-{period.label}.{fmt}"
    local_name = quote(f"关于{period_name(period)}政务信息报送采用情况的通报.{fmt}")
    headers = {"Content-Disposition": f"{disposition}; filename=\"{filename}\"; filename*=UTF-8''{local_name}"}

    async def render(conn):
        data = await bulletin(
            conn,
            period=period,
            zone=state.settings.zone,
            policies=state.policies,
            position=await projection_position(conn),
            units=units,
            officers=officers,
        )
        if fmt == "json":
            return json_bytes(data)
        return await asyncio.to_thread(RENDERERS[fmt], data), media_type

    return await conditional_answer(request, render, headers=headers, min_position=min_position)


# --- the office's year: solicitations, rectification, reward payments ------------------------------

LedgerReader = Annotated[Principal, require("read_ledger")]


def _own_unit(principal: Principal) -> str | None:
    """A unit key sees only its own unit's rows."""
    return principal.unit_id if principal.role == "unit" else None


@router.get("/solicitations", responses=CONDITIONAL, tags=["office"], summary="约稿 and each asked unit's status")
async def list_solicitations(
    request: Request,
    principal: LedgerReader,
    status: Annotated[Literal["open", "closed", "all"], Query()] = "all",
    min_position: MinPosition = None,
) -> Response:
    """Every solicitation with its deadline and, per asked unit, on_time / late / missing / pending."""
    unit_id = _own_unit(principal)

    async def render(conn):
        return json_bytes(await solicitations(conn, status=status, unit_id=unit_id))

    return await conditional_answer(request, render, digest_extra=unit_id or "", min_position=min_position)


@router.get(
    "/rectifications/{year}", responses=CONDITIONAL, tags=["office"], summary="整改: where each unit's plan stands"
)
async def list_rectifications(
    request: Request,
    year: Annotated[int, Path(ge=2000, le=2100)],
    state: StateDep,
    principal: LedgerReader,
    min_position: MinPosition = None,
) -> Response:
    """The year's rectification list and every unit that submitted a plan: required / submitted / accepted / returned."""
    unit_id = _own_unit(principal)

    async def render(conn):
        return json_bytes(
            await rectifications(conn, year=year, zone=state.settings.zone, policies=state.policies, unit_id=unit_id)
        )

    return await conditional_answer(request, render, digest_extra=unit_id or "", min_position=min_position)


def _half_year(period: Annotated[str, Query(description="2026-H1 or 2026-H2")]) -> str:
    parsed = period_of(period)
    if "-H" not in parsed.label:
        raise Problem(422, "invalid_period", f"{period} is not a half-year (YYYY-H1 or YYYY-H2)")
    return parsed.label


@router.get(
    "/rewards/statement",
    responses={
        **CONDITIONAL,
        200: {"content": {"application/json": {}, BULLETIN_TYPES["xlsx"][0]: {}}, "description": "json or xlsx"},
    },
    tags=["rewards"],
    summary="半年信息奖励: earned, paid, balance",
)
async def reward_statement(
    request: Request,
    period: Annotated[str, Depends(_half_year)],
    state: StateDep,
    _principal: ReportReader,
    fmt: Annotated[Literal["json", "xlsx"], Query(alias="format")] = "json",
    min_position: MinPosition = None,
) -> Response:
    """Per unit: the half-year's money as the log stands now, what was paid for it and the balance."""

    async def render(conn):
        data = await statement(conn, period_label=period, policies=state.policies)
        if fmt == "json":
            return json_bytes(data)
        return await asyncio.to_thread(render_statement_xlsx, data), BULLETIN_TYPES["xlsx"][0]

    headers = {"Content-Disposition": f'attachment; filename="kaohe-rewards-{period}.xlsx"'} if fmt == "xlsx" else None
    return await conditional_answer(request, render, headers=headers, min_position=min_position)


# --- the dashboard ---------------------------------------------------------------------------------


OptionalPeriod = OptionalPeriodParam


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
        policies=state.policies,
    )


@router.get("/dashboard", responses=CONDITIONAL, tags=["dashboard"], summary="What the dashboard page shows")
async def dashboard_json(
    request: Request,
    state: StateDep,
    _principal: PublicReportReader,
    period: OptionalPeriod = None,
    min_position: MinPosition = None,
) -> Response:
    """Rankings of the quarter and the year by category, the officers' top list, the update time."""

    async def render(conn):
        return json_bytes(await _dashboard(conn, state, period))

    return await conditional_answer(
        request, render, digest_extra="" if period else _now_quarter(state), min_position=min_position
    )


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
    min_position: MinPosition = None,
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

    return await conditional_answer(
        request, render, digest_extra="" if period else _now_quarter(state), min_position=min_position
    )


@page_router.get("/static/{name}", include_in_schema=False)
async def static_file(request: Request, name: str) -> Response:
    """The page's own script and style sheet (no data in them, so no key needed)."""
    if name not in STATIC:
        raise Problem(404, "not_found", f"no static file {name}")
    return static_answer(request, static_asset(name), STATIC[name])
