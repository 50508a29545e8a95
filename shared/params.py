"""Query parameters several services read the same way."""

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query
from pydantic import AfterValidator, BeforeValidator

from shared.domain.periods import BadPeriod, Period, parse_period
from shared.problems import Problem


def period_of(text: str) -> Period:
    """The one place a period given by a client is parsed: 422 `invalid_period` when it is none."""
    try:
        return parse_period(text)
    except BadPeriod as exc:
        raise Problem(422, "invalid_period", str(exc)) from exc


async def _period(
    period: Annotated[
        str, Query(description="2026, 2026-H1, 2026-Q1 or 2026-03", examples=["2026", "2026-H1", "2026-Q1", "2026-03"])
    ],
) -> Period:
    return period_of(period)


async def _optional_period(
    period: Annotated[str | None, Query(description="2025-Q4 or 2025; default: now")] = None,
) -> Period | None:
    return None if period is None else period_of(period)


PeriodParam = Annotated[Period, Depends(_period)]
OptionalPeriodParam = Annotated[Period | None, Depends(_optional_period)]
MAX_POSITION = 2**63 - 1  # global positions are bigint


def _not_a_number(value: object) -> object:
    # pydantic would read "1700000000" or "0.5" as a Unix time; the contract is an ISO 8601 time.
    if isinstance(value, str) and value.replace(".", "", 1).lstrip("+-").isdigit():
        raise ValueError("as_of is an ISO 8601 time with an offset, such as 2026-03-31T18:00:00+08:00")
    return value


def _representable(value: datetime | None) -> datetime | None:
    if value is not None and not (2 <= value.year <= 9998):  # convertible to UTC whatever the offset
        raise ValueError("as_of is out of range")
    return value


AsOfPosition = Annotated[
    int | None, Query(ge=0, le=MAX_POSITION, description="The answer as it stood after this log position")
]
AsOf = Annotated[
    datetime | None,
    BeforeValidator(_not_a_number),
    AfterValidator(_representable),
    Query(description="The answer as recorded by this time (with offset)"),
]
