"""References from asyncpg alone: single-row INSERT+COMMIT at 32 connections, COPY of 1000-row batches,
and a read-all through a server-side cursor with orjson decoding.

The table has the log's shape (identity position, unique event id, unique stream+version, the
same indexes, jsonb), in its own schema, without kaohe's append lock or checks: what PostgreSQL
and the driver can do on this machine, which kaohe's rates are divided by.
"""

import asyncio
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import orjson

from bench.dataset import ACTOR
from shared.db import asyncpg_dsn
from shared.eventstore import COPY_COLUMNS

TABLE = """
CREATE SCHEMA IF NOT EXISTS bench_raw;
DROP TABLE IF EXISTS bench_raw.events;
CREATE TABLE bench_raw.events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    stream_id text COLLATE "C" NOT NULL,
    stream_version int NOT NULL,
    type text NOT NULL,
    schema_version smallint NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor jsonb,
    data jsonb NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    content_hash bytea NOT NULL,
    UNIQUE (stream_id, stream_version));
CREATE INDEX ON bench_raw.events (type, global_position);
CREATE INDEX ON bench_raw.events (recorded_at);
"""
INSERT = (
    "INSERT INTO bench_raw.events (event_id, stream_id, stream_version, type, schema_version, occurred_at, "
    "actor, data, metadata, content_hash) VALUES ($1, $2, 1, 'item.submitted', 1, $3, $4, $5, '{}', $6)"
)
COLUMNS = COPY_COLUMNS  # the log's own columns (shared.eventstore)


async def _connect(url: str, *, binary_json: bool = False) -> asyncpg.Connection:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    if binary_json:
        await conn.set_type_codec(
            "jsonb",
            schema="pg_catalog",
            format="binary",
            encoder=lambda v: b"\x01" + orjson.dumps(v),
            decoder=lambda b: orjson.loads(b[1:]),
        )
    else:
        for name in ("json", "jsonb"):
            await conn.set_type_codec(
                name, schema="pg_catalog", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads
            )
    return conn


async def prepare(url: str) -> None:
    conn = await _connect(url)
    try:
        await conn.execute(TABLE)
    finally:
        await conn.close()


def _data(n: int) -> dict:
    return {"item_id": f"R{n}", "unit_id": f"U{n % 200:05d}", "title": f"关于第{n}号工作情况的报告", "kind": "single"}


async def single_row_commits(url: str, *, connections: int = 32, seconds: float = 10.0) -> dict:
    """Each connection in autocommit: one INSERT = one transaction = one WAL flush (group commit helps)."""
    conns = [await _connect(url) for _ in range(connections)]
    now = datetime.now(UTC)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(conn: asyncpg.Connection) -> None:
        while time.perf_counter() < deadline:
            n = uuid.uuid4()
            started = time.perf_counter()
            await conn.execute(INSERT, n, f"item-{n.hex}", now, ACTOR, _data(n.int % 10**9), n.bytes)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        elapsed = time.perf_counter() - started
        await asyncio.gather(*(c.close() for c in conns))
    latencies.sort()
    return {
        "rate": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


async def copy_batches(url: str, *, batch: int = 1000, seconds: float = 10.0) -> dict:
    """One connection COPYing 1000-row batches back to back, each batch its own transaction."""
    conn = await _connect(url, binary_json=True)
    now = datetime.now(UTC)
    rows = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    try:
        while time.perf_counter() < deadline:
            records = []
            for _ in range(batch):
                n = uuid.uuid4()
                records.append(
                    (n, f"item-{n.hex}", 1, "item.submitted", 1, now, ACTOR, _data(n.int % 10**9), {}, n.bytes)
                )
            await conn.copy_records_to_table("events", schema_name="bench_raw", records=records, columns=COLUMNS)
            rows += batch
    finally:
        elapsed = time.perf_counter() - started
        await conn.close()
    return {"rate": rows / elapsed}


async def read_all_decoded(url: str, *, limit: int | None = None, prefetch: int = 5000) -> dict:
    """Every event of eventlog.events through a cursor, jsonb decoded by orjson: the floor for a reader."""
    conn = await _connect(url)
    count = 0
    started = time.perf_counter()
    try:
        async with conn.transaction():
            query = (
                "SELECT event_id::text, global_position, type, occurred_at, data FROM eventlog.events "
                "ORDER BY global_position" + (f" LIMIT {int(limit)}" if limit else "")
            )
            async for row in conn.cursor(query, prefetch=prefetch):
                count += 1 if row[4] is not None else 0
    finally:
        elapsed = time.perf_counter() - started
        await conn.close()
    return {"rate": count / elapsed, "events": count}
