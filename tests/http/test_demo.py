"""The demo district: deterministic, valid under ingest's checks, and covering the whole rulebook."""

import itertools
import tracemalloc
from collections import Counter
from datetime import UTC, datetime
from types import GeneratorType

import httpx
import pytest

from shared.domain.events import EVENT_TYPES, new_event_adapter
from shared.policy_files import load_policies
from shared.settings import Settings
from tests.support.harness import ADMIN_KEY
from tools.cli import build_parser
from tools.demo import LoadRefused, generate, load, run_async, safe_months

SMALL = {"units": 6, "officers": 15, "months": 3}


def _ledger_clauses(entries):
    """Clause ids of the lines that count (not revoked): points clauses and reward clauses."""
    return {c for e in entries if e["revoked_by"] is None for c in (e["clause"], e["reward_clause"]) if c}


def test_same_seed_gives_identical_events_and_another_seed_does_not():
    first = list(generate(seed=7, **SMALL))
    assert first == list(generate(seed=7, **SMALL))
    assert first != list(generate(seed=8, **SMALL))
    assert len({e["event_id"] for e in first}) == len(first)


def test_events_are_valid_bodies_in_a_valid_order():
    events = list(generate(seed=3, units=12, officers=30, months=4))
    units, items, closed = set(), set(), set()
    for event in events:
        new_event_adapter.validate_python(event)
        data, at = event["data"], datetime.fromisoformat(event["occurred_at"])
        assert event["metadata"] == {"source": "demo"} and event["occurred_at"].endswith("+08:00")
        if event["type"] == "unit.registered":
            units.add(data["unit_id"])
        elif event["type"] == "item.submitted":
            assert data["unit_id"] in units
            assert (at.year, at.month) not in closed, "an item of a closed month"
            items.add(data["item_id"])
        elif event["type"] in ("item.adopted", "item.endorsed"):
            assert data["item_id"] in items
        elif event["type"] == "period.month-closed":
            assert at >= datetime(2025, data["month"] + 1, 1, tzinfo=at.tzinfo)
            closed.add((data["year"], data["month"]))
        elif event["type"] == "period.month-reopened":
            closed.discard((data["year"], data["month"]))
    assert closed == {(2025, m) for m in range(1, 5)}


def test_a_large_district_is_lazy_and_has_distinct_unit_names():
    events = generate(units=3000, officers=9000, scale=40)
    assert isinstance(events, GeneratorType)
    head = list(itertools.islice(events, 3000))
    assert [e["type"] for e in head] == ["unit.registered"] * 3000
    assert len({e["data"]["name"] for e in head}) == 3000
    assert Counter(e["data"]["kind"] for e in head).keys() == {"department", "township", "other"}


def test_memory_does_not_grow_with_the_length_of_the_run():
    def peak(months: int) -> tuple[int, int]:
        tracemalloc.start()
        try:
            count = sum(1 for _ in generate(units=60, officers=200, months=months, scale=4))
            return count, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    (short, short_peak), (long, long_peak) = peak(3), peak(12)
    assert long > 3 * short
    assert long_peak < 2.5 * short_peak  # a materialised run would need about four times as much


def test_months_that_have_not_ended_are_refused():
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert safe_months(2026, now) == 10 and safe_months(2025, now) == 12
    with pytest.raises(ValueError, match="at most 10"):
        generate(year=2026, months=11, now=now)
    assert next(generate(year=2026, months=10, now=now))["type"] == "unit.registered"


async def test_the_default_district_loads_and_covers_every_clause(kaohe):
    events = list(generate())
    summary = await load(kaohe.ingest, events)
    assert summary["appended"] == len(events) and summary["duplicates"] == 0
    assert set(summary["by_type"]) == set(EVENT_TYPES)

    again = await load(kaohe.ingest, generate(), batch=1000)
    assert again["duplicates"] == len(events) and again["appended"] == 0

    ranking = await kaohe.ranking("2025")
    unit_ids = {e["data"]["unit_id"] for e in events if e["type"] == "unit.registered"}
    assert {row["unit_id"] for row in ranking["rows"]} == unit_ids and len(unit_ids) == 40
    assert all(sum(row["adopted_by_channel"].values()) == row["adopted"] for row in ranking["rows"])

    clauses, revoked = set(), 0
    for unit_id in sorted(unit_ids):
        ledger = await kaohe.unit_ledger(unit_id, "2025")
        clauses |= _ledger_clauses(ledger["entries"])
        revoked += sum(e["revoked_by"] is not None for e in ledger["entries"])
    policy = load_policies(Settings().policy_dir, Settings().zone).current
    scored = {c.id for c in policy.document.clauses if c.points is not None or c.points_range or c.yuan}
    assert scored - clauses == set()
    for prefix, last in (("S", 10), ("D", 8), ("R", 8)):
        assert {f"{prefix}{n}" for n in range(1, last + 1)} <= clauses
    assert revoked > 0  # the revoked adoption, the revoked deduction, the reopened month


async def test_a_scaled_district_with_invented_names_loads_without_refusal(kaohe):
    events = generate(seed=11, units=90, officers=120, months=2, scale=0.5)
    summary = await load(kaohe.ingest, events, batch=1000)
    assert summary["duplicates"] == 0 and summary["appended"] == summary["events"]
    assert len((await kaohe.ranking("2025-02"))["rows"]) == 90


async def test_a_refused_batch_raises_with_the_event_named(kaohe):
    events = list(generate(seed=5, **SMALL))
    orphan = next(e for e in events if e["type"] == "item.submitted")
    with pytest.raises(LoadRefused, match="unknown_unit") as refused:
        await load(kaohe.ingest, [orphan])
    assert orphan["event_id"] in str(refused.value)


async def test_kaohe_demo_command_posts_and_is_idempotent(kaohe, monkeypatch, capsys, tmp_path):
    transport = httpx.ASGITransport(app=kaohe.apps["ingest"])
    for name in ("KAOHE_ADMIN_KEY", "KAOHE_BOOTSTRAP_ADMIN_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAOHE_DATA_DIR", str(tmp_path))
    (tmp_path / "admin-key").write_text(ADMIN_KEY + "\n")
    argv = [
        "demo",
        "--seed",
        "9",
        "--units",
        "5",
        "--officers",
        "12",
        "--months",
        "2",
        "--batch",
        "100",
        "--url",
        "http://ingest",
    ]
    assert await run_async(build_parser().parse_args(argv), transport=transport) == 0  # key from the data dir
    first = capsys.readouterr().out
    (tmp_path / "admin-key").unlink()
    monkeypatch.setenv("KAOHE_ADMIN_KEY", ADMIN_KEY)
    assert await run_async(build_parser().parse_args(argv), transport=transport) == 0  # key from the environment
    second = capsys.readouterr().out
    total = len(list(generate(seed=9, units=5, officers=12, months=2, year=2026)))  # the CLI's default year
    assert f"{total} appended, 0 duplicates" in first
    assert f"0 appended, {total} duplicates" in second and "item.submitted" in second

    wrong = build_parser().parse_args([*argv, "--key", "kh_wrong_" + "y" * 40])  # --key comes first
    assert await run_async(wrong, transport=transport) == 1
    assert "401" in capsys.readouterr().err


async def test_the_demo_covers_the_offices_year(kaohe):
    """约稿 open and closed (on time, late, missing → D7 citing the close, one revoked on dispute),
    a rectification plan in every state, H1 rewards paid and one unit overpaid by a later revocation."""
    events = list(generate(seed=2026, units=40, officers=150, year=2025, months=12))
    await load(kaohe.ingest, events)
    await kaohe.settled()

    found = (await kaohe.reporting.get("/v1/solicitations")).json()["solicitations"]
    closed = [s for s in found if s["closed"]]
    still_open = [s for s in found if not s["closed"]]
    assert len(closed) == 12 and len(still_open) == 1 and still_open[0]["deadline"] > "2025-12-31"
    statuses = Counter(u["status"] for s in closed for u in s["units"])
    assert statuses.keys() == {"on_time", "late", "missing"}
    assert {u["status"] for u in still_open[0]["units"]} == {"on_time", "pending"}

    d7, revoked = 0, 0
    for solicitation in closed:
        for row in solicitation["units"]:
            entries = (await kaohe.unit_ledger(row["unit_id"], "2025"))["entries"]
            lines = [e for e in entries if e["event_id"] == solicitation["close_event_id"]]
            expected = 0 if row["status"] == "on_time" else 1
            assert len(lines) == expected and all(e["clause"] == "D7" and e["points"] == -50 for e in lines)
            d7 += len(lines)
            revoked += sum(e["revoked_by"] is not None for e in lines)
    assert d7 == statuses["late"] + statuses["missing"] and revoked == 1  # one unit's D7 revoked, others stand

    rectifications = (await kaohe.reporting.get("/v1/rectifications/2025")).json()["rows"]
    assert {row["status"] for row in rectifications} == {"required", "submitted", "accepted", "returned"}

    statement = (await kaohe.reporting.get("/v1/rewards/statement", params={"period": "2025-H1"})).json()
    balances = {row["unit_id"]: row["balance_yuan"] for row in statement["units"] if row["paid_yuan"] != "0.00"}
    negative = {unit_id: b for unit_id, b in balances.items() if b != "0.00"}
    assert len(balances) >= 30 and len(negative) == 1 and next(iter(negative.values())).startswith("-")
