"""The peer: pyeventsourcing's own PostgreSQL persistence (psycopg 3, its pool, its table lock).

Appends are single-event saves of new aggregates (one `Created` event each, like a submission
opening a new item stream), from 32 threads over a pool of 32 connections: the library is
synchronous, so threads are how it runs concurrently. Read-all is its notification log read in
pages (`select_notifications`) with every notification mapped back to a domain event: the
same decoded-event contract as our projector's reader.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate


class Item(Aggregate):
    """An aggregate whose one event carries a payload shaped like kaohe's `item.submitted` data."""

    def __init__(self, data: dict[str, Any]):
        self.data = data


class Items(Application):
    pass


def _env(url: str, *, pool: int) -> dict[str, str]:
    parts = urlsplit(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_PASSWORD": parts.password or "",
        "POSTGRES_SCHEMA": "peer",
        "POSTGRES_POOL_SIZE": str(pool),
        "POSTGRES_MAX_OVERFLOW": "0",
        "POSTGRES_CONN_MAX_AGE": "",
        "CREATE_TABLE": "y",
    }


def application(url: str, *, pool: int = 32) -> Items:
    _create_schema(url)
    return Items(env=_env(url, pool=pool))


def _create_schema(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        dbname=parts.path.lstrip("/"),
        password=parts.password or "",
        autocommit=True,
    ) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS peer")


def _data(n: int) -> dict[str, Any]:
    return {"item_id": f"E{n}", "unit_id": f"U{n % 200:05d}", "title": f"关于第{n}号工作情况的报告", "kind": "single"}


def append_single(app: Items, *, threads: int = 32, seconds: float = 10.0) -> dict:
    """Single-event appends from `threads` threads for `seconds`; events/s and latency."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(10**12))

    def worker() -> None:
        mine = []
        while time.perf_counter() < deadline:
            with lock:
                n = next(counter)
            started = time.perf_counter()
            app.save(Item(_data(n)))
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rate": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def fill(app: Items, count: int, *, batch: int = 5000) -> None:
    """`count` events through the recorder in large batches (setup for read-all, not measured)."""
    made = 0
    while made < count:
        size = min(batch, count - made)
        stored = [app.mapper.to_stored_event(Item(_data(made + i)).collect_events()[0]) for i in range(size)]
        app.recorder.insert_events(stored)
        made += size


def read_all_decoded(app: Items, *, page: int = 5000) -> dict:
    """The whole notification log, page by page, every notification decoded to a domain event."""
    count, start = 0, 1
    began = time.perf_counter()
    while True:
        notifications = app.recorder.select_notifications(start, page)
        if not notifications:
            break
        for notification in notifications:
            event = app.mapper.to_domain_event(notification)
            count += 1 if event is not None else 0
        start = notifications[-1].id + 1
    elapsed = time.perf_counter() - began
    return {"rate": count / elapsed, "events": count}


def count(app: Items) -> int:
    return app.recorder.max_notification_id() or 0
