"""Composition root of the ingest service (the event log: append and read; webhooks from it)."""

import asyncio

from fastapi import FastAPI
from starlette.middleware import Middleware

from services.ingest import webhooks_api
from services.ingest.api import router
from services.ingest.committer import GroupCommitter
from services.ingest.fast_append import FastAppend
from services.ingest.schemas import MAX_BATCH
from services.ingest.webhook_worker import WebhookWorker
from shared.db import create_raw_pool
from shared.http import MIB
from shared.log_partitions import keep_partitions_ahead
from shared.openapi_extras import extend_openapi, link, operation
from shared.service import ServiceState, create_service_app, db_role, stop_task
from shared.settings import Settings


async def _start(app: FastAPI, state: ServiceState) -> None:
    # The append path runs on raw asyncpg (one connection at a time: the committer's group); reads
    # of the log stay on the SQLAlchemy engine.
    settings = state.settings
    url, role = settings.service_database_url("ingest"), db_role("ingest", settings)
    app.state.append_pool = await create_raw_pool(
        url, role=role, command_timeout=settings.db_statement_timeout, connect_timeout=settings.db_connect_timeout
    )
    app.state.committer = GroupCommitter(app.state.append_pool, state.policies)
    app.state.partition_keeper = asyncio.create_task(keep_partitions_ahead(state.engine), name="partition-keeper")
    app.state.webhook_pool = await create_raw_pool(url, role=role, min_size=0, max_size=4, idle_seconds=30)
    if settings.webhooks_enabled:
        worker = WebhookWorker(url=url, role=role, pool=app.state.webhook_pool, settings=settings)
        app.state.webhook_worker = worker
        app.state.webhook_task = asyncio.create_task(worker.run(), name="webhook-worker")


async def _stop(app: FastAPI, _state: ServiceState) -> None:
    await stop_task(getattr(app.state, "partition_keeper", None))
    await stop_task(getattr(app.state, "webhook_task", None))
    pool = getattr(app.state, "webhook_pool", None)
    if pool is not None:
        await pool.close()
    await app.state.committer.close()
    await app.state.append_pool.close()


def _document(schema: dict, _app: FastAPI) -> None:
    """Batch items typed as the event union (the route validates them one by one, to name each bad
    index); links from an append to its stream and from a page of the log to the next."""
    single = operation(schema, "post", "/v1/events")["requestBody"]["content"]["application/json"]["schema"]
    events = schema["components"]["schemas"]["BatchIn"]["properties"]["events"]
    events.update({"items": single, "minItems": 1, "maxItems": MAX_BATCH})
    stream = ("get", "/v1/streams/{stream_id}")
    for status in ("201", "200"):
        link(
            schema,
            ("post", "/v1/events", status),
            "ReadStream",
            stream,
            parameters={"stream_id": "$response.body#/stream_id"},
        )
    link(
        schema,
        ("post", "/v1/events/batch", "201"),
        "ReadFirstStream",
        stream,
        parameters={"stream_id": "$response.body#/results/0/stream_id"},
    )
    link(
        schema,
        ("get", "/v1/events", "200"),
        "NextPage",
        ("get", "/v1/events"),
        parameters={"after": "$response.body#/next_after"},
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    app = create_service_app(
        name="ingest",
        title="kaohe ingest",
        description="The event log of kaohe: append events (idempotent, all-or-nothing batches) and read them; "
        "webhook subscriptions push it to other systems.",
        settings=settings,
        on_start=_start,
        on_stop=_stop,
        body_limits={"/v1/events": MIB, "/v1/events/batch": 16 * MIB},
    )
    app.include_router(router)
    app.include_router(webhooks_api.router)
    extend_openapi(app, _document)
    # Innermost, so the body limits, request ids, logs and metrics see what it answers as the route's.
    app.user_middleware.append(Middleware(FastAppend))
    return app


app = create_app()
