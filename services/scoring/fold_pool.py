"""Long folds (what-if, the audit's replay) in worker processes, never on the scoring event loop.

A what-if or an audit folds a lot of the log; on the event loop that CPU work delayed every other
request of the process (six concurrent what-ifs took /v1/projections/status from 5 ms to 4.5 s).
Here each such fold runs in a process of a small pool, with its own database connection, and at
most `size` run at once with `size` more waiting; beyond that the request answers 503 `busy` with
Retry-After at once instead of queueing without bound.

A worker keeps one event loop and its connections from job to job (`worker_connection`): a new
loop, connection and backend per job were a fifth of an audit's time (its replay folds a few
hundred events).
"""

import asyncio
import multiprocessing
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from shared.db import connect_raw
from shared.problems import Problem

RETRY_AFTER_SECONDS = 5

_loop: asyncio.AbstractEventLoop | None = None  # the worker's, from its first job on
_connections: dict[tuple[str, str | None], Any] = {}  # (url, role) -> an idle asyncpg connection


@asynccontextmanager
async def worker_connection(url: str, role: str | None) -> AsyncIterator[Any]:
    """The worker's connection to `url` as `role`, opened on first use and kept while it is healthy.

    A worker runs one job at a time, so no two jobs share it. A kept connection is checked with one
    round trip (the server may have ended it since); one that a job left in a transaction or with an
    error is closed, not kept.
    """
    key = (url, role)
    conn = _connections.pop(key, None)
    if conn is not None:
        try:
            await conn.execute("SELECT 1")
        except Exception:  # whatever ended it, a new connection replaces it
            conn.terminate()
            conn = None
    if conn is None:
        conn = await connect_raw(url, role=role)
    try:
        yield conn
    except BaseException:
        conn.terminate()
        raise
    if conn.is_closed() or conn.is_in_transaction():
        conn.terminate()
    else:
        _connections[key] = conn


def _in_worker(job: Callable[..., Coroutine[Any, Any, Any]], kwargs: dict[str, Any]) -> tuple[str, Any]:
    """Run an async job to completion in the worker process; a Problem comes back as its fields."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
        asyncio.set_event_loop(_loop)
    try:
        return "ok", _loop.run_until_complete(job(**kwargs))
    except Problem as problem:
        return "problem", (problem.status, problem.code, problem.detail, problem.errors, problem.extra)


class FoldPool:
    def __init__(self, size: int):
        self.size = size
        self._slots = asyncio.Semaphore(2 * size)  # running plus waiting
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn: a fresh interpreter, not a fork of a process with an event loop and threads
            self._executor = ProcessPoolExecutor(self.size, mp_context=multiprocessing.get_context("spawn"))
        return self._executor

    async def run(self, job: Callable[..., Coroutine[Any, Any, Any]], **kwargs: Any) -> Any:
        """`await job(**kwargs)` in a worker process; 503 `busy` when the pool is saturated."""
        if self._slots.locked():
            raise Problem(
                503,
                "busy",
                "too many what-ifs and audits are running; retry shortly",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        async with self._slots:
            loop = asyncio.get_running_loop()
            kind, value = await loop.run_in_executor(self._pool(), _in_worker, job, kwargs)
        if kind == "problem":
            status, code, detail, errors, extra = value
            raise Problem(status, code, detail, errors=errors, **extra)
        return value

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
