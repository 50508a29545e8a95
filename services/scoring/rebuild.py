"""Rebuilding the projection into a new generation while the live one keeps serving.

Any instance accepts a rebuild request: a row in `scoring.rebuild_jobs` plus a NOTIFY on
`kaohe_rebuild`, so every instance can answer its progress. Only the instance that holds the
projector lock runs it, from inside its projector task (`Rebuilds.step`), in three steps:

1. Bulk, in a task of its own on its own connection: create `proj_gN`, stream the log in chunks
   through the fold (`fold.apply`, the projector's own function) and COPY each chunk with the new
   generation's checkpoint, until it is within one chunk of the head. Memory holds one chunk and
   the fold state. Meanwhile the live projector keeps folding into the active generation and
   readers keep reading it.
2. Close the gap, in the projector task with catch-up paused: fold the new generation up to the
   head and commit. It is now at least as far as the live generation, so a reader whose snapshot
   predates the switch but whose views already resolve to the new generation (views are resolved
   with the newest catalog, data with the old snapshot) still never sees an older projection
   than the one it was served before.
3. Switch, in one transaction on the projector's connection (which holds the lock, so no other
   instance can be switching): fold the few events appended since step 2, point the `proj` views
   at the new generation, update `scoring.active_generation`, mark the job succeeded and NOTIFY
   `kaohe_projection`. The projector then continues in the new generation with the rebuilt fold
   state, and older generations are dropped.

If the projecting instance stops mid-rebuild, the job stays `running`; the next instance to take
the projector lock drops the half-built schema and starts the job again.
"""

import asyncio
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.scoring.folding import ChunkFolder
from services.scoring.log_reader import read_chunk
from services.scoring.projection_writer import Totals, add_up_staged, staged_totals_ddl, write_outcomes
from shared.db import connect_raw
from shared.domain.evolve import LogEvent, Outcome
from shared.eventstore import PROJECTION_CHANNEL
from shared.projection_schema import (
    PROJECTION_TABLES,
    READ_SCHEMA,
    generation_ddl,
    secondary_index_ddl,
    switch_views_ddl,
)

log = logging.getLogger("kaohe.rebuild")
REBUILD_CHANNEL = "kaohe_rebuild"
NOW = 2**62
_GENERATION = re.compile(r"^proj_g[0-9]+$")
READER_ROLE = "kaohe_reporting"  # migration 0003; its tables come with default privileges
SWITCH_LOCK_TIMEOUT = "1s"  # readers queue behind the switch while it waits: keep it short, retry
SWITCH_RETRY_SECONDS = 0.1
_HEAD = "SELECT coalesce(max(global_position), 0) FROM eventlog.events"
BULK_BATCHES = 10  # a bulk chunk (one transaction) is this many projector batches; three are in memory
TOTALS_FLUSH = 200_000  # running-sum changes kept in memory before the bulk writes them


async def request_rebuild(conn: AsyncConnection, *, requested_by: str) -> str:
    """Queue a rebuild, or join the one already running; returns its job id. The caller commits."""
    for _attempt in range(3):
        inserted = (
            await conn.execute(
                text(
                    "INSERT INTO scoring.rebuild_jobs (job_id, state, requested_by) VALUES (:id, 'running', :by) "
                    "ON CONFLICT DO NOTHING RETURNING job_id::text"
                ),
                {"id": uuid.uuid4(), "by": requested_by},
            )
        ).scalar()
        job_id = (
            inserted
            or (
                await conn.execute(text("SELECT job_id::text FROM scoring.rebuild_jobs WHERE state = 'running'"))
            ).scalar()
        )
        if job_id is not None:
            await conn.execute(text("SELECT pg_notify(:channel, :job)"), {"channel": REBUILD_CHANNEL, "job": job_id})
            return job_id
    raise RuntimeError("could not queue a rebuild")  # a job finished between each insert and select


async def job_status(conn: AsyncConnection, job_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        (
            await conn.execute(
                text(
                    "SELECT job_id::text, state, processed, total, events_per_second, schema_name, position, error, "
                    "requested_at, started_at, finished_at FROM scoring.rebuild_jobs WHERE job_id = :id"
                ),
                {"id": job_id},
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    body = dict(row)
    body["schema"] = body.pop("schema_name")
    body["events_per_second"] = round(body["events_per_second"], 1)
    for key in ("requested_at", "started_at", "finished_at"):
        body[key] = body[key].isoformat() if body[key] else None
    return body


@dataclass
class Build:
    """A generation being filled: its fold state (in a ChunkFolder), where it is, how much is done."""

    job_id: str
    folder: ChunkFolder | None = None
    position: int = 0
    processed: int = 0
    total: int = 0
    started: float = 0.0

    @property
    def schema(self) -> str | None:
        return self.folder.schema if self.folder else None

    @property
    def events_per_second(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.processed / elapsed if elapsed > 0 else 0.0


class Rebuilds:
    """Runs rebuild jobs inside the projecting instance; the projector loop calls `step`."""

    def __init__(self, projector):
        self.projector = projector
        self.pending = True  # a request may predate this leader: look once at start
        self.task: asyncio.Task | None = None
        self.build: Build | None = None
        self.ready = False

    def notice(self) -> None:
        """A rebuild was requested (or the slow poll ran): look for a job at the next step."""
        self.pending = True

    async def step(self, conn) -> None:
        """Start a requested job, or finish one whose bulk phase is done."""
        if self.task is not None and self.task.done():
            task, self.task = self.task, None
            exc = task.exception()
            if exc is not None:
                await self._fail(conn, exc)
                return
            self.ready = True
        if self.ready:
            await self._finish(conn)
            return
        if self.task is not None or not self.pending:
            return
        self.pending = False
        job = await conn.fetchrow("SELECT job_id::text, schema_name FROM scoring.rebuild_jobs WHERE state = 'running'")
        if job is None:
            return
        if job["schema_name"]:  # left half-built by a leader that stopped: start again
            await self._drop(conn, job["schema_name"])
        self.build = Build(job_id=job["job_id"])
        self.task = asyncio.create_task(self._bulk(self.build), name=f"rebuild-{job['job_id']}")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except BaseException:
                pass
            self.task = None

    async def _finish(self, conn) -> None:
        build = self.build
        assert build is not None  # `ready` is set only when a build's bulk phase is done
        try:
            await self._switch(conn, build)
        except asyncpg.exceptions.LockNotAvailableError:
            # A reader held the projection longer than the lock timeout: the new generation is
            # intact, so try again at the next step (the slow poll or the next append).
            log.info("rebuild %s: readers held the projection; the switch will be retried", build.job_id)
            asyncio.get_running_loop().call_later(SWITCH_RETRY_SECONDS, self.projector.wake)
            return
        except Exception as exc:
            if conn.is_closed():
                raise
            await self._fail(conn, exc)
            return
        self.build, self.ready = None, False

    # --- the three steps --------------------------------------------------------------------------

    async def _bulk(self, build: Build) -> None:
        p = self.projector
        conn = await connect_raw(p.url, role=p.role)
        reader = await connect_raw(p.url, role=p.role)  # the log and hydration, while `conn` writes
        try:
            # Bulk commits need not wait for the disk: a crash mid-rebuild starts the job again from
            # nothing (the half-built generation is dropped), so a lost tail of commits loses nothing.
            # Only this connection's bulk phase: the switch, on the projector's connection, commits
            # synchronously, and flushing its commit record flushes all of this WAL before it.
            await conn.execute("SET synchronous_commit = off")
            number = await conn.fetchval("SELECT nextval('scoring.generation_seq')")
            folder = build.folder = ChunkFolder(p.policies, f"proj_g{number}", cache_limit=p.cache_limit)
            schema = folder.schema
            build.started = time.monotonic()
            async with conn.transaction():
                for statement in generation_ddl(schema, secondary_indexes=False):
                    await conn.execute(statement)
                await conn.execute(staged_totals_ddl(schema))
                await conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {READER_ROLE}")
                await conn.execute(
                    "UPDATE scoring.rebuild_jobs SET schema_name = $2, started_at = clock_timestamp() "
                    "WHERE job_id = $1::uuid",
                    build.job_id,
                    schema,
                )
            log.info("rebuild %s: folding the log into %s", build.job_id, schema)
            # The running sums are added up in memory across chunks, staged in large batches and
            # summed into the totals before the secondary indexes: until then the generation's totals
            # lag its checkpoint, which no one sees (it is not active, and a restart rebuilds it whole).
            totals = Totals()

            async def write(events: list[LogEvent], outcomes: list[Outcome]) -> None:
                async with conn.transaction():
                    await write_outcomes(
                        conn,
                        schema,
                        outcomes,
                        position=events[-1].position,
                        policy_version=p.policies.current.version,
                        notify=False,
                        totals=totals,
                    )
                    if len(totals) > TOTALS_FLUSH:
                        await totals.stage(conn, schema)
                    build.position = events[-1].position
                    build.processed += len(events)
                    build.total = max(build.total, build.processed)
                    await _progress(conn, build)

            previous_gap = None
            while True:
                head = await reader.fetchval(_HEAD)
                build.total = build.processed + await reader.fetchval(
                    "SELECT count(*) FROM eventlog.events WHERE global_position > $1 AND global_position <= $2",
                    build.position,
                    head,
                )
                gap = head - build.position
                # Close to the head, or appends outpace a fold that shares the process with the live
                # projector: the projector task finishes the catch-up alone (steps 2 and 3).
                if gap <= p.batch_size or (previous_gap is not None and gap >= previous_gap):
                    break
                previous_gap = gap
                # (the fold turns the event loop every few hundred events: the API and the projector run)
                await folder.fold_log(
                    reader,
                    zone=p.zone,
                    after=build.position,
                    until=head,
                    chunk=p.batch_size * BULK_BATCHES,
                    write=write,
                )
            async with conn.transaction():
                await totals.stage(conn, schema)
                await add_up_staged(conn, schema)
                for statement in secondary_index_ddl(schema):
                    await conn.execute(statement)
                # statistics before the switch: the generation's first readers (audits) get plans for
                # its real sizes, not for empty tables, without waiting for autovacuum (or without it)
                tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
                await conn.execute("ANALYZE " + ", ".join(f"{schema}.{row['tablename']}" for row in tables))
        finally:
            await reader.close()
            await conn.close()
            p.wake()  # the projector loop finishes (or fails) the job

    async def _switch(self, conn, build: Build) -> None:
        p = self.projector
        # Step 2: the live projection stands still while the new one reaches the head.
        while events := await read_chunk(conn, after=build.position, until=NOW, limit=p.batch_size, zone=p.zone):
            await self._fold_chunks(conn, build, events)
        # Step 3: the last events and the switch, atomically. Taking `active_generation` first
        # waits for readers that already read it (they finish on the old generation) and holds
        # back new ones until the views point at the new generation. Then every view at once and
        # without waiting (NOWAIT): readers lock the views in their own orders (an audit reads the
        # checkpoint, then the lines; a ledger the lines, then the checkpoint), so a switch that
        # held one view while waiting for another could close a cycle with such a reader (a
        # deadlock, one side aborted). The switch never waits while it holds a view: if a reader
        # still holds one, the transaction rolls back and the switch is retried shortly.
        old_schema = p.status.schema
        folder = build.folder
        assert folder is not None  # set by the bulk phase, which is done
        schema = folder.schema
        saved = (folder.state, build.position, build.processed)
        try:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL lock_timeout = '{SWITCH_LOCK_TIMEOUT}'")
                await conn.execute("LOCK TABLE scoring.active_generation IN ACCESS EXCLUSIVE MODE")
                await conn.execute(
                    f"LOCK TABLE {', '.join(f'{READ_SCHEMA}.{t}' for t in PROJECTION_TABLES)} "
                    "IN ACCESS EXCLUSIVE MODE NOWAIT"
                )
                while events := await read_chunk(
                    conn, after=build.position, until=NOW, limit=p.batch_size, zone=p.zone
                ):
                    await self._fold(conn, build, events)
                for statement in switch_views_ddl(schema):
                    await conn.execute(statement)
                await conn.execute("UPDATE scoring.active_generation SET schema_name = $1 WHERE id = 1", schema)
                await conn.execute(
                    "UPDATE scoring.rebuild_jobs SET state = 'succeeded', finished_at = clock_timestamp(), "
                    "processed = $2, total = $2, events_per_second = $3, position = $4 WHERE job_id = $1::uuid",
                    build.job_id,
                    build.processed,
                    build.events_per_second,
                    build.position,
                )
                await conn.execute("SELECT pg_notify($1, $2)", PROJECTION_CHANNEL, f"{schema}:{build.position}")
        except BaseException:
            folder.state, build.position, build.processed = saved  # nothing of it was committed
            raise
        p.adopt_generation(folder=folder, position=build.position)
        log.info("rebuild %s: %s is active at position %s (was %s)", build.job_id, schema, build.position, old_schema)
        for row in await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname ~ '^proj_g[0-9]+$' AND nspname <> $1", schema
        ):
            await self._drop(conn, row["nspname"])

    async def _fold_chunks(self, conn, build: Build, events: list[LogEvent]) -> None:
        """Fold a chunk into the new generation in a transaction of its own, with the job's progress."""
        folder = build.folder
        assert folder is not None  # set by the bulk phase, which is done
        saved = (folder.state, build.position, build.processed)
        try:
            async with conn.transaction():
                await self._fold(conn, build, events)
                await _progress(conn, build)
        except BaseException:
            folder.state, build.position, build.processed = saved
            raise

    async def _fold(self, conn, build: Build, events: list[LogEvent]) -> None:
        """Fold a chunk with `fold.apply` and write it; the caller owns the transaction (and undoes
        the in-memory advance if it does not commit)."""
        folder = build.folder
        assert folder is not None  # set by the bulk phase, which is done
        await folder.hydrate(conn, events)
        state, outcomes = folder.fold(events)
        await write_outcomes(
            conn,
            folder.schema,
            outcomes,
            position=events[-1].position,
            policy_version=self.projector.policies.current.version,
            notify=False,
        )
        folder.accept(state)
        build.position = events[-1].position
        build.processed += len(events)
        build.total = max(build.total, build.processed)

    async def _fail(self, conn, exc: BaseException) -> None:
        build, self.build, self.ready = self.build, None, False
        assert build is not None  # a job fails only while it is being built
        log.error("rebuild %s failed: %r", build.job_id, exc)
        await conn.execute(
            "UPDATE scoring.rebuild_jobs SET state = 'failed', finished_at = clock_timestamp(), "
            "error = $2 WHERE job_id = $1::uuid",
            build.job_id,
            f"{type(exc).__name__}: {exc}"[:2000],
        )
        if build.schema:
            await self._drop(conn, build.schema)

    async def _drop(self, conn, schema: str) -> None:
        """Drop a generation that is not active; a reader still inside it only delays the drop."""
        if not _GENERATION.match(schema) or schema == self.projector.status.schema:
            return
        try:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL lock_timeout = '{SWITCH_LOCK_TIMEOUT}'")
                await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        except Exception as exc:
            if conn.is_closed():
                raise
            log.warning("could not drop old generation %s: %s", schema, exc)


async def _progress(conn, build: Build) -> None:
    await conn.execute(
        "UPDATE scoring.rebuild_jobs SET processed = $2, total = $3, events_per_second = $4 WHERE job_id = $1::uuid",
        build.job_id,
        build.processed,
        build.total,
        build.events_per_second,
    )
