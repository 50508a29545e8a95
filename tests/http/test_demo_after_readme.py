"""`make demo` after the README's example: the demo's default year is the README's (2026) and its
events load on top of U1/I1 without a refusal."""

import httpx

from tests.support.harness import ADMIN_KEY
from tools.cli import build_parser
from tools.demo import run_async

README_EVENTS = (
    ("unit.registered", {"unit_id": "U1", "name": "区发改委", "kind": "department"}),
    ("item.submitted", {"item_id": "I1", "unit_id": "U1", "title": "关于一季度经济运行的报告", "kind": "single"}),
    ("item.adopted", {"item_id": "I1", "channel": "city", "issue": "政府专报 2026年第5期"}),
)


async def test_the_demo_loads_after_the_readme_example(kaohe, monkeypatch, capsys):
    for type_name, data in README_EVENTS:
        await kaohe.post(type_name, data)
    monkeypatch.setenv("KAOHE_ADMIN_KEY", ADMIN_KEY)
    args = build_parser().parse_args(["demo", "--url", "http://ingest"])
    assert args.year == 2026
    transport = httpx.ASGITransport(app=kaohe.apps["ingest"])
    assert await run_async(args, transport=transport) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "0 duplicates" in out
    ranking = await kaohe.ranking("2026")
    assert "U1" in {row["unit_id"] for row in ranking["rows"]} and len(ranking["rows"]) > 1


def test_demo_and_cli_follow_the_ports_of_make_run(monkeypatch):
    for name in ("KAOHE_INGEST_URL", "KAOHE_SCORING_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAOHE_HOST", "0.0.0.0")
    monkeypatch.setenv("KAOHE_INGEST_PORT", "9111")
    monkeypatch.setenv("KAOHE_SCORING_PORT", "9112")
    parser = build_parser()
    assert parser.parse_args(["demo"]).url == "http://127.0.0.1:9111"
    assert parser.parse_args(["import", "x.xlsx"]).url == "http://127.0.0.1:9111"
    assert parser.parse_args(["rebuild"]).url == "http://127.0.0.1:9112"
    monkeypatch.setenv("KAOHE_INGEST_URL", "http://10.0.0.5:8001/")
    assert build_parser().parse_args(["demo"]).url == "http://10.0.0.5:8001"
