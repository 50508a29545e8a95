"""A small HTTP/1.1 load driver in its own process: keep-alive connections, raw asyncio streams.

Used as the paced background load of the freshness benchmark (`--rate`) and as the throughput
driver when wrk is not installed. Prints one JSON line: requests, seconds, statuses, p50/p99.
The request bodies match bench/lua/events.lua.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit


def _event(counter: int, *, units: list[str], prefix: str, nonce: str) -> dict:
    at = os.environ.get("BENCH_OCCURRED") or (datetime.now(UTC) - timedelta(seconds=60)).isoformat(timespec="seconds")
    return {
        "event_id": str(uuid.uuid4()),
        "type": "item.submitted",
        "occurred_at": at,
        "data": {
            "item_id": f"{prefix}{nonce}-{os.getpid()}-{counter}",
            "unit_id": random.choice(units),
            "title": f"关于第{counter}号工作情况的报告",
            "kind": "single",
        },
    }


class Requests:
    """Builds the raw request bytes for one script."""

    def __init__(self, url: str, script: str, headers: list[str]):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.script = script
        self.headers = "".join(f"{h}\r\n" for h in headers)
        self.units = [u for u in os.environ.get("BENCH_UNIT_IDS", "").split(",") if u] or [
            f"U{i:05d}" for i in range(int(os.environ.get("BENCH_UNITS", "200")))
        ]
        self.batch = int(os.environ.get("BENCH_BATCH", "0"))
        self.prefix = os.environ.get("BENCH_PREFIX", "P")
        self.nonce = os.environ.get("BENCH_NONCE", uuid.uuid4().hex[:8])
        self.counter = 0

    def next(self) -> bytes:
        if self.script == "get.lua":
            return (f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\n{self.headers}\r\n").encode()
        if self.script == "post_tiny.lua":
            return self._post(self.path, b'{"a":1}')
        if self.batch:
            events = []
            for _ in range(self.batch):
                self.counter += 1
                events.append(_event(self.counter, units=self.units, prefix=self.prefix, nonce=self.nonce))
            return self._post("/v1/events/batch", json.dumps({"events": events}, ensure_ascii=False).encode())
        self.counter += 1
        body = json.dumps(
            _event(self.counter, units=self.units, prefix=self.prefix, nonce=self.nonce), ensure_ascii=False
        ).encode()
        return self._post("/v1/events", body)

    def _post(self, path: str, body: bytes) -> bytes:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{self.headers}\r\n"
        )
        return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in fields:
        await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readline()).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _connection(
    requests: Requests,
    deadline: list[float],
    latencies: list[float],
    statuses: dict[int, int],
    errors: dict[str, int],
    pacer: asyncio.Queue | None,
) -> None:
    reader, writer = await asyncio.open_connection(requests.host, requests.port)
    try:
        while time.perf_counter() < deadline[0]:
            if pacer is not None:
                try:
                    await asyncio.wait_for(pacer.get(), timeout=0.1)
                except TimeoutError:
                    continue
            started = time.perf_counter()
            writer.write(requests.next())
            try:
                status = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                errors["read"] = errors.get("read", 0) + 1
                writer.close()
                reader, writer = await asyncio.open_connection(requests.host, requests.port)
                continue
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _pace(queue: asyncio.Queue, rate: float, deadline: list[float]) -> None:
    """Tokens at `rate` per second: an open-loop schedule, so a slow answer does not slow the load."""
    started, sent = time.perf_counter(), 0
    while time.perf_counter() < deadline[0]:
        due = int((time.perf_counter() - started) * rate) - sent
        for _ in range(due):
            queue.put_nowait(None)
        sent += max(due, 0)
        await asyncio.sleep(0.002)


async def main_async(args: argparse.Namespace) -> dict:
    requests = Requests(args.url, args.script, args.header)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: dict[str, int] = {}
    started = time.perf_counter()
    deadline = [started + args.seconds]  # SIGTERM ends the run early, and the summary is still printed
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: deadline.__setitem__(0, 0.0))
    pacer = asyncio.Queue() if args.rate else None
    tasks = [
        asyncio.create_task(_connection(requests, deadline, latencies, statuses, errors, pacer))
        for _ in range(args.connections)
    ]
    if pacer is not None:
        tasks.append(asyncio.create_task(_pace(pacer, args.rate, deadline)))
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0

    return {
        "requests": len(latencies),
        "seconds": seconds,
        "statuses": statuses,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--script", default="get.lua")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=0, help="requests per second in all (0: as fast as possible)")
    parser.add_argument("--header", action="append", default=[])
    print(json.dumps(asyncio.run(main_async(parser.parse_args()))), flush=True)


if __name__ == "__main__":
    main()
