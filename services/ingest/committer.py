"""Group commit: appends that arrive while a commit is in flight share the next INSERT and COMMIT.

Appends are serialised by the log's lock (see `shared.eventstore.append`), so a transaction holds
it through its own WAL flush, and one-event transactions would commit one flush at a time. The
committer runs one transaction at a time and puts every append that queued meanwhile into it, so
one flush carries many requests. Each request's events stay together and in order. When the
shared INSERT fails on a unique key (a stream version or event id raced), the members are retried
one by one, so only the request that conflicts sees the IntegrityError (and re-checks).
"""

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import eventstore
from shared.eventstore import NewRecord

MAX_GROUP_EVENTS = 5000

Member = tuple[Sequence[NewRecord], asyncio.Future]


class GroupCommitter:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self._queue: list[Member] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def append(self, records: Sequence[NewRecord]) -> list[dict[str, Any]]:
        """Append `records` atomically (with whatever else is queued); return their rows in order."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((records, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-commit")
        self._ready.set()
        return await future

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._queue:
                group, size = [], 0
                while self._queue and (not group or size + len(self._queue[0][0]) <= MAX_GROUP_EVENTS):
                    member = self._queue.pop(0)
                    group.append(member)
                    size += len(member[0])
                await self._commit(group)

    async def _commit(self, group: list[Member]) -> None:
        try:
            async with self.engine.begin() as conn:
                rows = await eventstore.append(conn, [record for records, _ in group for record in records])
        except IntegrityError as exc:
            if len(group) == 1:
                _fail(group[0][1], exc)
                return
            for member in group:
                await self._commit([member])
            return
        except Exception as exc:
            for _, future in group:
                _fail(future, exc)
            return
        start = 0
        for records, future in group:
            if not future.done():
                future.set_result(rows[start : start + len(records)])
            start += len(records)


def _fail(future: asyncio.Future, exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
