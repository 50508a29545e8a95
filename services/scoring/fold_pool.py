"""Long folds (what-if, the audit's replay) in worker processes, never on the scoring event loop.

A what-if or an audit folds a lot of the log; on the event loop that CPU work delayed every other
request of the process (six concurrent what-ifs took /v1/projections/status from 5 ms to 4.5 s).
Here each such fold runs in a process of a small pool, with its own database connection, and at
most `size` run at once with `size` more waiting; beyond that the request answers 503 `busy` with
Retry-After at once instead of queueing without bound.
"""

import asyncio
import multiprocessing
from collections.abc import Callable, Coroutine
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from shared.problems import Problem

RETRY_AFTER_SECONDS = 5


class _Refused(Exception):
    """A Problem raised in a worker, carried back as plain values (Problem does not pickle)."""


def _in_worker(job: Callable[..., Coroutine[Any, Any, Any]], kwargs: dict[str, Any]) -> tuple[str, Any]:
    """Run an async job to completion in the worker process; a Problem comes back as its fields."""
    try:
        return "ok", asyncio.run(job(**kwargs))
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
