"""Routes of the reporting service: rankings (and, in later modules, selection, rewards, bulletins)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from shared.asof import resolve_position
from shared.auth import Principal, require
from shared.params import AsOf, AsOfPosition, PeriodParam
from shared.service import StateDep
from services.reporting.caching import conditional_answer, json_bytes
from services.reporting.rankings import officer_rankings, projection_position, unit_rankings
from services.reporting.schemas import OfficerRanking, UnitRanking

router = APIRouter(prefix="/v1", tags=["rankings"])
RankingReader = Annotated[Principal, require("read_rankings", public=True)]
CONDITIONAL = {304: {"description": "Not modified: the `If-None-Match` ETag is current"}}


@router.get("/rankings/units", response_model=UnitRanking, responses=CONDITIONAL, summary="Units ranked by net points")
async def rank_units(request: Request, period: PeriodParam, state: StateDep, _principal: RankingReader,
                     kind: Annotated[Literal["department", "township", "other"] | None, Query()] = None,
                     as_of_position: AsOfPosition = None, as_of: AsOf = None) -> Response:
    """Every unit of the period with points, money, activity and targets; `kind` ranks one category."""

    async def render(conn):
        position = await resolve_position(conn, as_of_position=as_of_position, as_of=as_of)
        head = await projection_position(conn)
        rows = await unit_rankings(conn, period=period, zone=state.settings.zone, as_of=position, kind=kind)
        return json_bytes({"period": period.label, "policy_version": state.policies.current.version,
                           "position": head if position is None else min(position, head), "kind": kind,
                           "rows": rows})

    return await conditional_answer(request, render)


@router.get("/rankings/officers", response_model=OfficerRanking, responses=CONDITIONAL,
            summary="Officers ranked by net points")
async def rank_officers(request: Request, period: PeriodParam, state: StateDep, _principal: RankingReader,
                        as_of_position: AsOfPosition = None, as_of: AsOf = None) -> Response:
    """Every officer of the period: full points of items they wrote, deductions naming them, money shares."""

    async def render(conn):
        position = await resolve_position(conn, as_of_position=as_of_position, as_of=as_of)
        head = await projection_position(conn)
        rows = await officer_rankings(conn, period=period, zone=state.settings.zone, as_of=position)
        return json_bytes({"period": period.label, "policy_version": state.policies.current.version,
                           "position": head if position is None else min(position, head), "rows": rows})

    return await conditional_answer(request, render)
