"""Bulletins (通报) of a quarter and a year, as JSON, HTML, xlsx and docx; the files are opened with
openpyxl and python-docx and checked against the JSON bulletin.

Points (policy 2026.1): 《政务》 single 10 / brief 5, 每日要情 10, city single 50, province single 100,
province endorsement 80, website “今日” 5, 《政办通报》 0; district late report -30.
"""

import io
from urllib.parse import quote

import openpyxl
from docx import Document
from docx.oxml.ns import qn

from shared.policy_files import load_policies
from shared.settings import Settings
from tests.support.reporting_data import adopt, endorse, item, late, load, target, unit

CHANNELS = load_policies(Settings().policy_dir, Settings().zone).current.channels

FEB, APRIL = "2026-02-10T10:00:00+08:00", "2026-04-08T10:00:00+08:00"
SCRIPT_TITLE = "<script>alert('x')</script>经验做法"
HEADERS = [
    "排名",
    "单位",
    "报送",
    "采用合计",
    "采用·《政务》",
    "采用·每日要情",
    "采用·政办通报",
    "采用·市级",
    "采用·省级",
    "采用·今日",
    "批示",
    "扣分",
    "本期得分",
    "年度累计得分",
]


async def _scenario(kaohe) -> None:
    await load(
        kaohe,
        [
            unit("D1", "区发改委"),
            unit("D2", "区教育局"),
            unit("D3", "区财政局"),
            unit("T1", "城关镇", "township"),
            unit("T2", "东城街道", "township"),
            unit("X1", "区融媒体中心", "other"),
            target("D1", 1, 1),
            target("T1", 1, 0, month=1),
            item("d1", "D1", title="关于一季度经济运行情况的报告"),
            adopt("d1", "district_zhengwu"),
            item("d2", "D1", title=SCRIPT_TITLE),
            adopt("d2", "city"),
            endorse("d2", "province"),
            item("d3", "D1", title="未采用的信息"),
            item("d31", "D3", kind="brief", title="今日简讯"),
            adopt("d31", "website_today"),
            item("d32", "D3", kind="brief", title="政务简讯", at=FEB),
            adopt("d32", "district_zhengwu", at=FEB),
            late("D3", "district", "late"),
            item("t1", "T1", title="城关镇每日要情"),
            adopt("t1", "district_daily"),
            item("x1", "X1", kind="research", title="融媒体调研"),
            adopt("x1", "district_bulletin"),
            item("t2", "T2", title="东城街道省级信息", at=APRIL),
            adopt("t2", "province", at=APRIL),
        ],
    )


async def _get(kaohe, period: str, fmt: str = "json"):
    response = await kaohe.reporting.get(f"/v1/bulletins/{period}", params={"format": fmt})
    assert response.status_code == 200, response.text
    return response


def _expected_cells(row: dict) -> list:
    return (
        [row["rank"], row["unit_name"], row["submitted"], row["adopted"]]
        + [row["adopted_by_channel"][c] for c in CHANNELS]
        + [row["endorsements"], row["deduction_points"], row["net_points"], row["year_net_points"]]
    )


async def test_quarter_bulletin_as_json(kaohe):
    await _scenario(kaohe)
    body = (await _get(kaohe, "2026-Q1")).json()
    assert body["title"] == "关于2026年第一季度政务信息报送采用情况的通报"
    assert body["period"] == "2026-Q1" and body["document_number"] == "区政办信通〔2026〕1号"
    assert body["totals"] == {
        "units": 6,
        "submitted": 7,
        "adopted": 6,
        "adopted_by_channel": {
            "district_zhengwu": 2,
            "district_daily": 1,
            "district_bulletin": 1,
            "city": 1,
            "province": 0,
            "website_today": 1,
        },
        "endorsements": {"district": 0, "city": 0, "province": 1},
    }
    tables = {
        c["name"]: [
            (r["rank"], r["unit_id"], r["net_points"], r["deduction_points"], r["endorsements"]) for r in c["rows"]
        ]
        for c in body["categories"]
    }
    assert tables == {
        "部门": [(1, "D1", 140, 0, 1), (2, "D2", 0, 0, 0), (3, "D3", -20, 30, 0)],
        "镇街": [(1, "T1", 10, 0, 0), (2, "T2", 0, 0, 0)],
        "其他": [(1, "X1", 0, 0, 0)],
    }
    assert [(s["unit_id"], s["reasons"]) for s in body["shortfalls"]] == [
        ("D1", ["adoptions_short"]),
        ("D2", ["nothing_submitted"]),
        ("T2", ["nothing_submitted"]),
    ]
    appendix = {group["channel"]: sorted(i["title"] for i in group["items"]) for group in body["appendix"]}
    assert appendix == {
        "district_zhengwu": ["关于一季度经济运行情况的报告", "政务简讯"],
        "district_daily": ["城关镇每日要情"],
        "district_bulletin": ["融媒体调研"],
        "city": [SCRIPT_TITLE],
        "website_today": ["今日简讯"],
    }
    assert "全区6个单位共报送政务信息7条" in body["text"]["overview"]


async def test_year_to_date_points_and_the_year_bulletin(kaohe):
    await _scenario(kaohe)
    second = (await _get(kaohe, "2026-Q2")).json()
    townships = {
        r["unit_id"]: (r["rank"], r["net_points"], r["year_net_points"])
        for c in second["categories"]
        if c["kind"] == "township"
        for r in c["rows"]
    }
    assert townships == {"T2": (1, 100, 100), "T1": (2, 0, 10)}
    year = (await _get(kaohe, "2026")).json()
    assert year["title"] == "关于2026年度政务信息报送采用情况的通报"
    assert year["totals"]["adopted_by_channel"]["province"] == 1 and year["totals"]["submitted"] == 8


async def test_only_quarters_and_years(kaohe):
    for period in ("2026-H1", "2026-03", "2026-Q5", "spring"):
        response = await kaohe.reporting.get(f"/v1/bulletins/{period}")
        assert (response.status_code, response.json()["code"]) == (422, "invalid_period"), period


async def test_html_escapes_titles(kaohe):
    await _scenario(kaohe)
    response = await _get(kaohe, "2026-Q1", "html")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert 'filename="kaohe-bulletin-2026-Q1.html"' in response.headers["content-disposition"]
    page = response.text
    # the title breaks between words only: before 政务信息 or 的通报
    assert '<h1 class="words">关于2026年第一季度<wbr>政务信息报送采用情况<wbr>的通报</h1>' in page
    assert '<th colspan="7">采用（条次）</th>' in page and "<th>政办通报</th>" in page
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;经验做法" in page


async def test_xlsx_matches_the_json_bulletin(kaohe):
    await _scenario(kaohe)
    data = (await _get(kaohe, "2026-Q1")).json()
    response = await _get(kaohe, "2026-Q1", "xlsx")
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="kaohe-bulletin-2026-Q1.xlsx"')
    assert quote("关于2026年第一季度政务信息报送采用情况的通报.xlsx") in disposition
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["总体情况", "部门排名", "镇街排名", "其他排名", "未完成目标", "采用目录"]
    for sheet in book.worksheets:
        assert sheet["A1"].value == data["title"]
    assert book["总体情况"]["A2"].value == "区政办信通〔2026〕1号"
    overview = {row[0]: row[1] for row in book["总体情况"].iter_rows(min_row=5, values_only=True)}
    assert (overview["报送信息（条）"], overview["采用合计（条次）"], overview["采用·市级刊物"]) == (7, 6, 1)
    for category in data["categories"]:
        sheet = book[f"{category['name']}排名"]
        rows = list(sheet.iter_rows(min_row=3, values_only=True))
        assert list(rows[0]) == HEADERS
        assert [list(row) for row in rows[1:]] == [_expected_cells(r) for r in category["rows"]]
    appendix = list(book["采用目录"].iter_rows(min_row=4, values_only=True))
    assert ("市级刊物", 1, SCRIPT_TITLE, "区发改委") in appendix and len(appendix) == 6
    short = [row[1] for row in book["未完成目标"].iter_rows(min_row=4, values_only=True)]
    assert short == ["区发改委", "区教育局", "东城街道"]


async def test_docx_matches_the_json_bulletin(kaohe):
    await _scenario(kaohe)
    data = (await _get(kaohe, "2026-Q1")).json()
    response = await _get(kaohe, "2026-Q1", "docx")
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert 'filename="kaohe-bulletin-2026-Q1.docx"' in response.headers["content-disposition"]
    doc = Document(io.BytesIO(response.content))
    texts = [p.text for p in doc.paragraphs]
    assert texts[:3] == ["政务信息通报", "区政办信通〔2026〕1号", data["title"]]
    title_run = doc.paragraphs[2].runs[0]
    # GB/T 9704: the title in black 2号 小标宋 (the 版头 above it is the red part)
    assert str(title_run.font.color.rgb) == "000000" and title_run.font.size.pt == 22
    assert title_run._element.rPr.rFonts.get(qn("w:eastAsia")) == "方正小标宋简体"
    assert str(doc.paragraphs[0].runs[0].font.color.rgb) == "C00000"
    assert doc.paragraphs[4].runs[0]._element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋_GB2312"
    assert data["text"]["overview"] in texts and "附件" in texts
    ranking_tables = doc.tables[: len(data["categories"])]
    for table, category in zip(ranking_tables, data["categories"]):
        cells = [[cell.text for cell in row.cells] for row in table.rows]
        # two header rows: 采用（条次） spans its total and the six channels; the others span both rows
        assert cells[0] == ["排名", "单位", "报送"] + ["采用（条次）"] * 7 + [
            "批示",
            "扣分",
            "本期得分",
            "年度累计得分",
        ]
        assert cells[1] == [
            "排名",
            "单位",
            "报送",
            "合计",
            "《政务》",
            "每日要情",
            "政办通报",
            "市级",
            "省级",
            "今日",
            "批示",
            "扣分",
            "本期得分",
            "年度累计得分",
        ]
        assert cells[2:] == [[str(v) for v in _expected_cells(r)] for r in category["rows"]]
    appendix_titles = {row.cells[1].text for table in doc.tables[-len(data["appendix"]) :] for row in table.rows[1:]}
    assert appendix_titles == {i["title"] for group in data["appendix"] for i in group["items"]}


async def test_bulletin_files_answer_304_when_unchanged(kaohe):
    await _scenario(kaohe)
    first = await _get(kaohe, "2026-Q1", "docx")
    again = await kaohe.reporting.get(
        "/v1/bulletins/2026-Q1", params={"format": "docx"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert (again.status_code, again.content, again.headers["cache-control"]) == (304, b"", "no-cache")
    other = await kaohe.reporting.get(
        "/v1/bulletins/2026-Q1", params={"format": "xlsx"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert other.status_code == 200  # another format is another answer
