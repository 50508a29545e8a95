"""Routes of the scoring service: ledgers, projection status, policies."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from sqlalchemy import text

from shared.asof import resolve_position
from shared.auth import Principal, require
from shared.eventstore import head_position
from shared.params import AsOf, AsOfPosition, PeriodParam
from shared.problems import Problem
from shared.service import StateDep
from services.scoring.ledgers import ledger
from services.scoring.schemas import Ledger, PolicySummary, ProjectionStatus

router = APIRouter(prefix="/v1")
Id = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]


@router.get("/units/{unit_id}/ledger", response_model=Ledger, tags=["ledgers"], summary="A unit's ledger")
async def unit_ledger(unit_id: Id, period: PeriodParam, state: StateDep,
                      principal: Annotated[Principal, require("read_ledger")],
                      as_of_position: AsOfPosition = None, as_of: AsOf = None) -> dict[str, Any]:
    """Every line of the unit for the period; revoked lines stay with `revoked_by` and do not count."""
    principal.check_unit(unit_id)
    async with state.engine.connect() as conn:
        position = await resolve_position(conn, as_of_position=as_of_position, as_of=as_of)
        return await ledger(conn, policies=state.policies, period=period, unit_id=unit_id, as_of=position)


@router.get("/officers/{officer_id}/ledger", response_model=Ledger, tags=["ledgers"], summary="An officer's ledger")
async def officer_ledger(officer_id: Id, period: PeriodParam, state: StateDep,
                         principal: Annotated[Principal, require("read_ledger")],
                         as_of_position: AsOfPosition = None, as_of: AsOf = None) -> dict[str, Any]:
    """The officer's lines: full points of items they authored, deductions naming them, their money share."""
    async with state.engine.connect() as conn:
        position = await resolve_position(conn, as_of_position=as_of_position, as_of=as_of)
        body = await ledger(conn, policies=state.policies, period=period, officer_id=officer_id, as_of=position)
    principal.check_unit(body["unit_id"])
    return body


@router.get("/projections/status", response_model=ProjectionStatus, tags=["projections"])
async def projection_status(request: Request, state: StateDep,
                            _principal: Annotated[Principal, require("status")]) -> dict[str, Any]:
    """How far the projection has folded the log."""
    async with state.engine.connect() as conn:
        head = await head_position(conn)
        checkpoint = (await conn.execute(text("SELECT position FROM proj.checkpoint"))).scalar_one()
    projector = getattr(request.app.state, "projector", None)
    return {"head_position": head, "checkpoint_position": checkpoint, "lag_events": max(head - checkpoint, 0),
            "projector": projector.status.role if projector else "disabled",
            "error": projector.status.error if projector else None}


@router.get("/policies", response_model=list[PolicySummary], tags=["policies"])
async def list_policies(state: StateDep, _principal: Annotated[Principal, require("status")]) -> list[dict[str, Any]]:
    """Every policy version known to this service; the last is current."""
    current = state.policies.current.version
    return [{"version": p.version, "effective_from": p.document.effective_from, "title": p.document.title,
             "current": p.version == current} for p in state.policies.policies]


@router.get("/policies/{version}", tags=["policies"], summary="One policy document, as POST /v1/what-if accepts it")
async def get_policy(version: str, state: StateDep,
                     _principal: Annotated[Principal, require("status")]) -> dict[str, Any]:
    policy = state.policies.by_version.get(version)
    if policy is None:
        raise Problem(404, "unknown_policy", f"no policy version {version}")
    return policy.document.model_dump(mode="json", exclude_none=True)
