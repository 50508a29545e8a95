"""Composition root of the ingest service (the event log: append and read)."""

from fastapi import FastAPI

from services.ingest.api import router
from services.ingest.committer import GroupCommitter
from shared.db import create_raw_pool
from shared.http import MIB
from shared.service import ServiceState, create_service_app, db_role
from shared.settings import Settings


async def _start(app: FastAPI, state: ServiceState) -> None:
    # The append path runs on raw asyncpg (one connection at a time: the committer's group); reads
    # of the log stay on the SQLAlchemy engine.
    url = state.settings.service_database_url(state.name)
    app.state.append_pool = await create_raw_pool(url, role=db_role(state.name, state.settings))
    app.state.committer = GroupCommitter(app.state.append_pool, state.policies)


async def _stop(app: FastAPI, _state: ServiceState) -> None:
    await app.state.committer.close()
    await app.state.append_pool.close()


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
