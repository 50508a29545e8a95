"""Scoring's own gauges: how far the projection is behind the log, and whether this instance projects."""

from collections.abc import Callable

from prometheus_client import Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.observability import Metrics, Probe

_LAG_QUERY = """
    SELECT c.position AS checkpoint,
           (SELECT coalesce(max(global_position), 0) FROM eventlog.events) AS head,
           (SELECT extract(epoch FROM clock_timestamp() - e.recorded_at) FROM eventlog.events e
             WHERE e.global_position > c.position ORDER BY e.global_position LIMIT 1) AS age
    FROM proj.checkpoint c"""


def projection_lag_probe(metrics: Metrics, engine: AsyncEngine, projecting: Callable[[], bool]) -> Probe:
    """Register the projector gauges on `metrics` and return the probe that sets them on each scrape."""
    registry = metrics.registry
    lag_events = Gauge(
        "kaohe_projector_lag_events", "Events in the log the projection has not folded yet.", registry=registry
    )
    lag_seconds = Gauge(
        "kaohe_projector_lag_seconds",
        "Age of the oldest event not yet projected (0 when caught up).",
        registry=registry,
    )
    checkpoint = Gauge(
        "kaohe_projector_checkpoint_position", "Last log position folded into the projection.", registry=registry
    )
    projecting_gauge = Gauge(
        "kaohe_projector_projecting", "1 when this instance holds the projector lock and projects.", registry=registry
    )

    async def probe(_metrics: Metrics) -> None:
        projecting_gauge.set(1 if projecting() else 0)
        async with engine.connect() as conn:
            row = (await conn.execute(text(_LAG_QUERY))).one()
        checkpoint.set(row.checkpoint)
        lag_events.set(max(row.head - row.checkpoint, 0))
        lag_seconds.set(max(float(row.age), 0.0) if row.age is not None else 0.0)

    return probe
