"""Deterministic demo data (`generate`), its loader through the ingest API (`load`), and `kaohe demo`.

`generate()` is pure: the same arguments give the same events (ids included), in an order the ingest
API accepts: units before their officers and items, an item before its adoptions, a deduction before
its dispute, a month's events before that month's close. It is lazy (see `tools.demo_district`), so
benchmarks can draw millions of events in constant memory. `load()` posts them through
POST /v1/events/batch; posting them twice changes nothing, since the same ids come back as duplicates.
"""

import argparse
import asyncio
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from shared.domain.policy import PolicySet
from shared.policy_files import load_policies
from shared.settings import REPO_ROOT, Settings
from tools.demo_district import District, close_time, safe_months
from tools.urls import service_url

MAX_BATCH = 1000
__all__ = ["generate", "load", "register", "run_async", "safe_months", "close_time", "LoadRefused"]


def generate(
    *,
    seed: int = 2026,
    units: int = 40,
    officers: int = 150,
    year: int = 2025,
    months: int = 12,
    items_per_unit_month: float = 3.0,
    scale: float = 1.0,
    policies: PolicySet | None = None,
    now: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """The demo district's events, lazily; `scale` multiplies the items (and with them adoptions).

    Months run from January; the last month is closed on the first day of the next. With `now`, a
    run that would date events in the future is refused here, before anything is generated.
    """
    if not 1 <= months <= 12:
        raise ValueError("months must be between 1 and 12")
    if units < 1 or officers < 0 or items_per_unit_month < 0 or scale <= 0:
        raise ValueError("units must be ≥ 1, officers and items_per_unit_month ≥ 0, scale > 0")
    if now is not None and close_time(year, months) > now:
        raise ValueError(
            f"{year}-{months:02d} cannot be closed before {close_time(year, months).isoformat()}; "
            f"use fewer months (at most {safe_months(year, now)}) or an earlier year"
        )
    policies = policies or load_policies(Settings().policy_dir, Settings().zone)
    return District(
        seed=seed,
        units=units,
        officers=officers,
        year=year,
        months=months,
        rate=items_per_unit_month,
        scale=scale,
        policies=policies,
    ).events()


# --- loading through the ingest API -----------------------------------------------------------------


class LoadRefused(RuntimeError):
    """The ingest API refused a batch; the message names the events and the problem."""


async def load(client: httpx.AsyncClient, events: Iterable[dict[str, Any]], batch: int = 500) -> dict[str, Any]:
    """Post events in batches through POST /v1/events/batch; a refused batch raises LoadRefused."""
    if not 1 <= batch <= MAX_BATCH:
        raise ValueError(f"batch must be between 1 and {MAX_BATCH}")
    summary: dict[str, Any] = {"events": 0, "appended": 0, "duplicates": 0, "batches": 0, "by_type": Counter()}
    chunk: list[dict[str, Any]] = []
    for event in events:
        chunk.append(event)
        if len(chunk) == batch:
            await _post(client, chunk, summary)
            chunk = []
    if chunk:
        await _post(client, chunk, summary)
    summary["by_type"] = dict(sorted(summary["by_type"].items()))
    return summary


async def _post(client: httpx.AsyncClient, chunk: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    response = await client.post(
        "/v1/events/batch", content=orjson.dumps({"events": chunk}), headers={"content-type": "application/json"}
    )
    if response.status_code not in (200, 201):
        try:
            problem = response.json()
        except ValueError:
            problem = {"detail": response.text[:500]}
        errors = "; ".join(
            f"#{e.get('index')} {chunk[e['index']]['type']} {chunk[e['index']]['event_id']}: {e.get('msg')}"
            for e in problem.get("errors", [])[:5]
            if isinstance(e.get("index"), int) and e["index"] < len(chunk)
        )
        raise LoadRefused(
            f"batch {summary['batches'] + 1} (events {summary['events']}–"
            f"{summary['events'] + len(chunk) - 1}) refused: HTTP {response.status_code} "
            f"{problem.get('code', '')}: {problem.get('detail', '')}" + (f" [{errors}]" if errors else "")
        )
    results = response.json()["results"]
    for event, result in zip(chunk, results, strict=True):
        summary["by_type"][event["type"]] += 1
        summary["duplicates" if result["duplicate"] else "appended"] += 1
    summary["events"] += len(chunk)
    summary["batches"] += 1


# --- kaohe demo -----------------------------------------------------------------------------------------


def admin_key(explicit: str | None) -> str | None:
    """--key, else $KAOHE_ADMIN_KEY, else the key `make run` uses: $KAOHE_BOOTSTRAP_ADMIN_KEY, else the
    file `admin-key` in $KAOHE_DATA_DIR (default: .data of the checkout)."""
    for candidate in (explicit, os.environ.get("KAOHE_ADMIN_KEY"), os.environ.get("KAOHE_BOOTSTRAP_ADMIN_KEY")):
        if candidate:
            return candidate
    path = Path(os.environ.get("KAOHE_DATA_DIR") or REPO_ROOT / ".data") / "admin-key"
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8").strip() or None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="load a deterministic demo district through the ingest API",
        description="Generate a district's year of events (same seed, same events) and post them to the ingest "
        "API in batches. Running it twice changes nothing: the second run is all duplicates.",
    )
    parser.add_argument(
        "--url",
        default=service_url("ingest"),
        help="ingest base URL (default: where `make run` serves it: $KAOHE_INGEST_URL, else $KAOHE_HOST "
        "and $KAOHE_INGEST_PORT, else http://127.0.0.1:8001)",
    )
    parser.add_argument(
        "--key",
        help="admin or office key (default: $KAOHE_ADMIN_KEY, then the key of `make run`: "
        "$KAOHE_BOOTSTRAP_ADMIN_KEY or .data/admin-key)",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--units", type=int, default=40)
    parser.add_argument("--officers", type=int, default=150)
    parser.add_argument("--year", type=int, default=2026, help="the year of the README's example (default 2026)")
    parser.add_argument("--months", type=int, help="months from January (default: every month already over)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the items per unit and month")
    parser.add_argument("--batch", type=int, default=500, help=f"events per request, at most {MAX_BATCH}")
    parser.add_argument("--dry-run", action="store_true", help="count the events by type without posting them")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(run_async(args))


async def run_async(args: argparse.Namespace, *, transport: httpx.AsyncBaseTransport | None = None) -> int:
    """`kaohe demo`; `transport` lets a test post to an in-process app."""
    now = datetime.now(UTC)
    months = args.months or min(12, safe_months(args.year, now))
    try:
        events = generate(
            seed=args.seed,
            units=args.units,
            officers=args.officers,
            year=args.year,
            months=max(months, 1),
            scale=args.scale,
            now=now,
        )
    except ValueError as exc:
        print(f"kaohe demo: {exc}", file=sys.stderr)
        return 2
    span = f"{args.year}-01..{args.year}-{months:02d}"
    print(f"kaohe demo: seed {args.seed}, {args.units} units, {args.officers} officers, {span}")
    if args.dry_run:
        counts = Counter(event["type"] for event in events)
        summary: dict[str, Any] = {"events": sum(counts.values()), "by_type": dict(sorted(counts.items()))}
    else:
        key = admin_key(args.key)
        if not key:
            print(
                "kaohe demo: no key: pass --key or set KAOHE_ADMIN_KEY (or start the services with `make run`)",
                file=sys.stderr,
            )
            return 2
        try:
            async with httpx.AsyncClient(
                base_url=args.url, transport=transport, timeout=120, headers={"Authorization": f"Bearer {key}"}
            ) as client:
                summary = await load(client, events, batch=args.batch)
        except (LoadRefused, ValueError) as exc:
            print(f"kaohe demo: {exc}", file=sys.stderr)
            return 1
        except httpx.HTTPError as exc:
            print(f"kaohe demo: cannot reach the ingest API at {args.url}: {exc!r}", file=sys.stderr)
            return 1
        print(
            f"posted {summary['events']} events to {args.url} in {summary['batches']} batches: "
            f"{summary['appended']} appended, {summary['duplicates']} duplicates"
        )
    for type_name, count in summary["by_type"].items():
        print(f"  {type_name:26} {count:>9}")
    print(f"  {'total':26} {summary['events']:>9}")
    return 0
