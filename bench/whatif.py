"""What-if on the large log: POST /v1/what-if of the log's last full quarter, `runs` times one after
the other, against a scoring server whose projection has caught up (the same log as the rebuild,
read-all and audit). The proposed policy is the current one with every clause's points doubled, so
every scoring event changes; the answer's rows are checked, not only its status.
"""

import copy
import statistics
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from bench import services
from bench.database import Databases, name_of
from bench.rebuild import _caught_up
from services.scoring.log_reader import stream_log
from services.scoring.whatif import NEEDED, bounds, restore_point
from shared.db import asyncpg_dsn
from shared.domain.periods import parse_period


def last_full_quarter(latest: datetime, zone: ZoneInfo) -> str:
    """The last quarter that ends before `latest` (local time): the log covers all of it."""
    local = latest.astimezone(zone)
    quarter = (local.month - 1) // 3  # the quarter `latest` is in, 0-based; the one before is full
    year = local.year if quarter else local.year - 1
    return f"{year}-Q{quarter if quarter else 4}"


def doubled(document: dict) -> dict:
    proposed = copy.deepcopy(document)
    proposed["version"] = f"{document['version']}-doubled"
    for clause in proposed["clauses"]:
        if isinstance(clause.get("points"), int):
            clause["points"] *= 2
    return proposed


async def measure(dbs: Databases, loaded_url: str, key: str, *, runs: int, zone: ZoneInfo) -> dict:
    url = await dbs.create(template=name_of(loaded_url))
    server = await services.start("scoring", env=services.service_env(url, key))
    try:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            latest = await conn.fetchval("SELECT max(occurred_at) FROM eventlog.events")
            head = await conn.fetchval("SELECT max(global_position) FROM eventlog.events")
            period = last_full_quarter(latest, zone)
            folded = await _folded(conn, parse_period(period), head=head, zone=zone)
        finally:
            await conn.close()
        async with httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=600
        ) as client:
            await _caught_up(client, timeout=3600)
            [current] = [p for p in (await client.get("/v1/policies")).json() if p["current"]]
            document = doubled((await client.get(f"/v1/policies/{current['version']}")).json())
            body = {"policy": document, "period": period}
            await client.post("/v1/what-if", json=body)  # the fold worker's start, not measured
            seconds, changed = [], 0
            for _ in range(runs):
                started = time.perf_counter()
                response = await client.post("/v1/what-if", json=body)
                seconds.append(time.perf_counter() - started)
                response.raise_for_status()
                changed = sum(row["change"] != 0 for row in response.json()["rows"])
    finally:
        server.stop()
        await dbs.drop(url)
    seconds.sort()
    return {
        "period": period,
        "log_events": head,
        "events_folded": folded,
        "units_changed": changed,
        "p50": statistics.median(seconds) * 1000,
        "p99": seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))] * 1000,
    }


async def _folded(conn, period, *, head: int, zone: ZoneInfo) -> int:
    """How many events the what-if folds: those its read returns after the restore point."""
    after = await restore_point(conn, period=period, head=head, zone=zone)
    reading = stream_log(conn, zone=zone, after=after, until=head, where=NEEDED, args=bounds(period, zone))
    return sum([len(events) async for events in reading])
