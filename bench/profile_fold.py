"""Profile the projection fold-and-write path outside the services: read → hydrate/fold → write.

    .venv/bin/python -m bench.profile_fold --events 200000 [--chunk 5000] [--prof] [--mode loop|pipeline] [--statements]

The loaded log is kept in a database of its own (`kaohe_prof_<events>`) so repeated runs skip
the load; `--reload` makes it again. `loop` is the plain sequential loop (read a chunk, hydrate,
fold, write in a transaction); `pipeline` is the rebuild's bulk phase (`ChunkFolder.fold_log`,
running sums written at the end, asynchronous commits, secondary indexes built last). Each run folds into a fresh generation schema and drops it afterwards.
"""

import argparse
import asyncio
import cProfile
import os
import pstats
import time

import asyncpg

from bench import dataset
from services.scoring.folding import ChunkFolder
from services.scoring.log_reader import read_chunk
from services.scoring.projection_writer import write_outcomes
from shared.db import connect_raw
from shared.migrate import upgrade
from shared.policy_files import load_policies
from shared.projection_schema import generation_ddl
from shared.settings import Settings
from tests.support.database import server_url, with_database

SCHEMA = "proj_gprof"


async def _database(events: int, reload: bool) -> str:
    server = server_url()
    name = f"kaohe_prof_{events}"
    admin = await asyncpg.connect(server.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and reload:
            await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
            exists = False
        if not exists:
            await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    url = with_database(server, name)
    if not exists:
        await asyncio.to_thread(upgrade, url)
        loaded = await dataset.load(url, dataset.events(events, units=200))
        print(f"loaded {loaded:,} events into {name}")
    return url


async def _loop(conn, folder: ChunkFolder, zone, chunk: int, version: str) -> tuple[int, dict[str, float]]:
    times = {"read": 0.0, "fold": 0.0, "write": 0.0}
    position = processed = 0
    while True:
        a = time.perf_counter()
        events = await read_chunk(conn, after=position, until=2**62, limit=chunk, zone=zone)
        if not events:
            return processed, times
        b = time.perf_counter()
        await folder.hydrate(conn, events)
        state, outcomes = folder.fold(events)
        c = time.perf_counter()
        async with conn.transaction():
            await write_outcomes(
                conn, SCHEMA, outcomes, position=events[-1].position, policy_version=version, notify=False
            )
        folder.accept(state)
        position = events[-1].position
        processed += len(events)
        times["read"] += b - a
        times["fold"] += c - b
        times["write"] += time.perf_counter() - c


class _Timed:
    """A connection that adds up the time of each statement kind (first 60 characters)."""

    def __init__(self, conn, spent: dict[str, float]):
        self._conn, self._spent = conn, spent

    def __getattr__(self, name):
        attr = getattr(self._conn, name)
        if name not in ("execute", "fetch", "fetchval", "copy_records_to_table"):
            return attr

        async def timed(*args, **kwargs):
            key = f"{name} {' '.join(str(args[0]).split())[:60]}"
            started = time.perf_counter()
            try:
                return await attr(*args, **kwargs)
            finally:
                self._spent[key] = self._spent.get(key, 0.0) + time.perf_counter() - started

        return timed


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of processes (the PostgreSQL backends of the run), from /proc."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return 0


async def _pipeline(
    conn,
    url: str,
    folder: ChunkFolder,
    zone,
    chunk: int,
    version: str,
    backends: list[int],
    indexes: bool = True,
    staged: bool = True,
):
    """The rebuild's bulk phase: `fold_log` with deferred totals (staged and added up at the end, as
    the rebuild does, or upserted per flush with `staged` False), asynchronous commits, indexes last."""
    from services.scoring.projection_writer import Totals, add_up_staged, staged_totals_ddl
    from shared.projection_schema import secondary_index_ddl

    async def flush(totals: Totals) -> None:
        await (totals.stage if staged else totals.write)(conn, SCHEMA)

    reader = await connect_raw(url)
    backends.append(await reader.fetchval("SELECT pg_backend_pid()"))
    await conn.execute("SET synchronous_commit = off")
    if staged:
        await conn.execute(staged_totals_ddl(SCHEMA))
    totals, done = Totals(), [0]
    times = {"write": 0.0, "finish": 0.0}

    async def write(events, outcomes):
        started = time.perf_counter()
        async with conn.transaction():
            await write_outcomes(
                conn,
                SCHEMA,
                outcomes,
                position=events[-1].position,
                policy_version=version,
                notify=False,
                totals=totals,
            )
            if len(totals) > 200_000:
                await flush(totals)
        done[0] += len(events)
        times["write"] += time.perf_counter() - started

    try:
        await folder.fold_log(reader, zone=zone, after=0, until=2**62, chunk=chunk, write=write)
        started = time.perf_counter()
        async with conn.transaction():
            await flush(totals)
            if staged:
                await add_up_staged(conn, SCHEMA)
            for statement in secondary_index_ddl(SCHEMA) if indexes else ():
                await conn.execute(statement)
        times["finish"] = time.perf_counter() - started
    finally:
        await reader.close()
    return done[0], times


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=5000)
    parser.add_argument("--mode", choices=("loop", "pipeline"), default="loop")
    parser.add_argument("--prof", action="store_true")
    parser.add_argument("--indexes-first", action="store_true", help="pipeline: secondary indexes before the load")
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--statements", action="store_true", help="time each statement kind of the write")
    parser.add_argument(
        "--totals", choices=("staged", "upsert"), default="staged", help="pipeline: how sums are written"
    )
    args = parser.parse_args()
    url = await _database(args.events, args.reload)
    settings = Settings()
    policies = load_policies(settings.policy_dir, settings.zone)
    conn = await connect_raw(url)
    await conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    for statement in generation_ddl(SCHEMA, secondary_indexes=args.mode == "loop" or args.indexes_first):
        await conn.execute(statement)
    folder = ChunkFolder(policies, SCHEMA)
    spent: dict[str, float] = {}
    if args.statements:
        conn = _Timed(conn, spent)
    backends = [await conn.fetchval("SELECT pg_backend_pid()")]
    profile = cProfile.Profile()
    if args.prof:
        profile.enable()
    started, cpu, pg_cpu = time.perf_counter(), time.process_time(), _cpu_seconds(backends)
    try:
        if args.mode == "loop":
            processed, times = await _loop(conn, folder, settings.zone, args.chunk, policies.current.version)
        else:
            processed, times = await _pipeline(
                conn,
                url,
                folder,
                settings.zone,
                args.chunk,
                policies.current.version,
                backends,
                indexes=not args.indexes_first,
                staged=args.totals == "staged",
            )
        seconds = time.perf_counter() - started
        cpu, pg_cpu = time.process_time() - cpu, _cpu_seconds(backends) - pg_cpu
    finally:
        profile.disable()
        await conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        await conn.close()
    parts = "  ".join(f"{k} {v:.2f}s" for k, v in times.items())
    print(
        f"{args.mode} chunk {args.chunk}: {processed:,} events in {seconds:.2f}s = {processed / seconds:,.0f}/s  {parts}"
        f"  | cpu: python {cpu:.2f}s postgres {pg_cpu:.2f}s  | peak RSS {_peak_rss_mib()} MiB"
    )
    for key, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {seconds:7.2f}s  {key}")
    if args.prof:
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    asyncio.run(main())
