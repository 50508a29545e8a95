"""`kaohe audit`, `kaohe explain` and `kaohe rebuild` against the real scoring app (ASGI transport)."""

import io
import uuid

import asyncpg
import httpx
import yaml

from shared.db import asyncpg_dsn
from shared.settings import REPO_ROOT
from tests.support.harness import ADMIN_KEY
from tools import cli_audit
from tools.cli import build_parser

TEXT = {
    c["id"]: c["text"]
    for c in yaml.safe_load((REPO_ROOT / "policies" / "2026.yaml").read_text(encoding="utf-8"))["clauses"]
}


async def kaohe_cli(kaohe, *argv: str, key: str | None = ADMIN_KEY) -> tuple[int, str, str]:
    args = build_parser().parse_args([*argv, *(["--key", key] if key else []), "--url", "http://scoring"])
    out, err = io.StringIO(), io.StringIO()
    code = await cli_audit.run_async(args, transport=httpx.ASGITransport(app=kaohe.apps["scoring"]), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


async def district(kaohe) -> dict:
    await kaohe.post(
        "unit.registered",
        {"unit_id": "U1", "name": "区农业农村局", "kind": "department"},
        occurred_at="2026-01-02T09:00:00+08:00",
    )
    await kaohe.post("item.submitted", {"item_id": "I1", "unit_id": "U1", "title": "春耕生产情况", "kind": "single"})
    await kaohe.post("item.adopted", {"item_id": "I1", "channel": "city", "issue": "政府专报第5期"})
    ids = {name: str(uuid.uuid4()) for name in ("late", "dispute", "resolved", "criticized")}
    await kaohe.post(
        "unit.late-reported",
        {"unit_id": "U1", "level": "city", "kind": "late"},
        event_id=ids["late"],
        metadata={"reference": "市府办通报〔2026〕7号"},
    )
    await kaohe.post(
        "unit.deduction-disputed",
        {"unit_id": "U1", "deduction_event_id": ids["late"], "reason": "已按时电话报告"},
        event_id=ids["dispute"],
    )
    await kaohe.post(
        "unit.dispute-resolved",
        {"unit_id": "U1", "deduction_event_id": ids["late"], "outcome": "revoked", "reason": "通话记录属实"},
        event_id=ids["resolved"],
    )
    await kaohe.post("unit.criticized", {"unit_id": "U1"}, event_id=ids["criticized"])
    await kaohe.settled()
    return ids


async def test_explain_prints_every_line_with_its_clause_text(kaohe):
    await district(kaohe)
    code, out, _ = await kaohe_cli(kaohe, "explain", "U1", "2026")
    assert code == 0
    assert out.splitlines()[0] == "U1 · 2026 · 政策 2026.1"
    assert "条款内容" in out and TEXT["S4"] in out and TEXT["D5"] in out and TEXT["D8"] in out
    [d5] = [line for line in out.splitlines() if " D5 " in line]
    assert "-50" in d5 and "已撤销" in d5
    assert "合计：加分 50 · 扣分 100 · 净分 -50 · 奖励 100.00 元" in out

    code, out, _ = await kaohe_cli(kaohe, "explain", "U1", "2026", "--as-of-position", "3")
    assert code == 0 and "截至日志位置 3" in out and "净分 50" in out and "D8" not in out


async def test_audit_prints_the_derivation_and_flags_a_tampered_projection(kaohe, database_url):
    ids = await district(kaohe)
    code, out, _ = await kaohe_cli(kaohe, "audit", ids["late"])
    assert code == 0
    assert f"D5  {TEXT['D5']}" in out and "-50（政策 2026.1）" in out
    assert f"已撤销（撤销事件 {ids['resolved']}）" in out
    assert "已按时电话报告" in out and "撤销扣分：通话记录属实" in out
    assert "0 → 50（2026 年" in out and "reference=市府办通报〔2026〕7号" in out
    assert "重算 100 · 投影 100 · 一致" in out

    code, out, _ = await kaohe_cli(kaohe, "audit", ids["criticized"])
    assert code == 0 and "0 → 100" in out and "越过阈值  100" in out and "申诉记录：无" in out

    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute("UPDATE proj_g1.lines SET points = 0 WHERE event_id = $1::uuid", ids["criticized"])
    finally:
        await conn.close()
    code, out, _ = await kaohe_cli(kaohe, "audit", ids["late"])
    assert code == cli_audit.EXIT_MISMATCH and "重算 100 · 投影 0 · 不一致" in out


async def test_errors_come_back_as_one_line(kaohe, monkeypatch, tmp_path):
    await district(kaohe)
    code, _, err = await kaohe_cli(kaohe, "audit", str(uuid.uuid4()))
    assert code == 1 and "404 not_found" in err
    code, _, err = await kaohe_cli(kaohe, "explain", "U1", "2026-Q5")
    assert code == 1 and "422 invalid_period" in err
    code, _, err = await kaohe_cli(kaohe, "explain", "U1", "2026", key="kh_nobody_" + "y" * 40)
    assert code == 1 and "401 unauthorized" in err
    for name in ("KAOHE_ADMIN_KEY", "KAOHE_BOOTSTRAP_ADMIN_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAOHE_DATA_DIR", str(tmp_path))
    code, _, err = await kaohe_cli(kaohe, "rebuild", key=None)
    assert code == 2 and "no key" in err


async def test_rebuild_shows_progress_until_done(kaohe):
    await district(kaohe)
    head = await kaohe.head()
    code, out, _ = await kaohe_cli(kaohe, "rebuild", "--interval", "0.01")
    assert code == 0
    assert out.startswith("rebuild job ")
    assert f"100%  {head}/{head} events" in out and "succeeded" in out
    assert out.rstrip().endswith(f"succeeded: proj_g2 is live at log position {head}")
    assert (await kaohe.ranking("2026"))["rows"][0]["net_points"] == -50

    code, out, _ = await kaohe_cli(kaohe, "rebuild", "--no-wait")
    assert code == 0 and len(out.split()) == 3


def test_progress_line():
    job = {"state": "running", "processed": 250, "total": 1000, "events_per_second": 5000.0}
    assert cli_audit.progress_line(job, width=10) == "[##--------]  25%  250/1,000 events  5,000 events/s  running"
    assert cli_audit.progress_line({**job, "total": 0, "processed": 0}).startswith("waiting")
    assert cli_audit.display_width("扣分 D8") == 7
    assert cli_audit.table(["条款", "分值"], [("D8", "-100")]) == "条款  分值\n----  ----\nD8    -100"


def test_times_are_shown_in_the_district_zone(monkeypatch):
    monkeypatch.delenv("KAOHE_TIMEZONE", raising=False)
    assert cli_audit.local("2026-03-04T17:30:00Z") == "2026-03-05 01:30:00"
