"""Composition root of the reporting service: read-only rankings, reports and the dashboard."""

import asyncio

from fastapi import FastAPI
from starlette.middleware import Middleware

from services.reporting.api import page_router, router
from services.reporting.cached_answers import CachedAnswers
from services.reporting.caching import AnswerCache
from services.reporting.position_watch import PositionWatch
from shared.service import ServiceState, create_service_app, db_role, stop_task
from shared.settings import Settings


async def _start(app: FastAPI, state: ServiceState) -> None:
    app.state.answer_cache = AnswerCache()
    app.state.position_watch = PositionWatch(
        state.settings.read_url("reporting"),
        role=db_role("reporting", state.settings),
        poll_seconds=state.settings.position_poll_seconds,
    )
    app.state.position_watch_task = asyncio.create_task(app.state.position_watch.run(), name="position-watch")


async def _stop(app: FastAPI, _state: ServiceState) -> None:
    await stop_task(getattr(app.state, "position_watch_task", None))


def create_app(settings: Settings | None = None) -> FastAPI:
    app = create_service_app(
        name="reporting",
        title="kaohe reporting",
        description="Rankings, selection, rewards, bulletins (通报) and the dashboard; read-only.",
        settings=settings,
        on_start=_start,
        on_stop=_stop,
    )
    app.include_router(router)
    app.include_router(page_router)
    # Innermost, so request ids, logs and metrics still see what it answers.
    app.user_middleware.append(Middleware(CachedAnswers))
    return app


app = create_app()
