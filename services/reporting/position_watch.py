"""Knows the projection's position without a query per request.

On the primary it LISTENs for the projector's NOTIFY. A streaming-replication standby cannot
LISTEN (and NOTIFY is not replicated), so when it reads from one it polls the replayed checkpoint
instead: one tiny query every `poll_seconds` on one connection, whatever the request rate.

The ETag of every reporting answer comes from this position, so a poller that has seen the
latest answer gets a 304 without touching the projection tables.
"""

import asyncio
import logging

from shared.db import connect_raw
from shared.eventstore import PROJECTION_CHANNEL

log = logging.getLogger("kaohe.reporting")
_VERSION = "SELECT scoring.projection_version()"  # scoring's read contract (migration 0009)
FALLBACK_SECONDS = 5.0  # with LISTEN, a slow re-read in case a notification was missed


def version_position(version: str | None) -> int | None:
    """The log position in a version `"<generation>:<position>"`."""
    return None if version is None else int(version.rpartition(":")[2])


class PositionWatch:
    def __init__(self, url: str, role: str | None, *, poll_seconds: float = 0.2):
        self.url = url
        self.role = role
        self.poll_seconds = poll_seconds
        self.version: str | None = None  # "<generation>:<position>", None while unknown
        self.mode: str | None = None  # "listen" on a primary, "poll" on a standby
        self.changed = asyncio.Condition()

    @property
    def position(self) -> int | None:
        return version_position(self.version)

    async def _set(self, version: str) -> None:
        if self.version is not None and version != self.version:
            old_schema, _, old_position = self.version.partition(":")
            schema, _, position = version.partition(":")
            if schema == old_schema and int(position) < int(old_position):
                return  # a slow re-read must not move the position back
        if version != self.version:
            self.version = version
            async with self.changed:
                self.changed.notify_all()

    async def run(self) -> None:
        while True:
            conn = None
            try:
                conn = await connect_raw(self.url, role=self.role)
                in_recovery = await conn.fetchval("SELECT pg_is_in_recovery()")
                self.mode = "poll" if in_recovery else "listen"
                if not in_recovery:
                    loop = asyncio.get_running_loop()
                    await conn.add_listener(
                        PROJECTION_CHANNEL,
                        lambda _c, _p, _ch, payload, loop=loop: loop.create_task(self._set(payload)),
                    )
                while True:
                    # Read after LISTEN so no change slips between; then re-read as the mode wants.
                    await self._set(await conn.fetchval(_VERSION, timeout=10))
                    await asyncio.sleep(self.poll_seconds if in_recovery else FALLBACK_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.version = None
                log.warning("position watch lost its connection (%s); retrying", exc)
                await asyncio.sleep(1.0)
            finally:
                if conn is not None:
                    conn.terminate()
