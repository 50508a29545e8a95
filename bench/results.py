"""Runs of one benchmark, their summary, the targets, and docs/benchmarks.md."""

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Series:
    """Several runs of one benchmark: a rate per run, optionally latency percentiles per run."""

    name: str
    unit: str
    rates: list[float] = field(default_factory=list)
    p50s: list[float] = field(default_factory=list)
    p99s: list[float] = field(default_factory=list)
    extra: dict[str, float | str] = field(default_factory=dict)

    def add(self, rate: float, p50: float | None = None, p99: float | None = None) -> None:
        self.rates.append(rate)
        if p50 is not None:
            self.p50s.append(p50)
        if p99 is not None:
            self.p99s.append(p99)

    @property
    def median(self) -> float:
        return statistics.median(self.rates) if self.rates else 0.0

    @property
    def p50(self) -> float | None:
        return statistics.median(self.p50s) if self.p50s else None

    @property
    def p99(self) -> float | None:
        return statistics.median(self.p99s) if self.p99s else None


@dataclass
class Target:
    benchmark: str
    text: str
    check: Callable[[dict[str, Series]], tuple[float | None, bool | None]]  # (observed ratio/value, met)


def ratio(a: Series | None, b: Series | None) -> float | None:
    if not a or not b or not a.rates or not b.rates or not b.median:
        return None
    return a.median / b.median


def _at_least(name: str, reference: str, factor: float) -> Callable:
    def check(series: dict[str, Series]):
        value = ratio(series.get(name), series.get(reference))
        return value, (None if value is None else value >= factor)

    return check


def _value(name: str, attr: str, limit: float, *, most: bool) -> Callable:
    def check(series: dict[str, Series]):
        s = series.get(name)
        value = getattr(s, attr) if s and s.rates else None
        if value is None:
            return None, None
        return value, (value <= limit if most else value >= limit)

    return check


def _flat(small: str, large: str, tolerance: float) -> Callable:
    def check(series: dict[str, Series]):
        a, b = series.get(small), series.get(large)
        if not a or not b or "peak_rss_mb" not in a.extra or "peak_rss_mb" not in b.extra:
            return None, None
        change = float(b.extra["peak_rss_mb"]) / float(a.extra["peak_rss_mb"]) - 1
        return change, abs(change) <= tolerance

    return check


def _rss(name: str, limit_mb: float) -> Callable:
    def check(series: dict[str, Series]):
        s = series.get(name)
        if not s or "peak_rss_mb" not in s.extra:
            return None, None
        value = float(s.extra["peak_rss_mb"])
        return value, value <= limit_mb

    return check


TARGETS = [
    Target("ingest-single", "≥ 0.4 × raw single-row commits (32 conns)", _at_least("ingest-single", "raw-single", 0.4)),
    Target("ingest-single", "≥ 4 × peer single-event append", _at_least("ingest-single", "peer-append", 4.0)),
    Target(
        "ingest-single", "≥ 0.25 × raw single-row commits (issue 13)", _at_least("ingest-single", "raw-single", 0.25)
    ),
    Target(
        "ingest-single", "≥ 3 × peer single-event append (issue 13)", _at_least("ingest-single", "peer-append", 3.0)
    ),
    Target("ingest-batch", "≥ 0.5 × raw COPY rows/s", _at_least("ingest-batch", "raw-copy", 0.5)),
    Target("rebuild", "≥ 50,000 events/s", _value("rebuild", "median", 50_000, most=False)),
    Target("rebuild", "peak RSS ≤ 300 MB", _rss("rebuild", 300)),
    Target(
        "rebuild",
        "peak RSS flat (±10%) from the rebuild log to the --huge log (1M → 5M)",
        _flat("rebuild", "rebuild-huge", 0.10),
    ),
    Target("freshness", "p99 ≤ 100 ms", _value("freshness", "p99", 100, most=True)),
    Target(
        "sse-push",
        "p99 ≤ 1,000 ms until every client has a change (1,000 clients)",
        _value("sse-push", "p99", 1000, most=True),
    ),
    Target("poll-304", "≥ 0.8 × ceiling", _at_least("poll-304", "ceiling", 0.8)),
    Target("poll-304", "p99 ≤ 20 ms", _value("poll-304", "p99", 20, most=True)),
    Target("poll-200", "≥ 0.5 × ceiling", _at_least("poll-200", "ceiling", 0.5)),
    Target("audit", "p99 ≤ 100 ms on the rebuild log", _value("audit", "p99", 100, most=True)),
    Target("what-if", "a quarter on the rebuild log ≤ 2 s (p99)", _value("what-if", "p99", 2000, most=True)),
    Target("read-all", "≥ 1.5 × peer decoded read-all", _at_least("read-all", "peer-read-all", 1.5)),
    Target("read-all", "≥ 0.8 × raw cursor + orjson decode", _at_least("read-all", "raw-read-all", 0.8)),
]
# The reference each benchmark is divided by in the main table.
REFERENCES = {
    "ingest-single": "raw-single",
    "ingest-batch": "raw-copy",
    "poll-200": "ceiling",
    "poll-304": "ceiling",
    "read-all": "raw-read-all",
    "peer-append": "raw-single",
    "peer-read-all": "raw-read-all",
    "ceiling-pyload": "ceiling",
    "ceiling-post": "ceiling",
}
