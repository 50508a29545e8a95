"""`make bench` / `python -m bench.run [--quick] [--huge]`: every benchmark, then docs/benchmarks.md.

Each phase gets a fresh database (created on DATABASE_URL's server, else 127.0.0.1:5432, and
dropped at the end, even on failure). Servers are real uvicorn processes; load comes from wrk
(or bench.pyload) in another process. Phases: references (raw asyncpg, the eventsourcing peer,
the ceiling app), kaohe online (ingest, polls, freshness), then the rebuild and read-all over a
large log. `--only` runs a subset while developing; the document is written for what ran.
"""

import argparse
import asyncio
import json
import os
import sys
import time

from bench import audit, dataset, load, machine, online, peer, raw, rebuild, report, services, sse, whatif
from bench.database import Databases
from bench.results import Series
from shared.settings import REPO_ROOT

PHASES = ("raw", "peer", "ceiling", "online", "sse", "rebuild", "read-all", "audit", "what-if")
FULL = {
    "runs": 3,
    "seconds": 10.0,
    "base_events": 100_000,
    "units": 200,
    "rebuild_events": 1_000_000,
    "rebuild_units": 2000,
    "probes": 100,
    "sse_clients": 1000,
}
QUICK = {
    "runs": 3,
    "seconds": 2.0,
    "base_events": 10_000,
    "units": 200,
    "rebuild_events": 20_000,
    "rebuild_units": 200,
    "probes": 15,
    "sse_clients": 1000,
}
HUGE_EVENTS = 5_000_000
BACKGROUND_RATE = 500.0  # events/s of single appends while the freshness probes run


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes, 2 s per run")
    parser.add_argument("--huge", action="store_true", help=f"also rebuild over {HUGE_EVENTS:,} events, once")
    parser.add_argument("--huge-events", type=int, default=HUGE_EVENTS, help="the size of the --huge log")
    parser.add_argument("--runs", type=int, help="runs per benchmark (default 3)")
    parser.add_argument("--seconds", type=float, help="seconds per load run")
    parser.add_argument("--rebuild-events", type=int, help="events in the rebuild / read-all log")
    parser.add_argument("--rebuild-mode", choices=("auto", "rebuild", "catch-up"), default="auto")
    parser.add_argument(
        "--source",
        choices=("auto", "demo", "bench"),
        default="auto",
        help="dataset generator: tools/demo.py (auto when present) or bench/dataset.py",
    )
    parser.add_argument("--only", action="append", choices=PHASES, help="run only these phases (repeatable)")
    parser.add_argument("--output", default=str(REPO_ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--json", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "kaohe-bench.json"))
    return parser.parse_args(argv)


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.size = dict(QUICK if args.quick else FULL)
        for name in ("runs", "seconds", "rebuild_events"):
            if getattr(args, name) is not None:
                self.size[name] = getattr(args, name)
        self.phases = set(args.only or PHASES)
        self.series: dict[str, Series] = {}
        self.notes: list[str] = []
        self.dbs = Databases()
        self.key = services.admin_key()

    def s(self, name: str, unit: str) -> Series:
        return self.series.setdefault(name, Series(name, unit))

    def say(self, text: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)

    async def references(self) -> None:
        runs, seconds = self.size["runs"], self.size["seconds"]
        url = await self.dbs.create(migrate=False)
        try:
            if "raw" in self.phases:
                await raw.prepare(url)
                for i in range(runs):
                    r = await raw.single_row_commits(url, seconds=seconds)
                    self.s("raw-single", "rows/s").add(r["rate"], r["p50_ms"], r["p99_ms"])
                    c = await raw.copy_batches(url, seconds=seconds)
                    self.s("raw-copy", "rows/s").add(c["rate"])
                    self.say(f"raw run {i + 1}: single {r['rate']:,.0f}/s, copy {c['rate']:,.0f} rows/s")
            if "peer" in self.phases:
                app = await asyncio.to_thread(peer.application, url)
                try:
                    for i in range(runs):
                        p = await asyncio.to_thread(peer.append_single, app, seconds=seconds)
                        self.s("peer-append", "events/s").add(p["rate"], p["p50_ms"], p["p99_ms"])
                        self.say(f"peer run {i + 1}: append {p['rate']:,.0f}/s")
                finally:
                    app.close()
        finally:
            await self.dbs.drop(url)

    async def ceiling(self) -> None:
        server = await services.start("ceiling")
        try:
            for i in range(self.size["runs"]):
                r = await load.run(
                    server.base_url + "/tiny", script="get.lua", connections=64, seconds=self.size["seconds"]
                )
                self.s("ceiling", "requests/s").add(r.rate(200), r.p50_ms, r.p99_ms)
                p = await load.run(
                    server.base_url + "/tiny", script="post_tiny.lua", connections=64, seconds=self.size["seconds"]
                )
                self.s("ceiling-post", "requests/s").add(p.rate(200), p.p50_ms, p.p99_ms)
                self.say(
                    f"ceiling run {i + 1}: GET {r.rate(200):,.0f}/s, POST {p.rate(200):,.0f}/s ({load.driver_name()})"
                )
            if load.driver_name() == "wrk":
                r = await load._pyload(
                    server.base_url + "/tiny",
                    script="get.lua",
                    connections=64,
                    seconds=self.size["seconds"],
                    headers={},
                    env=None,
                )
                self.s("ceiling-pyload", "requests/s").add(r.rate(200), r.p50_ms, r.p99_ms)
        finally:
            server.stop()

    async def online(self) -> None:
        units = self.size["units"]
        url = await self.dbs.create()
        stack = online.Stack(url, self.key)
        try:
            await online.prepare(stack, base_events=self.size["base_events"], units=units, source=self.args.source)
            await stack.start("ingest")
            if "online" in self.phases:
                await self._ingest_and_polls(stack)
            else:
                await stack.start("scoring")
                await online.settled(stack)
                await stack.start("reporting")
            if "sse" in self.phases:
                await self._sse(stack)
        finally:
            stack.stop()
            await self.dbs.drop(url)

    async def _sse(self, stack: "online.Stack") -> None:
        result = await sse.measure(stack, clients=self.size["sse_clients"], changes=self.size["runs"])
        series = self.s("sse-push", "clients")
        for i, run in enumerate(result["runs"]):
            series.add(result["clients"], run["p50_ms"], run["p99_ms"])
            series.extra[f"run {i + 1} max_ms"] = run["max_ms"]
            self.say(
                f"sse run {i + 1}: {result['clients']:,} clients, p50 {run['p50_ms']:.0f} ms, "
                f"p99 {run['p99_ms']:.0f} ms, max {run['max_ms']:.0f} ms"
            )
        series.extra.update(
            {
                "period": result["period"],
                "connect_seconds": result["connect_seconds"],
                "reporting_rss_idle_mb": result["rss_idle_mb"],
                "reporting_rss_connected_mb": result["rss_connected_mb"],
                "rss_per_1000_clients_mb": result["rss_per_1000_clients_mb"],
            }
        )
        self.say(
            f"sse memory: reporting {result['rss_idle_mb']:.0f} MiB idle, {result['rss_connected_mb']:.0f} MiB "
            f"with {result['clients']:,} clients ({result['rss_per_1000_clients_mb']:.1f} MiB per 1,000)"
        )

    async def _ingest_and_polls(self, stack: "online.Stack") -> None:
        runs, seconds = self.size["runs"], self.size["seconds"]
        for i in range(runs):
            r = await online.ingest_single(stack, seconds=seconds)
            self._check(r, 201, "ingest-single")
            self.s("ingest-single", "events/s").add(r.rate(201), r.p50_ms, r.p99_ms)
            b = await online.ingest_batch(stack, seconds=max(seconds, 4.0))
            self._check(b, 201, "ingest-batch")
            self.s("ingest-batch", "events/s").add(b.rate(201) * 1000, b.p50_ms, b.p99_ms)
            self.say(
                f"ingest run {i + 1}: single {r.rate(201):,.0f}/s (p99 {r.p99_ms:,.0f} ms), "
                f"batch {b.rate(201) * 1000:,.0f} events/s"
            )
        await stack.start("scoring")
        await online.settled(stack)
        await stack.start("reporting")
        etag, rows = await online.current_etag(stack)
        for i in range(runs):
            r = await online.poll(stack, seconds=seconds, etag=None)
            self._check(r, 200, "poll-200")
            self.s("poll-200", "requests/s").add(r.rate(200), r.p50_ms, r.p99_ms)
            n = await online.poll(stack, seconds=seconds, etag=etag)
            self._check(n, 304, "poll-304")
            self.s("poll-304", "requests/s").add(n.rate(304), n.p50_ms, n.p99_ms)
            self.say(f"poll run {i + 1}: 200 {r.rate(200):,.0f}/s, 304 {n.rate(304):,.0f}/s ({rows} rows)")
        self.s("poll-200", "requests/s").extra["ranking rows"] = str(rows)
        fresh = self.s("freshness", "probes")
        for i in range(runs):
            f = await online.freshness(stack, probes=self.size["probes"], background_rate=BACKGROUND_RATE)
            fresh.add(f["probes"], f["p50_ms"], f["p99_ms"])
            fresh.extra[f"run {i + 1} background events/s"] = f["background_rate"]
            fresh.extra[f"run {i + 1} events in the ranked quarter"] = str(f["period_events"])
            self.say(
                f"freshness run {i + 1}: p50 {f['p50_ms']:.0f} ms, p99 {f['p99_ms']:.0f} ms, "
                f"background {f['background_rate']:,.0f}/s"
            )
            if f["background_rate"] < 0.9 * BACKGROUND_RATE:
                self.notes.append(
                    f"freshness run {i + 1}: the background load reached {f['background_rate']:,.0f} "
                    f"of the {BACKGROUND_RATE:,.0f} events/s asked (ingest's single-append ceiling)"
                )

    def _check(self, result: load.LoadResult, status: int, name: str) -> None:
        other = {s: n for s, n in result.statuses.items() if s != status}
        if other or any(result.errors.values()):
            self.notes.append(f"{name}: besides {status}: statuses {other}, errors {result.errors}")

    async def large_log(self) -> None:
        count = self.size["rebuild_events"]
        url = await self.dbs.create()
        try:
            started = time.perf_counter()
            loaded = await dataset.load(
                url, dataset.events(count, units=self.size["rebuild_units"], source=self.args.source)
            )
            self.say(f"loaded {loaded:,} events in {time.perf_counter() - started:,.0f} s")
            if "rebuild" in self.phases:
                await self._rebuild(url, "rebuild", runs=self.size["runs"])
            if "read-all" in self.phases:
                await self._read_all(url, loaded)
            if "audit" in self.phases:
                await self._audit(url)
            if "what-if" in self.phases:
                await self._what_if(url)
        finally:
            await self.dbs.drop(url)
        if self.args.huge and "rebuild" in self.phases:
            url = await self.dbs.create()
            try:
                await dataset.load(
                    url,
                    dataset.events(self.args.huge_events, units=self.size["rebuild_units"], source=self.args.source),
                )
                await self._rebuild(url, "rebuild-huge", runs=1)
            finally:
                await self.dbs.drop(url)

    async def _rebuild(self, url: str, name: str, *, runs: int) -> None:
        results = await rebuild.measure(
            self.dbs, url, self.key, runs=runs, mode=self.args.rebuild_mode, notes=self.notes
        )
        series = self.s(name, "events/s")
        for run in results:
            series.add(run.rate)
            self.say(
                f"{name} ({run.mode}): {run.events:,} events in {run.seconds:,.1f} s = {run.rate:,.0f}/s, "
                f"peak RSS {run.peak_rss / 2**20:,.0f} MiB"
            )
        series.extra.update(
            {
                "mode": results[0].mode,
                "events": str(results[0].events),
                "peak_rss_mb": max(r.peak_rss for r in results) / 2**20,
            }
        )

    async def _audit(self, url: str) -> None:
        result = await audit.measure(self.dbs, url, self.key, probes=self.size["probes"])
        series = self.s("audit", "probes")
        series.add(result["probes"], result["p50"], result["p99"])
        series.extra.update({"statuses": str(result["statuses"])})
        self.say(f"audit: {result['probes']} deductions, p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms")

    async def _what_if(self, url: str) -> None:
        result = await whatif.measure(self.dbs, url, self.key, runs=self.size["runs"], zone=dataset.ZONE)
        series = self.s("what-if", "runs")
        series.add(self.size["runs"], result["p50"], result["p99"])
        series.extra.update({name: str(result[name]) for name in ("period", "log_events", "events_folded")})
        self.say(
            f"what-if {result['period']}: p50 {result['p50']:,.0f} ms, p99 {result['p99']:,.0f} ms, "
            f"{result['events_folded']:,} of {result['log_events']:,} events folded"
        )

    async def _read_all(self, url: str, count: int) -> None:
        app = await asyncio.to_thread(peer.application, url, pool=2)
        try:
            await asyncio.to_thread(peer.fill, app, count)
            for i in range(self.size["runs"]):
                ours = await rebuild.read_all_ours(url)
                floor = await raw.read_all_decoded(url)
                theirs = await asyncio.to_thread(peer.read_all_decoded, app)
                self.s("read-all", "events/s").add(ours["rate"])
                self.s("raw-read-all", "events/s").add(floor["rate"])
                self.s("peer-read-all", "events/s").add(theirs["rate"])
                self.say(
                    f"read-all run {i + 1}: ours {ours['rate']:,.0f}/s, raw {floor['rate']:,.0f}/s, "
                    f"peer {theirs['rate']:,.0f}/s ({ours['events']:,} events)"
                )
        finally:
            app.close()

    async def run(self) -> None:
        env = machine.describe()
        postgres = {}
        try:
            if self.phases & {"raw", "peer"}:
                await self.references()
            if "ceiling" in self.phases:
                await self.ceiling()
            if self.phases & {"online", "sse"}:
                await self.online()
            if self.phases & {"rebuild", "read-all", "audit", "what-if"}:
                await self.large_log()
            postgres = {"PostgreSQL": await self.dbs.server_version()}
        finally:
            await self.dbs.drop_all()
        env["load_after"] = machine.load_average()
        if self.args.quick:
            self.notes.insert(
                0,
                "A smoke run (`--quick`): small sizes and 2-second runs, so the numbers are noisy "
                "and the rebuild is far smaller than its target's 1M events; `make bench` for "
                "the real ones.",
            )
        sizes = {
            **self.size,
            **({"huge_events": self.args.huge_events} if self.args.huge else {}),
            "driver": load.driver_name(),
            "dataset": "tools/demo.py"
            if (self.args.source == "demo" or (self.args.source == "auto" and dataset.demo_available()))
            else "bench/dataset.py",
            "phases": ", ".join(p for p in PHASES if p in self.phases),
        }
        command = "python -m bench.run " + " ".join(sys.argv[1:])
        text = report.render(
            self.series,
            env=env,
            versions=machine.versions(),
            postgres=postgres,
            command=command.strip(),
            sizes=sizes,
            notes=self.notes,
        )
        with open(self.args.output, "w") as out:
            out.write(text)
        with open(self.args.json, "w") as out:
            json.dump({name: vars(s) for name, s in self.series.items()}, out, indent=1, default=str)
        self.say(f"wrote {self.args.output} (raw numbers: {self.args.json})")


def main(argv: list[str] | None = None) -> int:
    asyncio.run(Bench(parse(argv)).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
