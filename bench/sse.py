"""Pushed rankings at scale: N clients on GET /v1/rankings/units/stream, one ranking change, how long
until every client has it, and what the clients cost the reporting process in memory.

The clients are raw asyncio sockets in this (the bench's) process, so the reporting process is
measured alone: one HTTP/1.1 connection each, the same key, the period the polls use. A change is
one adoption appended through ingest; each client's time is from sending the append to the moment that
client has read an event whose `position` includes the adoption (so it contains the projector's
lag, the one render, and the fan-out). Clients read and scan every byte (the ranking is the full
period's, tens of KB per event), and reading is done by this one Python process, so the times are
an upper bound of what the server needs.
"""

import asyncio
import re
import resource
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx

from bench import online

POSITION = re.compile(rb'"position":(\d+)[,}]')


@dataclass
class Listener:
    """One client: when each higher position first arrived."""

    position: int = -1
    seen: list[tuple[int, float]] = field(default_factory=list)

    def arrived(self, position: int) -> float | None:
        return next((at for seen, at in self.seen if seen >= position), None)


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, needed), hard))


async def _listen(host: str, port: int, path: str, key: str, listener: Listener, ready: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"stream refused: {head[:200]!r}")
        tail = b""
        while True:
            chunk = await reader.read(1 << 16)
            if not chunk:
                return
            data = tail + chunk
            last = 0
            for match in POSITION.finditer(data):
                last = match.end()
                position = int(match.group(1))
                if position > listener.position:
                    listener.position = position
                    listener.seen.append((position, time.perf_counter()))
                ready.set()
            tail = data[max(last, len(data) - 64) :]  # a marker may straddle two reads
    finally:
        writer.close()


async def _adopt(stack: online.Stack, unit_id: str, occurred: str) -> int:
    """Submit and adopt one item (one batch); return the adoption's position."""
    item = f"SSE-{uuid.uuid4().hex[:10]}"
    events = [
        {
            "type": "item.submitted",
            "occurred_at": occurred,
            "data": {"item_id": item, "unit_id": unit_id, "title": "推送测试信息", "kind": "single"},
        },
        {"type": "item.adopted", "occurred_at": occurred, "data": {"item_id": item, "channel": "city"}},
    ]
    async with httpx.AsyncClient(base_url=stack.servers["ingest"].base_url, headers=stack.auth, timeout=60) as client:
        response = await client.post("/v1/events/batch", json={"events": events})
        response.raise_for_status()
        return response.json()["results"][-1]["global_position"]


def _occurred_in(period: str) -> str:
    """A moment inside the streamed period (a quarter or a year), not in the future."""
    first, last = online.period_bounds(period) if "-Q" in period else (None, None)
    if first is None:
        year = int(period[:4])
        first = datetime(year, 1, 1, tzinfo=online.dataset.ZONE)
        last = datetime(year + 1, 1, 1, tzinfo=online.dataset.ZONE)
    moment = min(last - timedelta(days=1), datetime.now(UTC) - timedelta(minutes=5))
    return max(moment, first).isoformat()


async def measure(stack: online.Stack, *, clients: int = 1000, changes: int = 3, period: str | None = None) -> dict:
    """Connect `clients` listeners, then make `changes` ranking changes one after another."""
    _raise_fd_limit(clients + 256)
    period = period or stack.period
    reporting = stack.servers["reporting"]
    parts = urlsplit(reporting.base_url)
    path = f"/v1/rankings/units/stream?period={period}"
    baseline_rss = reporting.rss_bytes()
    listeners = [Listener() for _ in range(clients)]
    readies = [asyncio.Event() for _ in range(clients)]
    tasks: list[asyncio.Task] = []
    started = time.perf_counter()
    for start in range(0, clients, 100):  # in waves, so the accept backlog never overflows
        for i in range(start, min(clients, start + 100)):
            tasks.append(
                asyncio.create_task(_listen(parts.hostname, parts.port, path, stack.key, listeners[i], readies[i]))
            )
        await asyncio.sleep(0.05)
    try:
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), timeout=120)
        connect_seconds = time.perf_counter() - started
        await asyncio.sleep(2.0)  # let the allocator settle before the memory reading
        connected_rss = reporting.rss_bytes()
        runs = []
        for change in range(changes):
            await asyncio.sleep(1.5)  # past the stream's one-event-per-second pacing of the last change
            failed = [t for t in tasks if t.done()]
            if failed:
                raise RuntimeError(f"{len(failed)} clients dropped: {failed[0].exception()!r}")
            unit = stack.unit_ids[change % len(stack.unit_ids)]
            # Timed from before the append is sent (so the append's own commit is included): a client
            # can read the pushed ranking before this process has read ingest's 201.
            sent = time.perf_counter()
            position = await _adopt(stack, unit, _occurred_in(period))
            deadline = sent + 30
            while any(listener.position < position for listener in listeners):
                if time.perf_counter() > deadline:
                    missing = sum(listener.position < position for listener in listeners)
                    raise RuntimeError(f"{missing} of {clients} clients did not get position {position} in 30 s")
                await asyncio.sleep(0.005)
            delays = sorted(listener.arrived(position) - sent for listener in listeners)
            runs.append(
                {
                    "p50_ms": delays[len(delays) // 2] * 1000,
                    "p99_ms": delays[min(len(delays) - 1, int(len(delays) * 0.99))] * 1000,
                    "max_ms": delays[-1] * 1000,
                }
            )
        return {
            "clients": clients,
            "period": period,
            "connect_seconds": connect_seconds,
            "rss_idle_mb": baseline_rss / 2**20,
            "rss_connected_mb": connected_rss / 2**20,
            "rss_per_1000_clients_mb": (connected_rss - baseline_rss) / 2**20 * 1000 / clients,
            "runs": runs,
        }
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
