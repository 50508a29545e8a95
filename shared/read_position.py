"""Read-your-writes by position (api.md "Reading from a standby, and read-your-writes").

A client that appended an event passes its `global_position` as `min_position`; a projection read
answers only once the projection it reads (on the primary, or on the standby behind
`KAOHE_READ_DATABASE_URL`) has folded that position, waiting at most `WAIT_SECONDS`, else 503
`position_not_reached` with `Retry-After`; a position past the log's head (which no append has
returned yet) gets that 503 at once, since waiting cannot help. Every such answer carries
`X-Kaohe-Position`.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Query
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared import eventstore
from shared.params import MAX_POSITION
from shared.problems import Problem

T = TypeVar("T")
WAIT_SECONDS = 5.0
POSITION_HEADER = "X-Kaohe-Position"
_FIRST_POLL, _LONGEST_POLL = 0.01, 0.1

MinPosition = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_POSITION,
        description="Answer only once the projection has folded this log position (waits up to 5 s, then 503 "
        "`position_not_reached`); pass an append's `global_position` to read your own write",
    ),
]


async def checkpoint(conn: AsyncConnection) -> int:
    return int((await conn.execute(text("SELECT position FROM proj.checkpoint"))).scalar_one())


def not_reached(wanted: int, seen: int) -> Problem:
    return Problem(
        503,
        "position_not_reached",
        f"the projection is at position {seen}, not yet at {wanted}; retry shortly",
        headers={"Retry-After": "1", POSITION_HEADER: str(seen)},
    )


async def _check_in_log(primary: AsyncEngine, wanted: int, seen: int) -> None:
    """A position the log has not handed out yet will not be reached by waiting: 503 at once.

    Asked of the primary (a lagging standby's log may not have it yet); if the primary does not
    answer, the wait decides."""
    try:
        async with primary.connect() as conn:
            head = await eventstore.head_position(conn)
    except Exception:  # the primary being away is not this request's problem: the wait decides
        return
    if wanted > head:
        raise not_reached(wanted, seen)


async def wait_for_checkpoint(
    engine: AsyncEngine, wanted: int, *, deadline: float, primary: AsyncEngine | None = None
) -> int:
    """Poll the (cheap, one-row) checkpoint until it reaches `wanted`; the connection goes back to
    the pool between polls, so waiting readers do not hold the pool."""
    loop = asyncio.get_running_loop()
    delay = _FIRST_POLL
    first = True
    while True:
        async with engine.connect() as conn:
            seen = await checkpoint(conn)
        if seen >= wanted:
            return seen
        if first and primary is not None:
            await _check_in_log(primary, wanted, seen)
        first = False
        if loop.time() + delay > deadline:
            raise not_reached(wanted, seen)
        await asyncio.sleep(delay)
        delay = min(delay * 2, _LONGEST_POLL)


async def read_projection(
    engine: AsyncEngine,
    min_position: int | None,
    render: Callable[[AsyncConnection], Awaitable[T]],
    *,
    primary: AsyncEngine | None = None,
) -> tuple[T, int]:
    """`render` in a REPEATABLE READ snapshot of the projection at or past `min_position`, and the
    checkpoint of that same snapshot (what `X-Kaohe-Position` says the answer reflects).

    The checkpoint is read last, after everything `render` reads: a rebuild's view switch
    replaces the other views before the checkpoint's, and a reader that took the checkpoint
    first and then waited for another view would deadlock with it. Behind a balancer over several
    standbys the snapshot's server may lag the one polled: then it reads again, within the wait."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        if min_position is not None:
            await wait_for_checkpoint(engine, min_position, deadline=deadline, primary=primary)
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                result = await render(conn)
                position = await checkpoint(conn)
        if min_position is None or position >= min_position:
            return result, position
        if asyncio.get_running_loop().time() >= deadline:
            raise not_reached(min_position, position)
