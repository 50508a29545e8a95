"""Composition root of the scoring service: projections, ledgers, audit; runs the projector."""

import asyncio

from fastapi import FastAPI

from services.scoring.api import router
from services.scoring.fold_pool import FoldPool
from services.scoring.metrics import projection_lag_probe
from services.scoring.projector import Projector
from shared.openapi_extras import body_example, extend_openapi, link
from shared.problems import Problem
from shared.service import ServiceState, create_service_app, db_role, stop_task
from shared.settings import Settings


async def _start(app: FastAPI, state: ServiceState) -> None:
    app.state.fold_pool = FoldPool(state.settings.fold_workers)

    def projecting() -> bool:
        projector = getattr(app.state, "projector", None)
        return projector is not None and projector.status.role == "projecting"

    app.state.metrics.probes.append(projection_lag_probe(app.state.metrics, state.engine, projecting))
    if not state.settings.projector_enabled:
        return
    projector = Projector(
        url=state.settings.service_database_url("scoring"),
        role=db_role("scoring", state.settings),
        policies=state.policies,
        zone=state.settings.zone,
        batch_size=state.settings.projector_batch_size,
        poll_seconds=state.settings.projector_poll_seconds,
        cache_limit=state.settings.fold_cache_limit,
        lease_seconds=state.settings.projector_lease_seconds,
    )
    app.state.projector = projector
    app.state.projector_task = asyncio.create_task(projector.run(), name="projector")

    async def projector_ready() -> None:
        if projector.status.role not in ("projecting", "standby"):
            detail = f"projector is {projector.status.role}"
            if projector.status.stopped_at:
                detail += f"; stopped at {projector.status.stopped_at}: {projector.status.error}"
            raise Problem(503, "projector_not_running", detail)

    app.state.readiness = projector_ready


async def _stop(app: FastAPI, _state: ServiceState) -> None:
    await stop_task(getattr(app.state, "projector_task", None))
    app.state.fold_pool.close()


def _document(schema: dict, app: FastAPI) -> None:
    """Links (policies → a policy → a what-if of it; a rebuild → its job; a ledger → the audit of its
    first line) and a valid what-if example: the current policy itself."""
    link(
        schema,
        ("get", "/v1/policies", "200"),
        "GetPolicy",
        ("get", "/v1/policies/{version}"),
        parameters={"version": "$response.body#/0/version"},
    )
    link(
        schema,
        ("get", "/v1/policies/{version}", "200"),
        "WhatIf",
        ("post", "/v1/what-if"),
        request_body={"policy": "$response.body", "period": "2026"},
    )
    link(
        schema,
        ("post", "/v1/projections/rebuild", "202"),
        "FollowRebuild",
        ("get", "/v1/projections/rebuild/{job_id}"),
        parameters={"job_id": "$response.body#/job_id"},
    )
    link(
        schema,
        ("get", "/v1/units/{unit_id}/ledger", "200"),
        "AuditFirstLine",
        ("get", "/v1/audit/deductions/{event_id}"),
        parameters={"event_id": "$response.body#/entries/0/event_id"},
    )
    state = getattr(app.state, "kaohe", None)
    if state is not None:
        document = state.policies.current.document.model_dump(mode="json", exclude_none=True)
        body_example(schema, "post", "/v1/what-if", {"policy": document, "period": "2026"})


def create_app(settings: Settings | None = None) -> FastAPI:
    app = create_service_app(
        name="scoring",
        title="kaohe scoring",
        description="Projections of the event log: ledgers, scores, audit, rebuild and what-if.",
        settings=settings,
        on_start=_start,
        on_stop=_stop,
    )
    app.include_router(router)
    extend_openapi(app, _document)
    return app


app = create_app()
