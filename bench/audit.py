"""The audit of a deduction on the large log: GET /v1/audit/deductions/{id} for `probes` deductions
spread over the log, one at a time, against a scoring server whose projection has caught up.

The audit replays only the unit's scope of the log (services/scoring/audit.py), so its time follows
the size of one unit's history, not of the log.
"""

import statistics
import time

import asyncpg
import httpx

from bench import services
from bench.database import Databases, name_of
from bench.rebuild import _caught_up
from shared.db import asyncpg_dsn

DEDUCTIONS = ("unit.false-information", "unit.late-reported", "unit.solicitation-missed", "unit.criticized")


async def measure(dbs: Databases, loaded_url: str, key: str, *, probes: int = 100) -> dict:
    url = await dbs.create(template=name_of(loaded_url))
    server = await services.start("scoring", env=services.service_env(url, key))
    try:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            ids = [
                str(row[0])
                for row in await conn.fetch(
                    "SELECT event_id FROM eventlog.events WHERE type = ANY($1::text[]) ORDER BY global_position",
                    list(DEDUCTIONS),
                )
            ]
        finally:
            await conn.close()
        step = max(1, len(ids) // probes)
        chosen = ids[::step][:probes]
        async with httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120
        ) as client:
            await _caught_up(client, timeout=3600)
            await client.get(f"/v1/audit/deductions/{chosen[0]}")  # the fold worker's start, not measured
            latencies, statuses = [], {}
            for event_id in chosen:
                started = time.perf_counter()
                response = await client.get(f"/v1/audit/deductions/{event_id}")
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    finally:
        server.stop()
        await dbs.drop(url)
    latencies.sort()
    return {
        "probes": len(latencies),
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "statuses": statuses,
    }
