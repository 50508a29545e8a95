"""The projector: folds the log into the active projection generation, exactly once.

One instance projects at a time: it holds a session-level advisory lock on the connection it
writes with, so if that connection dies the lock goes with it and a standby takes over. A leader
that is frozen rather than dead (SIGSTOP, a paused VM, an event loop stuck in CPU work) keeps its
socket open, so the lock is also a lease: the session asks the server to end it after
`lease_seconds` of idleness (`idle_session_timeout`, `idle_in_transaction_session_timeout`) or of
unacknowledged data (`tcp_user_timeout`), and the leader runs a statement at least every third of
that (a heartbeat). A frozen leader misses its heartbeats, the server ends its session, the lock is
released and a standby (which tries every second) takes over within about `lease_seconds` + 1 s.
When the frozen process resumes, its connection is gone: it reconnects and stands by. Each batch
of lines and the checkpoint are written in one transaction, so a crash leaves the projection
exactly at its checkpoint. On start (or takeover) the fold state is read back from the
generation at its checkpoint (services/scoring/folding.py), then catch-up continues from there.
"""

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from services.scoring.folding import CACHE_LIMIT, ChunkFolder
from services.scoring.log_reader import read_chunk
from services.scoring.projection_writer import write_outcomes
from services.scoring.rebuild import REBUILD_CHANNEL, Rebuilds
from shared.db import connect_raw, left_mid_protocol
from shared.domain.evolve import FoldError
from shared.domain.policy import PolicySet
from shared.eventstore import EVENTS_CHANNEL

log = logging.getLogger("kaohe.projector")
# Faults that pass: the connection or the server went away; a new connection may succeed.
CONNECTION_LOST = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
)
PROJECTOR_LOCK_KEY = 0x6B616F6870  # one projector per database


@dataclass
class ProjectorStatus:
    role: str = "starting"  # starting | standby | projecting | failed
    schema: str | None = None
    checkpoint: int = 0
    last_batch_at: float | None = None
    error: str | None = None
    stopped_at: dict[str, Any] | None = None  # where a failed projection stopped: position, type, event
    events_projected: int = 0
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)


async def active_schema(conn) -> str:
    return await conn.fetchval("SELECT schema_name FROM scoring.active_generation WHERE id = 1")


class Projector:
    """Runs until cancelled: standby until it holds the lock, then catch up and follow the log."""

    def __init__(
        self,
        *,
        url: str,
        role: str | None,
        policies: PolicySet,
        zone: ZoneInfo,
        batch_size: int,
        poll_seconds: float,
        cache_limit: int = CACHE_LIMIT,
        lease_seconds: float = 6.0,
    ):
        self.url = url
        self.role = role
        self.policies = policies
        self.zone = zone
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.status = ProjectorStatus()
        self._wake = asyncio.Event()
        self.conn = None
        self.cache_limit = cache_limit
        self.folder: ChunkFolder | None = None
        self._chunk: dict[str, Any] | None = None  # the events being projected, for a failure's report
        self.lease_seconds = lease_seconds
        # the wait between two statements on the lock connection when nothing happens
        self.heartbeat_seconds = min(poll_seconds, lease_seconds / 3)

    async def run(self) -> None:
        while True:
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except FoldError as exc:
                # A fold error is a bug or a bad policy, not a passing fault: stop and say where.
                self._stop(exc, {"position": exc.position, "event_type": exc.event_type, "event_id": exc.event_id})
                return
            except Exception as exc:
                if not (isinstance(exc, CONNECTION_LOST) or left_mid_protocol(exc)):
                    # Anything else but a lost connection would fail again the same way: stop, say where.
                    self._stop(exc, self._chunk)
                    return
                self.status.role, self.status.error = "starting", f"{type(exc).__name__}: {exc}"
                log.warning("projector lost its connection (%s); retrying", exc)
                await asyncio.sleep(1.0)
            finally:
                await self._close()

    def _stop(self, exc: BaseException, where: dict[str, Any] | None) -> None:
        self.status.role, self.status.error = "failed", f"{type(exc).__name__}: {exc}"
        self.status.stopped_at = where
        log.error("projection stopped at %s: %s", where, self.status.error)

    async def _close(self) -> None:
        if self.conn is not None:
            try:
                await asyncio.wait_for(self.conn.close(), timeout=2)
            except Exception:
                self.conn.terminate()
            self.conn = None

    async def _lead(self) -> None:
        lease_ms = str(int(self.lease_seconds * 1000))
        self.conn = conn = await connect_raw(
            self.url,
            role=self.role,
            # a statement that hangs (a frozen database) ends the session here too, after a while
            command_timeout=max(60.0, 10 * self.lease_seconds),
            server_settings={
                "idle_session_timeout": lease_ms,
                "idle_in_transaction_session_timeout": lease_ms,
                "tcp_user_timeout": lease_ms,
                "tcp_keepalives_idle": str(max(1, int(self.lease_seconds / 3))),
                "tcp_keepalives_interval": "1",
                "tcp_keepalives_count": "3",
            },
        )
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", PROJECTOR_LOCK_KEY):
            self.status.role = "standby"
            await asyncio.sleep(1.0)
        await conn.add_listener(EVENTS_CHANNEL, lambda *_: self._wake.set())
        schema = await active_schema(conn)
        checkpoint = await conn.fetchval(f"SELECT position FROM {schema}.checkpoint")
        folder = ChunkFolder(self.policies, schema, cache_limit=self.cache_limit)
        await folder.restore(conn)
        self.folder = folder
        self.status.role, self.status.schema, self.status.checkpoint = "projecting", schema, checkpoint
        self.status.error = None
        log.info("projecting into %s from position %s", schema, checkpoint)
        # Rebuilds run inside the projecting instance: the switch happens between two catch-ups.
        rebuilds = Rebuilds(self)

        def on_rebuild_request(*_: object) -> None:
            rebuilds.notice()
            self._wake.set()

        await conn.add_listener(REBUILD_CHANNEL, on_rebuild_request)
        try:
            while True:
                self._wake.clear()
                moved = await self.catch_up(conn)  # a rebuild may have switched the generation
                await rebuilds.step(conn)
                if not moved:
                    self.status.caught_up.set()
                    await self._idle(conn, rebuilds)
        finally:
            await rebuilds.stop()

    async def _idle(self, conn, rebuilds: Rebuilds) -> None:
        """Wait for an append (or the slow poll), sending a heartbeat on the lock connection every
        `heartbeat_seconds` so the server keeps the lease (see the module's docstring)."""
        loop = asyncio.get_running_loop()
        poll_at = loop.time() + self.poll_seconds
        while not self._wake.is_set():
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=min(self.heartbeat_seconds, poll_at - loop.time()))
            except TimeoutError:
                await conn.execute("SELECT 1")  # the heartbeat; also notices a dead connection
                if loop.time() >= poll_at:
                    rebuilds.notice()  # the slow poll
                    return

    def wake(self) -> None:
        self._wake.set()

    def adopt_generation(self, *, folder: ChunkFolder, position: int) -> None:
        """Continue in a rebuilt generation (the rebuild's switch calls this between two catch-ups)."""
        self.folder = folder
        self.status.schema, self.status.checkpoint = folder.schema, position

    async def catch_up(self, conn) -> bool:
        """Project every committed event after the checkpoint; True if anything moved."""
        folder, moved = self.folder, False
        assert folder is not None  # set before the projecting loop calls this
        while True:
            events = await read_chunk(
                conn, after=self.status.checkpoint, until=2**62, limit=self.batch_size, zone=self.zone
            )
            if not events:
                return moved
            self._chunk = {
                "position": events[0].position,
                "event_type": events[0].type,
                "event_id": events[0].event_id,
                "last_position": events[-1].position,
            }
            await folder.hydrate(conn, events)
            state, outcomes = folder.fold(events)
            position = events[-1].position
            async with conn.transaction():
                await write_outcomes(
                    conn, folder.schema, outcomes, position=position, policy_version=self.policies.current.version
                )
            # Only once the transaction committed does the fold state move on.
            folder.accept(state)
            self.status.checkpoint = position
            self.status.events_projected += len(events)
            self.status.last_batch_at = time.time()
            moved = True
