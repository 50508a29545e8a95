"""Assessment periods (year, half, quarter, month) cut in the district's local time zone."""

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

# ASCII digits only (`\d` would take any Unicode digit: `２０２６`, `२०२६`) and matched whole with
# `fullmatch` (`$` would let a trailing newline through) — api.md answer 24.
_PERIOD = re.compile(
    r"(?P<year>[0-9]{4})(?:-(?:(?P<half>H[12])|(?P<quarter>Q[1-4])|(?P<month>0[1-9]|1[0-2])))?", re.ASCII
)


class BadPeriod(ValueError):
    """A period string that is none of YYYY, YYYY-H1/H2, YYYY-Q1..Q4, YYYY-MM."""


@dataclass(frozen=True, slots=True)
class Period:
    """A contiguous run of months; `first`/`last` are YYYYMM integers."""

    label: str
    year: int
    first_month: int
    last_month: int

    @property
    def first(self) -> int:
        return self.year * 100 + self.first_month

    @property
    def last(self) -> int:
        return self.year * 100 + self.last_month

    @property
    def months(self) -> range:
        return range(self.first_month, self.last_month + 1)

    @property
    def kind(self) -> str:
        span = self.last_month - self.first_month + 1
        return {12: "year", 6: "half", 3: "quarter", 1: "month"}[span]

    def start(self, zone: ZoneInfo) -> datetime:
        return datetime(self.year, self.first_month, 1, tzinfo=zone)

    def end(self, zone: ZoneInfo) -> datetime:
        """The first instant after the period, local time."""
        if self.last_month == 12:
            return datetime(self.year + 1, 1, 1, tzinfo=zone)
        return datetime(self.year, self.last_month + 1, 1, tzinfo=zone)

    def contains(self, month_key: int) -> bool:
        return self.first <= month_key <= self.last


def parse_period(text: str) -> Period:
    """Parse `2026`, `2026-H1`, `2026-Q3` or `2026-03`."""
    match = _PERIOD.fullmatch(text or "")
    if not match:
        shown = (text or "")[:20]  # echoed escaped (repr) and short: never raw text in an answer
        raise BadPeriod(f"period {shown!r} is not YYYY, YYYY-H1, YYYY-Q1 or YYYY-MM (ASCII digits)")
    year = int(match["year"])
    if match["half"]:
        first = 1 if match["half"] == "H1" else 7
        return Period(text, year, first, first + 5)
    if match["quarter"]:
        first = (int(match["quarter"][1]) - 1) * 3 + 1
        return Period(text, year, first, first + 2)
    if match["month"]:
        month = int(match["month"])
        return Period(text, year, month, month)
    return Period(text, year, 1, 12)


def month_key(moment: datetime, zone: ZoneInfo) -> int:
    """The YYYYMM month an aware datetime falls in, in the district's zone."""
    local = moment.astimezone(zone)
    return local.year * 100 + local.month


def next_month_start(year: int, month: int, zone: ZoneInfo) -> datetime:
    if month == 12:
        return datetime(year + 1, 1, 1, tzinfo=zone)
    return datetime(year, month + 1, 1, tzinfo=zone)
