"""docs/benchmarks.md from one run's results (every ratio is against the same run's reference)."""

from datetime import UTC, datetime
from pathlib import Path

from bench.results import REFERENCES, TARGETS, Series, ratio

DESCRIPTIONS = {
    "raw-single": "asyncpg alone: single-row INSERT+COMMIT, 32 connections, log-shaped table",
    "raw-copy": "asyncpg alone: copy_records_to_table, 1000-row batches, one connection",
    "raw-read-all": "asyncpg alone: server-side cursor over eventlog.events + orjson decode",
    "peer-append": "eventsourcing (PostgreSQL, psycopg 3): single-event saves, 32 threads / 32 pooled connections",
    "peer-read-all": "eventsourcing: select_notifications pages + mapper.to_domain_event",
    "ceiling": "bare FastAPI + uvicorn (same settings as ours): GET tiny JSON, 64 connections",
    "ceiling-post": "bare FastAPI + uvicorn: POST tiny JSON, 64 connections",
    "ceiling-pyload": "the same ceiling GET, driven by bench.pyload instead of wrk (driver check)",
    "ingest-single": "kaohe ingest: POST /v1/events (item.submitted), 64 connections",
    "ingest-batch": "kaohe ingest: POST /v1/events/batch of 1000, 4 connections; events/s",
    "rebuild": "kaohe scoring: full projection build over the loaded log",
    "audit": "kaohe scoring: GET /v1/audit/deductions/{id}, deductions spread over the loaded log, one at a time",
    "what-if": "kaohe scoring: POST /v1/what-if of the log's last full quarter (2025-Q3 on the 1M demo log), "
    "every clause's points doubled, one at a time",
    "rebuild-huge": "kaohe scoring: full projection build over the --huge log",
    "freshness": "201 of an adoption → first GET /v1/rankings/units showing it, under background ingest",
    "poll-200": "kaohe reporting: GET /v1/rankings/units?period=Q, 64 connections (200 path)",
    "poll-304": "kaohe reporting: the same with If-None-Match (304 path)",
    "read-all": "kaohe: services/scoring/log_reader.stream_log, decoded LogEvents",
    "sse-push": "kaohe reporting: N clients on GET /v1/rankings/units/stream; one adoption → every client has it",
}
ORDER = [
    "raw-single",
    "raw-copy",
    "raw-read-all",
    "peer-append",
    "peer-read-all",
    "ceiling",
    "ceiling-post",
    "ceiling-pyload",
    "ingest-single",
    "ingest-batch",
    "rebuild",
    "rebuild-huge",
    "freshness",
    "poll-200",
    "poll-304",
    "sse-push",
    "read-all",
]


def _n(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _rate_cell(s: Series) -> tuple[str, str, str]:
    digits = 1 if s.median < 100 else 0
    return _n(s.median, digits), _n(min(s.rates), digits), _n(max(s.rates), digits)


def render(
    series: dict[str, Series],
    *,
    env: dict[str, str],
    versions: dict[str, str],
    postgres: dict[str, str],
    command: str,
    sizes: dict[str, object],
    notes: list[str],
) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`{command}`) on {now}. Every ratio divides by a reference measured **in the same "
        "run on the same machine**, so the ratios are what to compare across machines; the absolute rates are "
        "this machine's. Each benchmark ran several times: the median, with min and max.",
        "",
    ]
    out += ["## Machine", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in env.items()]
    out += ["", "## Versions", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in {**versions, **postgres}.items()]
    out += ["", "## Sizes", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in sizes.items()]
    out += [
        "",
        "## Results",
        "",
        "| benchmark | what | unit | median | min | max | p50 ms | p99 ms | reference | ratio |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for name in ORDER + [n for n in series if n not in ORDER]:
        s = series.get(name)
        if not s or not s.rates:
            continue
        median, low, high = _rate_cell(s)
        reference = REFERENCES.get(name)
        r = ratio(s, series.get(reference)) if reference else None
        out.append(
            f"| {name} | {DESCRIPTIONS.get(name, '')} | {s.unit} | {median} | {low} | {high} | "
            f"{_n(s.p50, 1)} | {_n(s.p99, 1)} | {reference or '–'} | {_n(r, 2) if r is not None else '–'} |"
        )
    extras = [(name, s.extra) for name, s in series.items() if s.extra]
    if extras:
        out += ["", "Also measured:", ""]
        for name, extra in extras:
            out.append(
                f"- **{name}**: "
                + ", ".join(f"{k} = {v:,.1f}" if isinstance(v, float) else f"{k} = {v}" for k, v in extra.items())
            )
    out += ["", "## Targets", "", "| benchmark | target | observed | met |", "|---|---|---:|---|"]
    for target in TARGETS:
        value, met = target.check(series)
        shown = (
            "–"
            if value is None
            else (f"{value:+.1%}" if "flat" in target.text else f"{value:,.2f}" if value < 100 else f"{value:,.0f}")
        )
        verdict = "not measured" if met is None else ("**met**" if met else "**missed**")
        out.append(f"| {target.benchmark} | {target.text} | {shown} | {verdict} |")
    if notes:
        out += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    analysis = Path(__file__).with_name("analysis.md")
    if analysis.exists():  # the profiles behind the misses, kept by hand beside the harness
        out += ["", analysis.read_text(encoding="utf-8").rstrip()]
    out += [
        "",
        "Method, drivers and what each benchmark measures: `bench/` (each module's docstring); the "
        "scaling argument built on these numbers: [scaling.md](scaling.md).",
        "",
    ]
    return "\n".join(out)
