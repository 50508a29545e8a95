"""Composition root of the scoring service: projections, ledgers, audit; runs the projector."""

import asyncio

from fastapi import FastAPI

from services.scoring.api import router
from services.scoring.fold_pool import FoldPool
from services.scoring.projector import Projector
from shared.observability import projection_lag_probe
from shared.problems import Problem
from shared.service import ServiceState, create_service_app, db_role, stop_task
from shared.settings import Settings


async def _start(app: FastAPI, state: ServiceState) -> None:
    app.state.fold_pool = FoldPool(state.settings.fold_workers)

    def projecting() -> bool:
        projector = getattr(app.state, "projector", None)
        return projector is not None and projector.status.role == "projecting"

    app.state.metrics.probes.append(projection_lag_probe(state.engine, projecting))
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
    )
    app.state.projector = projector
    app.state.projector_task = asyncio.create_task(projector.run(), name="projector")

    async def projector_ready() -> None:
        if projector.status.role not in ("projecting", "standby"):
            raise Problem(503, "projector_not_running", f"projector is {projector.status.role}")

    app.state.readiness = projector_ready


async def _stop(app: FastAPI, _state: ServiceState) -> None:
    await stop_task(getattr(app.state, "projector_task", None))
    app.state.fold_pool.close()


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
    return app


app = create_app()
