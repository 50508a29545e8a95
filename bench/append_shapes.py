"""`python -m bench.append_shapes`: what the shape of an append costs under 64 concurrent writers.

An experiment behind the ingest-single numbers, not one of the reported benchmarks. One event
loop (as in the ingest process) runs 64 writers against a copy of eventlog.events; each append
is a single event. The shapes:

- `three-trips`: the first shape of shared/eventstore.append — BEGIN, the two reads ingest does
  (find_events, load_view), advisory lock, INSERT, NOTIFY, COMMIT: the lock is held across three
  client round trips, each of which waits its turn on a busy event loop, and no two commits can
  share a WAL flush.
- `in-transaction`: today's shape (the lock and the NOTIFY in triggers of the INSERT): lock +
  INSERT + NOTIFY in one statement, then COMMIT: the lock is held across two round trips.
- `autocommit`: the reads first, then lock + INSERT + NOTIFY as one autocommitted statement:
  the lock is held only inside the server, for the INSERT and the commit's WAL flush.
- `no-lock`: INSERT and NOTIFY in one transaction without the lock, the shape of an
  xid8/snapshot-visibility design. PostgreSQL still serialises the commits of transactions that
  sent a NOTIFY (a global lock taken at commit), so this is not yet free.
- `notify-after`: no lock, INSERT autocommitted (commits overlap and share WAL flushes), the
  NOTIFY sent after the commit as its own transaction (no WAL, so the notify lock is brief).
- `no-notify`: INSERT alone, as the raw reference does (the projector would poll instead).
"""

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime

from bench.database import Databases
from bench.raw import _connect

KEY = 0x6B616F6865
TABLE = """
CREATE SCHEMA IF NOT EXISTS shapes;
DROP TABLE IF EXISTS shapes.events;
CREATE TABLE shapes.events (LIKE eventlog.events INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING IDENTITY);
"""
COLUMNS = (
    "(event_id, stream_id, stream_version, type, schema_version, occurred_at, actor, data, metadata, content_hash)"
)
VALUES = "($1, $2, 1, 'item.submitted', 1, $3, '{}'::jsonb, $4::jsonb, '{}'::jsonb, $5)"
INSERT = f"INSERT INTO shapes.events {COLUMNS} VALUES {VALUES} RETURNING global_position"
LOCKED_INSERT = f"""
WITH lock AS (SELECT pg_advisory_xact_lock({KEY})),
     row AS (INSERT INTO shapes.events {COLUMNS} SELECT $1, $2, 1, 'item.submitted', 1, $3, '{{}}'::jsonb, $4::jsonb,
                                                     '{{}}'::jsonb, $5 FROM lock RETURNING global_position)
SELECT global_position, pg_notify('kaohe_shapes', global_position::text) FROM row"""
SHAPES = ("three-trips", "in-transaction", "autocommit", "no-lock", "notify-after", "no-notify")
READ_ID = "SELECT event_id FROM shapes.events WHERE event_id = ANY($1::uuid[])"
READ_STREAMS = "SELECT data FROM shapes.events WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version"


async def _append(conn, shape: str) -> None:
    event_id, now = uuid.uuid4(), datetime.now(UTC)
    args = (event_id, f"item-{event_id.hex}", now, '{"unit_id": "U1", "title": "t", "kind": "single"}', event_id.bytes)
    if shape in ("three-trips", "in-transaction"):
        async with conn.transaction():
            await conn.fetch(READ_ID, [event_id])
            await conn.fetch(READ_STREAMS, ["unit-U1", args[1]])
            if shape == "three-trips":
                await conn.execute(f"SELECT pg_advisory_xact_lock({KEY})")
                position = await conn.fetchval(INSERT, *args)
                await conn.execute("SELECT pg_notify('kaohe_shapes', $1)", str(position))
            else:
                await conn.fetchrow(LOCKED_INSERT, *args)
        return
    await conn.fetch(READ_ID, [event_id])
    await conn.fetch(READ_STREAMS, ["unit-U1", args[1]])
    if shape == "autocommit":
        await conn.fetchrow(LOCKED_INSERT, *args)
    elif shape == "no-lock":
        async with conn.transaction():
            position = await conn.fetchval(INSERT, *args)
            await conn.execute("SELECT pg_notify('kaohe_shapes', $1)", str(position))
    elif shape == "notify-after":
        position = await conn.fetchval(INSERT, *args)
        await conn.execute("SELECT pg_notify('kaohe_shapes', $1)", str(position))
    else:
        await conn.fetchval(INSERT, *args)


async def measure(url: str, shape: str, *, writers: int, seconds: float) -> dict:
    conns = [await _connect(url) for _ in range(min(writers, 40))]  # ingest's pool: 20 + 20 overflow
    pool: asyncio.Queue = asyncio.Queue()
    for conn in conns:
        pool.put_nowait(conn)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def writer() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            conn = await pool.get()
            try:
                await _append(conn, shape)
            finally:
                pool.put_nowait(conn)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(c.close() for c in conns))
    latencies.sort()
    return {
        "shape": shape,
        "rate": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


async def main_async(args: argparse.Namespace) -> None:
    dbs = Databases()
    url = await dbs.create()
    try:
        conn = await _connect(url)
        await conn.execute(TABLE)
        await conn.close()
        for _ in range(args.runs):
            for shape in SHAPES:
                r = await measure(url, shape, writers=args.writers, seconds=args.seconds)
                print(
                    f"{r['shape']:>14}: {r['rate']:8,.0f} appends/s  p50 {r['p50_ms']:6.1f} ms  "
                    f"p99 {r['p99_ms']:6.1f} ms",
                    flush=True,
                )
    finally:
        await dbs.drop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=1)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
