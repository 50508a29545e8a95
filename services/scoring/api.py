"""Routes of the scoring service: ledgers, projection status, policies."""

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.scoring.audit import audit_deduction
from services.scoring.ledgers import ledger
from services.scoring.rebuild import job_status, request_rebuild
from services.scoring.schemas import (
    DeductionAudit,
    Ledger,
    PolicySummary,
    ProjectionStatus,
    RebuildAccepted,
    RebuildJob,
    WhatIf,
    WhatIfRequest,
)
from services.scoring.whatif import what_if
from shared.asof import resolve_position
from shared.auth import Principal, require
from shared.eventstore import head_position
from shared.params import AsOf, AsOfPosition, PeriodParam, period_of
from shared.problems import Problem
from shared.read_position import POSITION_HEADER, MinPosition, read_projection
from shared.service import StateDep

router = APIRouter(prefix="/v1")
Id = Annotated[str, Path(max_length=200, description="The platform's id; an id that is not registered is 404")]


@router.get("/units/{unit_id}/ledger", response_model=Ledger, tags=["ledgers"], summary="A unit's ledger")
async def unit_ledger(
    unit_id: Id,
    period: PeriodParam,
    state: StateDep,
    principal: Annotated[Principal, require("read_ledger")],
    response: Response,
    as_of_position: AsOfPosition = None,
    as_of: AsOf = None,
    min_position: MinPosition = None,
) -> dict[str, Any]:
    """Every line of the unit for the period; revoked lines stay with `revoked_by` and do not count."""
    principal.check_unit(unit_id)

    async def render(conn: AsyncConnection) -> dict[str, Any]:
        position = await resolve_position(conn, as_of_position=as_of_position, as_of=as_of)
        return await ledger(conn, policies=state.policies, period=period, unit_id=unit_id, as_of=position)

    body, checkpoint = await read_projection(state.reads, min_position, render, primary=state.engine)
    response.headers[POSITION_HEADER] = str(checkpoint)
    return body


@router.get("/officers/{officer_id}/ledger", response_model=Ledger, tags=["ledgers"], summary="An officer's ledger")
async def officer_ledger(
    officer_id: Id,
    period: PeriodParam,
    state: StateDep,
    principal: Annotated[Principal, require("read_ledger")],
    response: Response,
    as_of_position: AsOfPosition = None,
    as_of: AsOf = None,
    min_position: MinPosition = None,
) -> dict[str, Any]:
    """The officer's lines: full points of items they authored, deductions naming them, their money share."""

    async def render(conn: AsyncConnection) -> dict[str, Any]:
        position = await resolve_position(conn, as_of_position=as_of_position, as_of=as_of)
        return await ledger(conn, policies=state.policies, period=period, officer_id=officer_id, as_of=position)

    body, checkpoint = await read_projection(state.reads, min_position, render, primary=state.engine)
    response.headers[POSITION_HEADER] = str(checkpoint)
    if principal.role == "unit" and body["unit_id"] != principal.unit_id:
        # The same answer as for an officer that does not exist: a unit key must not learn which
        # officers other units have (officer ids are not public, unlike unit ids in rankings).
        raise Problem(404, "not_found", f"officer {officer_id} is not registered")
    return body


@router.get("/projections/status", response_model=ProjectionStatus, tags=["projections"])
async def projection_status(
    request: Request, state: StateDep, _principal: Annotated[Principal, require("status")]
) -> dict[str, Any]:
    """How far the projection has folded the log."""
    async with state.engine.connect() as conn:
        head = await head_position(conn)
        checkpoint: int = (await conn.execute(text("SELECT position FROM proj.checkpoint"))).scalar_one()
    projector = getattr(request.app.state, "projector", None)
    return {
        "head_position": head,
        "checkpoint_position": checkpoint,
        "lag_events": max(head - checkpoint, 0),
        "projector": projector.status.role if projector else "disabled",
        "error": projector.status.error if projector else None,
        "stopped_at": projector.status.stopped_at if projector else None,
    }


@router.get("/policies", response_model=list[PolicySummary], tags=["policies"])
async def list_policies(state: StateDep, _principal: Annotated[Principal, require("status")]) -> list[dict[str, Any]]:
    """Every policy version, in `effective_from` order; `current` is the one in force today (local date)."""
    current = state.policies.at(datetime.now(UTC)).version
    return [
        {
            "version": p.version,
            "effective_from": p.document.effective_from,
            "title": p.document.title,
            "current": p.version == current,
        }
        for p in state.policies.policies
    ]


@router.get("/policies/{version}", tags=["policies"], summary="One policy document, as POST /v1/what-if accepts it")
async def get_policy(
    version: str, state: StateDep, _principal: Annotated[Principal, require("status")]
) -> dict[str, Any]:
    policy = state.policies.by_version.get(version)
    if policy is None:
        raise Problem(404, "unknown_policy", f"no policy version {version}")
    return policy.document.model_dump(mode="json", exclude_none=True)


@router.get(
    "/audit/deductions/{event_id}",
    response_model=DeductionAudit,
    tags=["audit"],
    summary="A deduction's derivation, disputes and a replay check against the projection",
)
async def audit(
    event_id: str,
    request: Request,
    state: StateDep,
    _principal: Annotated[Principal, require("audit")],
    response: Response,
    unit_id: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z0-9_.-]{1,64}$",
            description="The unit whose deduction to audit: needed for a solicitation's close that "
            "deducted D7 from several units (422 unit_id_required otherwise)",
        ),
    ] = None,
    min_position: MinPosition = None,
) -> dict[str, Any]:
    """The event as recorded, its clause, disputes, the year's deduction points around it, the
    thresholds it crossed, and the unit's year recomputed from the raw log against the projection."""
    body, checkpoint = await audit_deduction(
        state, _uuid(event_id, "event"), unit_id=unit_id, min_position=min_position, pool=request.app.state.fold_pool
    )
    response.headers[POSITION_HEADER] = str(checkpoint)
    return body


@router.post(
    "/projections/rebuild",
    status_code=202,
    response_model=RebuildAccepted,
    tags=["projections"],
    summary="Rebuild the projection from the log into a new generation",
)
async def start_rebuild(state: StateDep, principal: Annotated[Principal, require("rebuild")]) -> dict[str, Any]:
    """Readers keep the old projection until the new one is complete; a rebuild already running is joined."""
    async with state.engine.begin() as conn:
        return {"job_id": await request_rebuild(conn, requested_by=principal.name)}


@router.get(
    "/projections/rebuild/{job_id}", response_model=RebuildJob, tags=["projections"], summary="Progress of a rebuild"
)
async def rebuild_progress(
    job_id: str, state: StateDep, _principal: Annotated[Principal, require("read_rebuild")]
) -> dict[str, Any]:
    async with state.engine.connect() as conn:
        job = await job_status(conn, _uuid(job_id, "rebuild job"))
    if job is None:
        raise Problem(404, "not_found", f"no rebuild job {job_id}")
    return job


@router.post(
    "/what-if",
    response_model=WhatIf,
    tags=["policies"],
    summary="Every unit's points and rank under the current and a proposed policy",
)
async def post_what_if(
    body: WhatIfRequest, request: Request, state: StateDep, _principal: Annotated[Principal, require("what_if")]
) -> dict[str, Any]:
    """The current side is the projection's (its sums as of the log's head at the request: waits up
    to 5 s for the projector, as `min_position` does); the proposed side folds, in a worker process,
    the events the period's lines depend on from the projection's state before the period. Nothing is
    stored."""
    return await what_if(state, document=body.policy, period=period_of(body.period), pool=request.app.state.fold_pool)


def _uuid(value: str, what: str) -> UUID:
    """Ids in these paths are UUIDs; anything else names nothing that exists (404)."""
    try:
        return UUID(value)
    except ValueError:
        raise Problem(404, "not_found", f"no {what} {value}") from None
