"""kaohe under load through real uvicorn processes: ingest (single, batch), ranking polls, freshness.

All three services run as separate processes against one database prepared with the bench
dataset (200 units with a history), as in production; the load driver is another process.
"""

import asyncio
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from bench import dataset, load, services
from shared.db import connect_raw

# Ingest benchmarks write into a fixed past month, so the quarter the freshness probes rank holds
# only the background load and the probes, whatever the ingest rates were.
INGEST_OCCURRED = "2026-02-10T10:00:00+08:00"


@dataclass
class Stack:
    url: str
    key: str
    servers: dict[str, services.Server] = field(default_factory=dict)
    unit_ids: list[str] = field(default_factory=list)
    period: str = "2026-Q3"  # a quarter the dataset fills: the polls ask for its ranking

    @property
    def load_env(self) -> dict[str, str]:
        return {"BENCH_UNIT_IDS": ",".join(self.unit_ids), "BENCH_UNITS": str(len(self.unit_ids) or 200)}

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def start(self, name: str, **env: str) -> services.Server:
        server = await services.start(name, env=services.service_env(self.url, self.key, **env))
        self.servers[name] = server
        return server

    def stop(self, name: str | None = None) -> None:
        for each in [name] if name else list(self.servers):
            server = self.servers.pop(each, None)
            if server:
                server.stop()


async def prepare(stack: Stack, *, base_events: int, units: int, source: str = "auto") -> None:
    """The base history (`units` units with officers, targets and activity); remembers the unit ids."""
    await dataset.load(stack.url, dataset.events(base_events, units=units, source=source, prefix="B"))
    stack.period = dataset.poll_period(source)
    conn = await connect_raw(stack.url)
    try:
        stack.unit_ids = [
            row[0]
            for row in await conn.fetch(
                "SELECT data->>'unit_id' FROM eventlog.events WHERE type = 'unit.registered' ORDER BY global_position"
            )
        ]
    finally:
        await conn.close()


async def ingest_single(stack: Stack, *, seconds: float) -> load.LoadResult:
    return await load.run(
        stack.servers["ingest"].base_url + "/v1/events",
        script="events.lua",
        connections=64,
        seconds=seconds,
        headers=stack.auth,
        env={
            **stack.load_env,
            "BENCH_NONCE": secrets.token_hex(4),
            "BENCH_PREFIX": "S",
            "BENCH_OCCURRED": INGEST_OCCURRED,
        },
    )


async def ingest_batch(stack: Stack, *, seconds: float, batch: int = 1000, connections: int = 4) -> load.LoadResult:
    return await load.run(
        stack.servers["ingest"].base_url + "/v1/events/batch",
        script="events.lua",
        connections=connections,
        seconds=seconds,
        headers=stack.auth,
        env={
            **stack.load_env,
            "BENCH_BATCH": str(batch),
            "BENCH_NONCE": secrets.token_hex(4),
            "BENCH_PREFIX": "M",
            "BENCH_OCCURRED": INGEST_OCCURRED,
        },
    )


async def settled(stack: Stack, *, timeout: float = 600.0) -> int:
    """Wait until the projector has folded the whole log; returns the position."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=stack.servers["scoring"].base_url, headers=stack.auth) as client:
        while True:
            status = (await client.get("/v1/projections/status")).json()
            if status["checkpoint_position"] >= status["head_position"]:
                return status["checkpoint_position"]
            if time.monotonic() > deadline:
                raise RuntimeError(f"projection did not catch up: {status}")
            await asyncio.sleep(0.1)


def ranking_url(stack: Stack, period: str | None = None) -> str:
    return f"{stack.servers['reporting'].base_url}/v1/rankings/units?period={period or stack.period}"


async def current_etag(stack: Stack) -> tuple[str, int]:
    async with httpx.AsyncClient(headers=stack.auth) as client:
        response = await client.get(ranking_url(stack))
        response.raise_for_status()
        return response.headers["etag"], len(response.json()["rows"])


async def poll(stack: Stack, *, seconds: float, etag: str | None) -> load.LoadResult:
    headers = {**stack.auth, **({"If-None-Match": etag} if etag else {})}
    return await load.run(ranking_url(stack), script="get.lua", connections=64, seconds=seconds, headers=headers)


# --- freshness ------------------------------------------------------------------------------------


def period_bounds(quarter: str) -> tuple[datetime, datetime]:
    year, q = int(quarter[:4]), int(quarter[-1])
    first = datetime(year, 3 * q - 2, 1, tzinfo=dataset.ZONE)
    last = datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=dataset.ZONE)
    return first, last


def _now_quarter() -> str:
    now = datetime.now(dataset.ZONE)
    return f"{now.year}-Q{(now.month - 1) // 3 + 1}"


async def submit_probe_items(stack: Stack, count: int, nonce: str) -> list[str]:
    """Items to adopt during the freshness probes, submitted up front (one batch)."""
    at = (datetime.now(UTC) - timedelta(minutes=2)).isoformat()
    items = [f"F{nonce}-{i}" for i in range(count)]
    events = [
        {
            "type": "item.submitted",
            "occurred_at": at,
            "data": {
                "item_id": item,
                "unit_id": stack.unit_ids[i % len(stack.unit_ids)],
                "title": f"时效探针{i}",
                "kind": "single",
            },
        }
        for i, item in enumerate(items)
    ]
    async with httpx.AsyncClient(base_url=stack.servers["ingest"].base_url, headers=stack.auth, timeout=60) as client:
        for start in range(0, len(events), 1000):
            response = await client.post("/v1/events/batch", json={"events": events[start : start + 1000]})
            response.raise_for_status()
    return items


async def background_load(stack: Stack, *, rate: float, seconds: float) -> asyncio.subprocess.Process:
    """A paced open-loop writer in its own process: `rate` item submissions per second."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.pyload",
        "--url",
        stack.servers["ingest"].base_url + "/v1/events",
        "--script",
        "events.lua",
        "--connections",
        "32",
        "--seconds",
        str(seconds),
        "--rate",
        str(rate),
        "--header",
        f"Authorization: Bearer {stack.key}",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, **stack.load_env, "BENCH_PREFIX": "G", "BENCH_NONCE": secrets.token_hex(4)},
    )


async def freshness(stack: Stack, *, probes: int, background_rate: float = 500.0, spacing: float = 0.1) -> dict:
    """Time from the 201 of an adoption to the first ranking whose `position` includes it."""
    nonce = secrets.token_hex(3)
    items = await submit_probe_items(stack, probes, nonce)
    await settled(stack)
    period = _now_quarter()
    duration = probes * (spacing + 0.2) + 15
    writer = await background_load(stack, rate=background_rate, seconds=duration)
    await asyncio.sleep(2.0)  # let the background load reach its rate
    delays: list[float] = []
    ingest = httpx.AsyncClient(base_url=stack.servers["ingest"].base_url, headers=stack.auth, timeout=30)
    reporting = httpx.AsyncClient(headers=stack.auth, timeout=30)
    url = ranking_url(stack, period)
    try:
        etag = (await reporting.get(url)).headers.get("etag")
        for item in items:
            at = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
            response = await ingest.post(
                "/v1/events",
                json={"type": "item.adopted", "occurred_at": at, "data": {"item_id": item, "channel": "city"}},
            )
            if response.status_code != 201:
                raise RuntimeError(f"probe adoption refused: {response.status_code} {response.text}")
            acknowledged = time.perf_counter()
            position = response.json()["global_position"]
            while True:
                answer = await reporting.get(url, headers={"If-None-Match": etag} if etag else {})
                if answer.status_code == 200:
                    etag = answer.headers.get("etag")
                    if answer.json()["position"] >= position:
                        break
                if time.perf_counter() - acknowledged > 30:
                    raise RuntimeError(f"adoption at {position} not in the ranking after 30 s")
                await asyncio.sleep(0.001)
            delays.append(time.perf_counter() - acknowledged)
            await asyncio.sleep(spacing)
    finally:
        await ingest.aclose()
        await reporting.aclose()
        if writer.returncode is None:
            writer.terminate()  # pyload stops on SIGTERM and still prints its summary
        out, _ = await writer.communicate()
    background = _last_json(out)
    conn = await connect_raw(stack.url)
    try:
        first, last = period_bounds(period)
        period_events = await conn.fetchval(
            "SELECT count(*) FROM eventlog.events WHERE occurred_at >= $1 AND occurred_at < $2", first, last
        )
    finally:
        await conn.close()
    delays.sort()
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    return {
        "p50_ms": delays[len(delays) // 2] * 1000,
        "p99_ms": p99 * 1000,
        "max_ms": delays[-1] * 1000,
        "probes": len(delays),
        "period_events": period_events,
        "background_rate": (background or {}).get("requests", 0) / max((background or {}).get("seconds", 1), 1e-9),
    }


def _last_json(out: bytes) -> dict | None:
    lines = out.decode().strip().splitlines()
    try:
        return json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
