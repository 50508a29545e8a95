"""Composition root of the ingest service (the event log: append and read)."""

import asyncio

from fastapi import FastAPI

from services.ingest.api import router
from services.ingest.committer import GroupCommitter
from shared.http import MIB
from shared.log_partitions import keep_partitions_ahead
from shared.service import ServiceState, create_service_app, stop_task
from shared.settings import Settings


async def _start(app: FastAPI, state: ServiceState) -> None:
    app.state.committer = GroupCommitter(state.engine)
    app.state.partition_keeper = asyncio.create_task(keep_partitions_ahead(state.engine), name="partition-keeper")


async def _stop(app: FastAPI, _state: ServiceState) -> None:
    await stop_task(getattr(app.state, "partition_keeper", None))
    await app.state.committer.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    app = create_service_app(
        name="ingest",
        title="kaohe ingest",
        description="The event log of kaohe: append events (idempotent, all-or-nothing batches) and read them.",
        settings=settings,
        on_start=_start,
        on_stop=_stop,
        body_limits={"/v1/events": MIB, "/v1/events/batch": 16 * MIB},
    )
    app.include_router(router)
    return app


app = create_app()
