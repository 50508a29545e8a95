"""The skeleton every service shares: engine on app state, problem handlers, health endpoints."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import KeyCache, authenticate_first, ensure_bootstrap_key
from shared.db import make_engine
from shared.domain.policy import Policy, PolicySet
from shared.http import MIB, BodyLimit, RequestId
from shared.observability import Metrics, Observe, setup_json_logging
from shared.openapi_docs import document_events_and_roles, install_offline_docs
from shared.policy_files import load_policies
from shared.problems import Problem, document_problems, install_problem_handlers
from shared.settings import Settings

log = logging.getLogger("kaohe.service")
READY_TIMEOUT = 3.0  # seconds /readyz waits for the database


def latest_migration() -> str:
    """The head revision of `migrations/`, so readiness never needs editing when a migration is added."""
    from alembic.script import ScriptDirectory

    from shared.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_current_head()
    assert head is not None, "migrations/ has no head revision"
    return head


@dataclass
class ServiceState:
    """What a service's routes need, built in the lifespan and kept on `app.state.kaohe`."""

    name: str
    settings: Settings
    engine: AsyncEngine
    policies: PolicySet
    # Projection reads (ledgers, rankings, reports, audit): the standby's engine when
    # KAOHE_READ_DATABASE_URL is set, else the same engine as writes.
    read_engine: AsyncEngine | None = None

    @property
    def reads(self) -> AsyncEngine:
        return self.read_engine or self.engine

    @property
    def reads_from_standby(self) -> bool:
        return self.read_engine is not None


# Dependencies are `async def` so FastAPI calls them inline instead of in a worker thread per request.
async def service_state(request: Request) -> ServiceState:
    return request.app.state.kaohe


StateDep = Annotated[ServiceState, Depends(service_state)]


def create_service_app(
    *,
    name: str,
    title: str,
    description: str,
    settings: Settings | None,
    on_start: Callable[[FastAPI, ServiceState], Awaitable[None]] | None = None,
    on_stop: Callable[[FastAPI, ServiceState], Awaitable[None]] | None = None,
    body_limits: dict[str, int] | None = None,
) -> FastAPI:
    """A FastAPI app with the shared lifespan, middleware, error handling and health checks."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = settings or Settings()
        setup_json_logging()
        policies = load_policies(resolved.policy_dir, resolved.zone)  # a bad policy file stops the service here
        engine = make_engine(
            resolved.service_database_url(name),
            role=db_role(name, resolved),
            pool_size=resolved.pool_size,
            connect_timeout=resolved.db_connect_timeout,
            statement_timeout=resolved.db_statement_timeout,
            pool_timeout=resolved.db_pool_timeout,
        )
        read_url = resolved.read_url(name)
        read_engine = None
        if read_url != resolved.service_database_url(name):
            read_engine = make_engine(read_url, role=db_role(name, resolved), pool_size=resolved.pool_size)
        state = ServiceState(name=name, settings=resolved, engine=engine, policies=policies, read_engine=read_engine)
        app.state.kaohe = state
        app.state.key_cache = KeyCache()
        app.state.latest_migration = latest_migration()
        if resolved.bootstrap_admin_key:
            # The service roles only read keys; the login user (who ran the migrations) writes this one.
            login = make_engine(resolved.service_database_url(name), pool_size=1)
            try:
                async with login.begin() as conn:
                    await ensure_bootstrap_key(conn, resolved.bootstrap_admin_key)
            finally:
                await login.dispose()
        try:
            if on_start:
                await on_start(app, state)
            yield
        finally:
            if on_stop:
                await on_stop(app, state)
            await engine.dispose()
            if read_engine is not None:
                await read_engine.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(authenticate_first)],
        docs_url=None,  # offline ones instead, below
        redoc_url=None,
    )
    app.state.metrics = Metrics(name)
    install_problem_handlers(app)
    document_problems(app)
    install_offline_docs(app)

    def current_policy() -> Policy:
        """The policy in force today, for the OpenAPI's names of channels, levels and unit kinds."""
        state = getattr(app.state, "kaohe", None)
        if state is not None:
            return state.policies.at(datetime.now(UTC))
        resolved = settings or Settings()
        return load_policies(resolved.policy_dir, resolved.zone).at(datetime.now(UTC))

    document_events_and_roles(app, current_policy)
    app.add_middleware(BodyLimit, default_limit=MIB, limits=body_limits or {})
    app.add_middleware(Observe, metrics_of=lambda: getattr(app.state, "metrics", None))
    app.add_middleware(RequestId)

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={
            200: {
                "content": {"text/plain": {"schema": {"type": "string"}}},
                "description": "Prometheus text exposition format",
            }
        },
    )
    async def metrics() -> Response:
        body, media_type = await app.state.metrics.render()
        return Response(body, media_type=media_type)

    @app.get("/healthz", tags=["health"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="The database answers and the schema is current")
    async def readyz(state: StateDep) -> JSONResponse:
        try:
            # Bounded: a load balancer polling a hung database gets 503 in seconds, not a hung probe.
            async with asyncio.timeout(READY_TIMEOUT):
                async with state.engine.connect() as conn:
                    version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except Exception as exc:
            raise Problem(
                503,
                "database_unavailable",
                f"database not reachable: {type(exc).__name__}",
                headers={"Retry-After": "1"},
            ) from exc
        if version != app.state.latest_migration:
            raise Problem(503, "schema_outdated", f"schema at {version}, expected {app.state.latest_migration}")
        if state.read_engine is not None:
            try:
                async with state.read_engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            except Exception as exc:
                raise Problem(
                    503, "database_unavailable", f"read database not reachable: {type(exc).__name__}"
                ) from exc
        extra = getattr(app.state, "readiness", None)
        if extra is not None:
            await extra()
        return JSONResponse({"status": "ready", "schema": version})

    return app


async def stop_task(task: asyncio.Task | None) -> None:
    """Cancel a background task and wait until it has stopped.

    Cancelled again until it is done: on Python 3.11 `asyncio.wait_for` loses a cancellation that
    arrives just as the awaited thing completes (fixed in 3.12), and a loop around such a wait would
    then run on and keep the service from shutting down."""
    while task is not None and not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    if task is not None and not task.cancelled() and task.exception() is not None:
        log.error("background task %s ended with %r", task.get_name(), task.exception())


def db_role(name: str, settings: Settings) -> str | None:
    """The database role a service works as (migration 0003), or None with `KAOHE_DB_ROLES=false`."""
    return f"kaohe_{name}" if settings.db_roles else None
