"""Composition root of the reporting service: read-only rankings, reports and the dashboard."""

import asyncio

import orjson
from fastapi import FastAPI
from starlette.middleware import Middleware

from services.reporting.api import page_router, router
from services.reporting.cached_answers import CachedAnswers
from services.reporting.caching import AnswerCache
from services.reporting.position_watch import PositionWatch
from services.reporting.ranking_stream import RankingFeeds, StreamToken
from services.reporting.rankings import unit_ranking_answer
from shared.openapi_extras import extend_openapi, link, parameter_schema
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

    async def render(conn, period, kind) -> bytes:
        answer = await unit_ranking_answer(
            conn, period=period, zone=state.settings.zone, policies=state.policies, kind=kind
        )
        return orjson.dumps(answer)

    app.state.ranking_feeds = RankingFeeds(engine=state.engine, watch=app.state.position_watch, render=render)


async def _stop(app: FastAPI, _state: ServiceState) -> None:
    feeds = getattr(app.state, "ranking_feeds", None)
    if feeds is not None:
        await feeds.close()
    await stop_task(getattr(app.state, "position_watch_task", None))


BULLETIN_PERIOD = r"^[0-9]{4}(-Q[1-4])?$"


def _document(schema: dict, _app: FastAPI) -> None:
    """The bulletin's period pattern and example; links from a ranking to the reports of its period."""
    parameter_schema(schema, "get", "/v1/bulletins/{period}", "period", pattern=BULLETIN_PERIOD, example="2026-Q1")
    for status_source in (("get", "/v1/rankings/units", "200"), ("get", "/v1/rankings/officers", "200")):
        link(schema, status_source, "Rewards", ("get", "/v1/rewards"), parameters={"period": "$response.body#/period"})
        link(
            schema,
            status_source,
            "Bulletin",
            ("get", "/v1/bulletins/{period}"),
            parameters={"period": "$response.body#/period"},
            description="the bulletin of the ranking's period (a quarter or a year)",
        )


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
    extend_openapi(app, _document)
    # Innermost, so request ids, logs and metrics still see what it answers.
    app.user_middleware.append(Middleware(CachedAnswers))
    # Outermost, so the stream's `access_token` leaves the query string before any log sees it.
    app.user_middleware.insert(0, Middleware(StreamToken))
    return app


app = create_app()
