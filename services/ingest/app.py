"""Composition root of the ingest service (the event log: append and read)."""

from fastapi import FastAPI

from shared.http import MIB
from shared.service import create_service_app
from shared.settings import Settings
from services.ingest.api import router


def create_app(settings: Settings | None = None) -> FastAPI:
    app = create_service_app(
        name="ingest", title="kaohe ingest",
        description="The event log of kaohe: append events (idempotent, all-or-nothing batches) and read them.",
        settings=settings, body_limits={"/v1/events": MIB, "/v1/events/batch": 16 * MIB},
    )
    app.include_router(router)
    return app


app = create_app()
