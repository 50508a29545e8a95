"""Full projection rebuild over a large log, and the read-all comparison on the same log.

The log is COPYed in once (bench.dataset); every run then measures the scoring process itself,
a real uvicorn process, with its peak resident set read from the kernel (VmHWM) and sampled.
With POST /v1/projections/rebuild available the runs are rebuilds into new generations on one
scoring process (after its initial catch-up); without it, each run starts scoring on a fresh
copy of the loaded database and times the projector's catch-up from checkpoint 0 (the same fold
and writer code).
"""

import asyncio
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import httpx

from bench import services
from bench.database import Databases, name_of
from services.scoring.log_reader import stream_log
from shared.db import connect_raw


@dataclass
class RebuildRun:
    mode: str  # "rebuild" (the endpoint) or "catch-up" (projector from checkpoint 0)
    events: int
    seconds: float
    peak_rss: int  # bytes, VmHWM of the scoring process
    server_rate: float | None = None

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def _status(client: httpx.AsyncClient) -> dict:
    return (await client.get("/v1/projections/status")).json()


async def _sample_rss(server: services.Server, samples: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(server.rss_bytes())
        try:
            await asyncio.wait_for(stop.wait(), timeout=0.25)
        except TimeoutError:
            pass


async def has_rebuild_endpoint(client: httpx.AsyncClient) -> bool:
    spec = (await client.get("/openapi.json")).json()
    return "/v1/projections/rebuild" in spec.get("paths", {})


async def _caught_up(client: httpx.AsyncClient, *, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = await _status(client)
        if status["checkpoint_position"] >= status["head_position"]:
            return status
        if status.get("projector") == "failed" or time.monotonic() > deadline:
            raise RuntimeError(f"projection did not catch up: {status}")
        await asyncio.sleep(0.2)


async def catch_up_run(url: str, key: str, *, timeout: float = 3600) -> tuple[RebuildRun, services.Server]:
    """Start scoring on a loaded log with an empty projection; time until it has folded everything."""
    # One worker: a rebuild is one process's job, and its RSS is the figure the target is about.
    server = await services.start("scoring", env=services.service_env(url, key), workers=1)
    samples: list[int] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(server, samples, stop))
    try:
        async with httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as client:
            # Timed from the first status answer, so interpreter start-up and imports are not counted.
            started, first = time.perf_counter(), (await _status(client))["checkpoint_position"]
            status = await _caught_up(client, timeout=timeout)
        seconds = time.perf_counter() - started
    finally:
        stop.set()
        await sampler
    return RebuildRun("catch-up", status["checkpoint_position"] - first, seconds, server.peak_rss_bytes()), server


async def rebuild_run(server: services.Server, key: str, *, timeout: float = 3600) -> RebuildRun:
    """One POST /v1/projections/rebuild, polled until it succeeded."""
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as client:
        started = time.perf_counter()
        response = await client.post("/v1/projections/rebuild")
        response.raise_for_status()
        job_id = response.json()["job_id"]
        deadline = time.monotonic() + timeout
        while True:
            job = (await client.get(f"/v1/projections/rebuild/{job_id}")).json()
            if job["state"] == "succeeded":
                break
            if job["state"] == "failed" or time.monotonic() > deadline:
                raise RuntimeError(f"rebuild did not succeed: {job}")
            await asyncio.sleep(0.2)
        seconds = time.perf_counter() - started
    return RebuildRun(
        "rebuild",
        int(job.get("total") or job.get("processed") or 0),
        seconds,
        server.peak_rss_bytes(),
        job.get("events_per_second"),
    )


async def measure(
    dbs: Databases, loaded_url: str, key: str, *, runs: int, mode: str = "auto", notes: list[str] | None = None
) -> list[RebuildRun]:
    """`runs` rebuilds of the loaded log (see the module docstring for the two modes). In `auto`
    mode a rebuild endpoint that is absent or fails sends the runs to catch-up, with a note."""
    notes = notes if notes is not None else []
    results: list[RebuildRun] = []
    if mode in ("auto", "rebuild"):
        url = await dbs.create(template=name_of(loaded_url))
        first, server = await catch_up_run(url, key)
        try:
            async with httpx.AsyncClient(base_url=server.base_url) as client:
                endpoint = await has_rebuild_endpoint(client)
            if endpoint:
                try:
                    for _ in range(runs):
                        results.append(await rebuild_run(server, key))
                    return results
                except RuntimeError as exc:
                    if mode == "rebuild":
                        raise
                    notes.append(f"POST /v1/projections/rebuild failed ({exc}); measured catch-up instead")
                    results.clear()
            elif mode == "rebuild":
                raise RuntimeError("POST /v1/projections/rebuild is not served by this scoring build")
            else:
                notes.append("no POST /v1/projections/rebuild in this build; measured the projector's catch-up")
            results.append(first)
        finally:
            server.stop()
            await dbs.drop(url)
    while len(results) < runs:
        url = await dbs.create(template=name_of(loaded_url))
        run, server = await catch_up_run(url, key)
        server.stop()
        await dbs.drop(url)
        results.append(run)
    return results


async def read_all_ours(url: str, *, chunk: int = 5000) -> dict:
    """The projector's own reader: every event, decoded into the fold's LogEvent, chunk by chunk."""
    conn = await connect_raw(url)
    count = 0
    started = time.perf_counter()
    try:
        async for events in stream_log(conn, zone=ZoneInfo("Asia/Shanghai"), chunk=chunk):
            count += len(events)
    finally:
        elapsed = time.perf_counter() - started
        await conn.close()
    return {"rate": count / elapsed, "events": count}
