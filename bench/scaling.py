"""`python -m bench.scaling [--events N]`: the partitioned log against the unpartitioned one, and a
streaming standby, in one run on a PRIVATE primary and standby (tools/devdb.py).

Rows (printed as markdown for docs/benchmarks.md, and as JSON):
- the same log (bench/dataset.py, COPYed) in two databases, one at migration 0004 (one table) and
  one at head (partitioned by position, 100k positions a partition so the log spans several):
  single appends (one event a transaction, as ingest without grouping), batch appends of 100,
  read-all in position order, per-stream reads of random streams;
- the time to DETACH CONCURRENTLY a full old partition while single appends go on;
- replication lag at the standby under the single-append load (positions and milliseconds);
- the rate of projection-version polls (reporting's position watch) on the standby and the primary.
"""

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from alembic import command

from bench import dataset
from shared.db import asyncpg_dsn
from shared.migrate import alembic_config
from tools.devdb import EmbeddedPostgres

PARTITION_SIZE = 100_000
APPEND_SQL = (
    "INSERT INTO eventlog.events (event_id, stream_id, stream_version, type, schema_version, occurred_at, data, "
    "content_hash) SELECT e, s, v, 'bench.appended', 1, now(), '{}', '\\x00' "
    "FROM unnest($1::uuid[], $2::text[], $3::int[]) AS r(e, s, v) RETURNING global_position"
)
STREAM_SQL = {
    "plain": "SELECT * FROM eventlog.events WHERE stream_id = $1 ORDER BY stream_version",
    "partitioned": "SELECT e.* FROM eventlog.event_keys k JOIN eventlog.events e USING (global_position) "
    "WHERE k.stream_id = $1 ORDER BY k.stream_version",
}


async def _sql(url: str, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


def _database(pg: EmbeddedPostgres, name: str, revision: str) -> str:
    asyncio.run(_sql(pg.url(), f"CREATE DATABASE {name}"))
    url = pg.url(name)
    if revision == "head":
        # the first partitions of the bench log are small, so the log spans several
        command.upgrade(alembic_config(url), "head")
        asyncio.run(_sql(url, f"UPDATE eventlog.partition_plan SET size = {PARTITION_SIZE}"))
    else:
        command.upgrade(alembic_config(url), revision)
    return url


async def _repartition(url: str) -> None:
    """At head the migration made partitions of the default size; bench ones of PARTITION_SIZE:
    detach and drop the empty default ones and make small ones ahead of the load."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for row in await conn.fetch(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'eventlog.events'::regclass"
        ):
            await conn.execute(f"DROP TABLE eventlog.{row['relname']}")
        await conn.execute(
            f"CREATE TABLE eventlog.events_p000000 PARTITION OF eventlog.events FOR VALUES FROM (0) TO ({PARTITION_SIZE})"
        )
        await conn.execute("SELECT eventlog.protect_partition('events_p000000')")
        await conn.execute("SELECT eventlog.ensure_partitions(2)")
    finally:
        await conn.close()


async def _keep_ahead(url: str) -> None:
    await _sql(url, "SELECT eventlog.ensure_partitions(2)")


async def _appends(url: str, *, count: int, batch: int, tag: str) -> float:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        started = time.perf_counter()
        for n in range(count // batch):
            streams = [f"bench-{tag}-{n}-{i}" for i in range(batch)]
            await conn.fetch(APPEND_SQL, [uuid.uuid4() for _ in streams], streams, [1] * batch)
        return count / (time.perf_counter() - started)
    finally:
        await conn.close()


async def _read_all(url: str) -> float:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        started = time.perf_counter()
        total = 0
        async with conn.transaction():
            async for _row in conn.cursor(
                "SELECT event_id, global_position, type, occurred_at, data FROM eventlog.events "
                "ORDER BY global_position",
                prefetch=5000,
            ):
                total += 1
        return total / (time.perf_counter() - started)
    finally:
        await conn.close()


async def _per_stream(url: str, shape: str, streams: list[str], reads: int) -> tuple[float, float]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        statement = await conn.prepare(STREAM_SQL[shape])
        rng = random.Random(7)
        took = []
        for _ in range(reads):
            stream = rng.choice(streams)
            started = time.perf_counter()
            await statement.fetch(stream)
            took.append(time.perf_counter() - started)
        return reads / sum(took), statistics.median(took) * 1000
    finally:
        await conn.close()


async def _detach_while_appending(url: str) -> dict[str, float]:
    stop = asyncio.Event()
    appended = 0

    async def appender() -> None:
        nonlocal appended
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            while not stop.is_set():
                await conn.fetch(APPEND_SQL, [uuid.uuid4()], [f"bench-detach-{appended}"], [1])
                appended += 1
        finally:
            await conn.close()

    task = asyncio.create_task(appender())
    await asyncio.sleep(0.5)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetchval("SELECT count(*) FROM eventlog.events_p000000")
        started = time.perf_counter()
        await conn.execute("ALTER TABLE eventlog.events DETACH PARTITION eventlog.events_p000000 CONCURRENTLY")
        took = time.perf_counter() - started
    finally:
        await conn.close()
    before = appended
    await asyncio.sleep(0.5)
    stop.set()
    await task
    return {"rows": rows, "seconds": took, "appends_during_and_after": appended, "appends_by_detach_end": before}


async def _lag_under_appends(primary_url: str, standby_url: str, seconds: float) -> dict[str, float]:
    stop = asyncio.Event()
    appended = 0

    async def appender() -> None:
        nonlocal appended
        conn = await asyncpg.connect(asyncpg_dsn(primary_url))
        try:
            while not stop.is_set():
                await conn.fetch(APPEND_SQL, [uuid.uuid4()], [f"bench-lag-{appended}"], [1])
                appended += 1
        finally:
            await conn.close()

    task = asyncio.create_task(appender())
    primary = await asyncpg.connect(asyncpg_dsn(primary_url))
    standby = await asyncpg.connect(asyncpg_dsn(standby_url))
    positions, millis = [], []
    try:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            head = await primary.fetchval("SELECT pg_sequence_last_value('eventlog.events_position_seq')")
            lag_ms = await primary.fetchval(
                "SELECT coalesce(extract(epoch FROM replay_lag) * 1000, 0) FROM pg_stat_replication LIMIT 1"
            )
            seen = await standby.fetchval("SELECT max(global_position) FROM eventlog.events")
            positions.append(max(head - seen, 0))
            millis.append(float(lag_ms or 0))
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await task
        await primary.close()
        await standby.close()
    return {
        "appends_per_second": appended / seconds,
        "lag_positions_median": statistics.median(positions),
        "lag_positions_max": max(positions),
        "replay_lag_ms_median": statistics.median(millis),
        "replay_lag_ms_p95": sorted(millis)[int(len(millis) * 0.95) - 1],
    }


async def _poll_rate(url: str, seconds: float) -> float:
    """Back-to-back reads of the projection version (what reporting's position watch polls)."""
    from services.reporting.position_watch import _VERSION

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        statement = await conn.prepare(_VERSION)
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            await statement.fetchval()
            count += 1
        return count / (time.perf_counter() - started)
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--appends", type=int, default=3000)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--lag-seconds", type=float, default=10.0)
    parser.add_argument("--json", default=str(Path(tempfile.gettempdir()) / "kaohe-bench-scaling.json"))
    parser.add_argument("--render", help="only print the markdown of an earlier run's JSON file")
    args = parser.parse_args(argv)
    if args.render:
        print(render(json.loads(Path(args.render).read_text())))
        return 0
    results: dict[str, Any] = {"events": args.events}
    with tempfile.TemporaryDirectory(prefix="kaohe-bench-scaling-") as tmp:
        primary = EmbeddedPostgres(Path(tmp) / "primary")
        standby = EmbeddedPostgres(Path(tmp) / "standby")
        primary.start()
        try:
            plain = _database(primary, "bench_plain", "0004")
            parted = _database(primary, "bench_parted", "head")
            asyncio.run(_repartition(parted))
            for url in (plain, parted):
                events = dataset.events(args.events, units=200, source="bench")
                asyncio.run(_load_ahead(url, events, url == parted))
            streams = asyncio.run(_streams(plain))
            for shape, url in (("plain", plain), ("partitioned", parted)):
                row: dict[str, Any] = {}
                row["single_appends_per_s"] = asyncio.run(_appends(url, count=args.appends, batch=1, tag="s"))
                row["batch100_appends_per_s"] = asyncio.run(_appends(url, count=args.appends * 10, batch=100, tag="b"))
                row["read_all_events_per_s"] = asyncio.run(_read_all(url))
                row["per_stream_reads_per_s"], row["per_stream_ms_median"] = asyncio.run(
                    _per_stream(url, shape, streams, args.reads)
                )
                results[shape] = row
            results["partitions"] = asyncio.run(
                _sql(parted, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'eventlog.events'::regclass")
            )
            results["detach"] = asyncio.run(_detach_while_appending(parted))
            standby.start_as_standby_of(primary)
            asyncio.run(_caught_up(parted, standby.url("bench_parted")))
            results["standby_lag"] = asyncio.run(
                _lag_under_appends(parted, standby.url("bench_parted"), args.lag_seconds)
            )
            results["poll_rate"] = {
                "primary": asyncio.run(_poll_rate(parted, 3.0)),
                "standby": asyncio.run(_poll_rate(standby.url("bench_parted"), 3.0)),
            }
        finally:
            standby.destroy()
            primary.destroy()
    Path(args.json).write_text(json.dumps(results, indent=2))
    print(render(results))
    return 0


async def _load_ahead(url: str, events, partitioned: bool) -> None:
    """COPY in chunks, keeping partitions ahead between chunks as the ingest service would."""
    chunk: list = []
    for event in events:
        chunk.append(event)
        if len(chunk) == 50_000:
            if partitioned:
                await _keep_ahead(url)
            await dataset.load(url, iter(chunk))
            chunk = []
    if chunk:
        if partitioned:
            await _keep_ahead(url)
        await dataset.load(url, iter(chunk))
    if partitioned:
        await _keep_ahead(url)


async def _streams(url: str) -> list[str]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch("SELECT DISTINCT stream_id FROM eventlog.events LIMIT 2000")
        return [row["stream_id"] for row in rows]
    finally:
        await conn.close()


async def _caught_up(primary_url: str, standby_url: str) -> None:
    wanted = await _sql(primary_url, "SELECT max(global_position) FROM eventlog.events")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if (await _sql(standby_url, "SELECT max(global_position) FROM eventlog.events") or 0) >= wanted:
                return
        except (OSError, asyncpg.PostgresError):
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the standby did not catch up")


def render(results: dict[str, Any]) -> str:
    plain, parted = results["plain"], results["partitioned"]
    lines = [
        f"Log of {results['events']:,} events (bench/dataset.py); partitioned: {results['partitions']} partitions "
        f"of {PARTITION_SIZE:,} positions. One private primary, same run.",
        "",
        "| workload | one table (0004) | partitioned (0006) | ratio |",
        "|---|---:|---:|---:|",
    ]
    for key, label in (
        ("single_appends_per_s", "single appends, events/s (1 event a transaction)"),
        ("batch100_appends_per_s", "batch appends of 100, events/s"),
        ("read_all_events_per_s", "read-all in position order, events/s"),
        ("per_stream_reads_per_s", "per-stream reads, reads/s"),
        ("per_stream_ms_median", "per-stream read, median ms"),
    ):
        digits = 3 if key.endswith("_ms_median") else 1
        lines.append(
            f"| {label} | {plain[key]:,.{digits}f} | {parted[key]:,.{digits}f} | {parted[key] / plain[key]:.2f} |"
        )
    detach = results["detach"]
    lag = results["standby_lag"]
    lines += [
        "",
        f"DETACH PARTITION CONCURRENTLY of a full partition ({detach['rows']:,} rows) while single appends ran: "
        f"{detach['seconds'] * 1000:,.0f} ms; the appender committed {detach['appends_by_detach_end']:,} "
        "single appends from 0.5 s before the detach to its end, and went on after it.",
        "",
        f"Standby under single appends ({lag['appends_per_second']:,.0f} events/s): lag median "
        f"{lag['lag_positions_median']:.0f} positions (max {lag['lag_positions_max']:.0f}); replay_lag median "
        f"{lag['replay_lag_ms_median']:.1f} ms, p95 {lag['replay_lag_ms_p95']:.1f} ms.",
    ]
    poll = results["poll_rate"]
    lines += [
        "",
        f"Projection-version polls (reporting's position watch query), one connection back to back: primary "
        f"{poll['primary']:,.0f}/s, standby {poll['standby']:,.0f}/s.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
