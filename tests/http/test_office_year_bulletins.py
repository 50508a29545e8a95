"""The year bulletin as a 表彰通报 (commended, criticised, rectification) and the quarter bulletin's
改正意见 (shortfall figures and advice), in json and in every rendered format."""

import io

import openpyxl
from docx import Document

from tests.support import factories as f
from tests.support.factories import event, given

JUNE = "2026-06-10T10:00:00+08:00"


async def _year(kaohe) -> None:
    """D1 meets its target and earns most; D2 misses (rectify) and is criticised (≥ 200); D3 has no target."""
    await given(
        kaohe,
        f.unit_registered("D1", name="区发改委"),
        f.unit_registered("D2", name="区财政局"),
        f.unit_registered("D3", name="区统计局"),
        f.officer_registered("O1", "D1", name="张三"),
        f.target_set("D1", submissions=0, adoptions=0),
        f.target_set("D2", submissions=1, adoptions=1),
        f.item_submitted("I1", "D1", authors=["O1"], at=JUNE),
        f.item_adopted("I1", "city", at=JUNE),
        f.criticized("D2", at=JUNE),
        f.criticized("D2", at=JUNE),
        f.item_submitted("I2", "D2", at=JUNE),
        event("unit.rectification-submitted", {"unit_id": "D2", "year": 2026, "plan": "每月报送"}, at=JUNE),
    )
    await kaohe.settled()


async def test_year_bulletin_lists(kaohe):
    await _year(kaohe)
    body = (await kaohe.reporting.get("/v1/bulletins/2026")).json()
    assert [u["unit_id"] for u in body["commended"]["units"]] == ["D1"]
    assert [o["officer_id"] for o in body["commended"]["officers"]] == ["O1"]
    assert body["criticized"] == [{"unit_id": "D2", "unit_name": "区财政局", "deduction_points": 200}]
    assert body["rectification"] == [{"unit_id": "D2", "unit_name": "区财政局", "status": "submitted"}]
    assert "区发改委" in body["year_text"]["commended"] and "区财政局" in body["year_text"]["criticized"]
    none = (await kaohe.reporting.get("/v1/bulletins/2026", params={"units": 0, "officers": 0})).json()
    assert none["commended"] == {"units": [], "officers": []}
    quarter = (await kaohe.reporting.get("/v1/bulletins/2026-Q2")).json()
    assert "commended" not in quarter
    # a 表彰通报: the 表彰名单 by name in the body, officers with their units; the figures in 附件2
    docx = await kaohe.reporting.get("/v1/bulletins/2026", params={"format": "docx"})
    paragraphs = [p.text for p in Document(io.BytesIO(docx.content)).paragraphs]
    assert "（一）政务信息工作先进单位（1个）" in paragraphs and "区发改委" in paragraphs
    assert "（二）政务信息工作先进个人（1名）" in paragraphs and "张三（区发改委）" in paragraphs
    assert "通报批评" in "\n".join(paragraphs) and "整改" in "\n".join(paragraphs)
    assert "附件：1. 2026年度采用信息目录" in paragraphs and "附件2" in paragraphs
    tables = "\n".join(c.text for t in Document(io.BytesIO(docx.content)).tables for r in t.rows for c in r.cells)
    assert "区发改委" in tables and "张三" in tables  # 附件2's figures
    html = (await kaohe.reporting.get("/v1/bulletins/2026", params={"format": "html"})).text
    assert "@page" in html and "先进个人（1名）" in html and "张三（区发改委）" in html and "已提交" in html
    xlsx = await kaohe.reporting.get("/v1/bulletins/2026", params={"format": "xlsx"})
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert {"表彰名单", "通报批评与整改", "考评得分"} <= set(book.sheetnames)
    sheet = book["表彰名单"]
    assert sheet.page_setup.orientation == "landscape" and sheet.print_title_rows
    assert "张三（区发改委）" in [c.value for row in sheet.iter_rows() for c in row]


async def test_quarter_shortfall_rows_carry_figures_and_advice(kaohe):
    await given(
        kaohe,
        f.unit_registered("U1", name="城关镇", kind="township"),
        f.unit_registered("U2", name="东河镇", kind="township"),
        f.unit_registered("U3", name="西山镇", kind="township"),
        f.target_set("U1", submissions=2, adoptions=1),
        f.target_set("U2", submissions=1, adoptions=1),
        f.target_set("U3", submissions=1, adoptions=0),
        *(f.item_submitted(f"I{n}", "U1") for n in range(7)),
        f.item_submitted("J1", "U2"),
        f.item_submitted("J2", "U2"),
    )
    await kaohe.settled()
    body = (await kaohe.reporting.get("/v1/bulletins/2026-Q1")).json()
    rows = {
        r["unit_id"]: (r["submitted"], r["target_submissions"], r["adopted"], r["target_adoptions"])
        for r in body["shortfalls"]
    }
    # quarter targets: three months of the monthly target
    assert rows == {"U1": (7, 6, 0, 3), "U2": (2, 3, 0, 3), "U3": (0, 3, 0, 0)}
    advice = {r["unit_id"]: r["advice"] for r in body["shortfalls"]}
    assert "采用0条次，距目标3条次尚差3条次" in advice["U1"]
    assert "报送2条（目标3条）、采用0条次（目标3条次）均未达标" in advice["U2"]
    assert "未报送信息" in advice["U3"]
    docx = await kaohe.reporting.get("/v1/bulletins/2026-Q1", params={"format": "docx"})
    cells = [c.text for t in Document(io.BytesIO(docx.content)).tables for r in t.rows for c in r.cells]
    assert any("尚差3条次" in c for c in cells)
