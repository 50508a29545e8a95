"""`kaohe import`: the shipped register template, twice (the second a no-op), a file with bad rows
(each reported with its row number and why, the good rows still imported), and `--dry-run`; against
the real apps on a real database."""

import csv
import re

import httpx
import pytest

from shared.settings import REPO_ROOT
from tests.support.harness import ADMIN_KEY
from tools.cli import build_parser
from tools.cli_import import run_import

TEMPLATE = REPO_ROOT / "docs" / "import-template.xlsx"
AT = "2026-01-05T09:00:00+08:00"


async def _directory(kaohe) -> None:
    await kaohe.post("unit.registered", {"unit_id": "U1", "name": "区发改委", "kind": "department"}, occurred_at=AT)
    await kaohe.post("unit.registered", {"unit_id": "U2", "name": "区教育局", "kind": "department"}, occurred_at=AT)
    await kaohe.post("officer.registered", {"officer_id": "P1", "unit_id": "U1", "name": "张明"}, occurred_at=AT)
    await kaohe.post("officer.registered", {"officer_id": "P2", "unit_id": "U2", "name": "李华"}, occurred_at=AT)


@pytest.fixture
def importer(kaohe, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    transport = httpx.ASGITransport(app=kaohe.apps["ingest"])

    async def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        args = build_parser().parse_args(["import", *argv, "--url", "http://ingest", "--key", ADMIN_KEY])
        code = await run_import(args, transport=transport)
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


async def test_the_shipped_template_imports_and_a_second_import_changes_nothing(kaohe, importer):
    await _directory(kaohe)
    head = await kaohe.head()
    code, out = await importer(str(TEMPLATE))
    assert code == 0, out
    assert "共 4 行，新导入 4 行，已导入过（无变化）0 行，有问题 0 行；事件新增 10 个，重复 0 个" in out
    assert await kaohe.head() == head + 10  # 4 submitted, 4 adopted, 2 endorsed

    code, again = await importer(str(TEMPLATE))
    assert code == 0, again
    assert "新导入 0 行，已导入过（无变化）4 行，有问题 0 行；事件新增 0 个，重复 10 个" in again
    assert await kaohe.head() == head + 10

    # the adoptions and endorsements count: U1 has a city adoption (S4) and a city endorsement
    ledger = await kaohe.unit_ledger("U1", "2026")
    assert ledger["entries"] and sum(e["points"] for e in ledger["entries"]) > 50
    officer = await kaohe.officer_ledger("P1", "2026")
    assert officer["entries"]


async def test_bad_rows_are_reported_with_their_row_numbers_and_the_rest_imports(kaohe, importer, tmp_path):
    await _directory(kaohe)
    register = tmp_path / "采用登记表.csv"
    rows = [
        ["日期", "单位", "标题", "类别", "刊物/渠道", "期号", "作者", "批示"],
        ["2026-04-01", "区发改委", "好的一条", "单条信息", "市级刊物", "第9期", "张明", ""],  # 2
        ["2026-04-02", "区财政局", "单位未登记", "单条信息", "市级刊物", "", "", ""],  # 3
        ["2026-04-03", "区发改委", "渠道不明", "单条信息", "人民日报", "", "", ""],  # 4
        ["2026年4月", "区发改委", "日期不全", "单条信息", "市级刊物", "", "", ""],  # 5
        ["2026-04-05", "区发改委", "", "单条信息", "市级刊物", "", "", ""],  # 6
        ["2026-04-06", "区发改委", "作者不是本单位的", "单条信息", "市级刊物", "", "李华", ""],  # 7
        ["2026-04-07", "区发改委", "批示不明", "单条信息", "市级刊物", "", "", "王主任"],  # 8
        ["2026-04-08", "区教育局", "政办通报只收调研", "单条信息", "《政办通报》", "第2期", "", ""],  # 9
        ["2026/4/9", "U2", "第二条好的", "简讯", "每日要情", "第70期", "李华", "区领导 赵区长"],  # 10
    ]
    with open(register, "w", newline="", encoding="utf-8-sig") as handle:
        csv.writer(handle).writerows(rows)

    code, dry = await importer(str(register), "--dry-run")
    head = await kaohe.head()
    assert code == 1 and "可导入 3 行" in dry and "试运行" in dry

    code, out = await importer(str(register))
    assert code == 1, out
    reasons = {int(m[1]): m[2] for m in re.finditer(r"^(\d+)\s+(.+)$", out, re.M)}
    assert "区财政局" in reasons[3] and "未登记" in reasons[3]
    assert "人民日报" in reasons[4]
    assert "日期" in reasons[5]
    assert "标题" in reasons[6] and "为空" in reasons[6]
    assert "李华" in reasons[7]
    assert "王主任" in reasons[8]
    assert "服务拒收" in reasons[9]  # the ingest's own check: 《政办通报》 takes research only
    assert not {2, 10} & set(reasons)
    assert "共 9 行，新导入 2 行" in out and "有问题 7 行" in out
    assert await kaohe.head() == head + 5  # two items submitted and adopted, one endorsed

    code, again = await importer(str(register))
    assert code == 1 and "新导入 0 行，已导入过（无变化）2 行，有问题 7 行；事件新增 0 个" in again
    assert await kaohe.head() == head + 5


async def test_a_file_that_is_not_a_register_is_refused_as_a_whole(kaohe, importer, tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    code, out = await importer(str(other))
    assert code == 2 and "表头" in out
    code, out = await importer(str(tmp_path / "missing.xlsx"))
    assert code == 2 and "找不到文件" in out
