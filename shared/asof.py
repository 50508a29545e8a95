"""Resolving `as_of_position` / `as_of` query parameters to a log position."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from shared import eventstore
from shared.problems import Problem


async def resolve_position(conn: AsyncConnection, *, as_of_position: int | None, as_of: datetime | None) -> int | None:
    """The position a time-travel query means, or None for "now"."""
    if as_of_position is not None and as_of is not None:
        raise Problem(422, "validation_error", "give as_of_position or as_of, not both")
    if as_of is not None:
        if as_of.tzinfo is None:
            raise Problem(422, "validation_error", "as_of needs a UTC offset")
        return await eventstore.position_at(conn, as_of)
    return as_of_position
