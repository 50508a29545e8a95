"""Logs and metrics: JSON log lines that carry the request id, and Prometheus metrics per service.

Each app has its own `CollectorRegistry` (tests run the three apps, many times, in one process).
`GET /metrics` first runs the probes a service registered (scoring's reads the projector lag), then renders.
Refusals are counted by the stable problem `code`, which the problem handlers (and the body
limit) leave on the request scope for the middleware here to read once the answer is sent.
"""

import contextvars
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from shared.problems import PROBLEM_KEY, note_problem, problem_response, unexpected_problem

log = logging.getLogger("kaohe.http")
# For `uvicorn --log-config`: uvicorn's own lines in the JSON format below (see `make run`).
UVICORN_LOG_CONFIG = Path(__file__).with_name("uvicorn-log.yaml")
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("kaohe_request_id", default=None)
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Probe = Callable[["Metrics"], Awaitable[None]]


class Metrics:
    """The metrics of one service."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.probes: list[Probe] = []
        self.request_seconds = Histogram(
            "kaohe_http_request_duration_seconds",
            "Request latency by route template and status.",
            ["service", "method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.refusals = Counter(
            "kaohe_refusals",
            "Answers with a 4xx/5xx problem, by stable problem code.",
            ["service", "status", "code"],
            registry=self.registry,
        )
        self.appends = Counter(
            "kaohe_events_appended",
            "Events appended to the log (duplicates not counted), by type.",
            ["type"],
            registry=self.registry,
        )
        self.database_up = Gauge(
            "kaohe_database_up", "1 when the last probe reached the database.", registry=self.registry
        )

    def appended(self, types: Iterable[str]) -> None:
        for type_name in types:
            self.appends.labels(type_name).inc()

    async def render(self) -> tuple[bytes, str]:
        for probe in self.probes:
            try:
                await probe(self)
                self.database_up.set(1)
            except Exception as exc:
                self.database_up.set(0)
                log.warning("metrics probe failed: %s: %s", type(exc).__name__, exc)
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class Observe:
    """Per request: latency and refusal metrics, one JSON access-log line, and a problem answer (with
    the request id) for an exception no handler caught, instead of a bare 500 from the server."""

    def __init__(self, app, *, metrics_of: Callable[[], Metrics | None]):
        self.app = app
        self.metrics_of = metrics_of

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_status(message):
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except Exception as exc:
            if response_started:
                raise
            problem = unexpected_problem(exc)
            if problem.status == 500:
                log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            note_problem(scope, problem.code)
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
            await problem_response(problem, headers)(scope, receive, send_status)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        code = scope.get("state", {}).get(PROBLEM_KEY)
        metrics = self.metrics_of()
        if metrics is not None:
            metrics.request_seconds.labels(metrics.service, scope["method"], route, str(status)).observe(seconds)
            if status >= 400:
                metrics.refusals.labels(metrics.service, str(status), code or "unknown").inc()
        if route not in ("/healthz", "/readyz", "/metrics"):
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    **({"code": code} if code else {}),
                },
            )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and any extras."""

    _STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "color_message"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in self._STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_json_logging(level: int | None = None) -> None:
    """Send the `kaohe` loggers (and uvicorn's error log) to stderr as JSON lines; idempotent.

    The level is uvicorn's `--log-level` when uvicorn set one, else INFO (access lines included)."""
    level = level or logging.getLogger("uvicorn.error").level or logging.INFO
    for name in ("kaohe", "uvicorn.error"):
        logger = logging.getLogger(name)
        if any(getattr(h, "_kaohe_json", False) for h in logger.handlers):
            continue
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._kaohe_json = True  # type: ignore[attr-defined]
        if name == "uvicorn.error":
            logger.handlers = [handler]  # replace uvicorn's plain-text handler
            logger.propagate = False
        else:
            logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > level:
            logger.setLevel(level)
    # The access line with the request id comes from `Observe`; uvicorn's own would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
