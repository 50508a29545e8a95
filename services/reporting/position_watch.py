"""Knows the projection's position without a query per request: LISTENs for the projector's NOTIFY.

The ETag of every reporting answer comes from this position, so a poller that has seen the
latest answer gets a 304 without touching the projection tables.
"""

import asyncio
import logging

from shared.db import connect_raw
from shared.eventstore import PROJECTION_CHANNEL

log = logging.getLogger("kaohe.reporting")


class PositionWatch:
    def __init__(self, url: str, role: str | None):
        self.url = url
        self.role = role
        self.version: str | None = None  # "<generation>:<position>", None while unknown
        self.changed = asyncio.Condition()

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
                loop = asyncio.get_running_loop()
                await conn.add_listener(
                    PROJECTION_CHANNEL, lambda _c, _p, _ch, payload, loop=loop: loop.create_task(self._set(payload))
                )
                while True:
                    # Read after LISTEN so no change slips between; re-read slowly as a fallback.
                    await self._set(await conn.fetchval("SELECT scoring.projection_version()"))
                    await asyncio.sleep(5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.version = None
                log.warning("position watch lost its connection (%s); retrying", exc)
                await asyncio.sleep(1.0)
            finally:
                if conn is not None:
                    conn.terminate()
