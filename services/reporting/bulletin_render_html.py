"""The bulletin as a printable HTML page; every piece of text is escaped (titles come from units)."""

from html import escape
from typing import Any

from services.reporting.bulletin import grouped_headers, table_cells
from services.reporting.render_text import printable

_CSS = """
@page { size: A4; margin: 37mm 26mm 35mm 28mm; }
body { font-family: "仿宋_GB2312", "FangSong", "仿宋", "SimSun", "宋体", "Noto Serif CJK SC", "WenQuanYi Micro Hei", serif;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #111; line-height: 1.8; }
.masthead { color: #c00000; text-align: center; font-family: "方正小标宋简体", "SimSun", "宋体", serif;
     font-size: 2.4rem; letter-spacing: .1em; margin: 0; }
h1 { color: #000; text-align: center; font-family: "方正小标宋简体", "SimSun", "宋体", "Noto Serif CJK SC", serif;
     font-size: 1.9rem; font-weight: normal; margin: 1rem 0; }
.number { text-align: center; margin: .2rem 0; }
hr.red { border: 0; border-top: 3px solid #c00000; margin: .4rem 0 1.4rem; }
h2 { font-family: "SimHei", "黑体", "Noto Sans CJK SC", sans-serif; font-size: 1.15rem; margin: 1.4rem 0 .4rem; }
h3 { font-family: "楷体", "KaiTi", "楷体_GB2312", serif; font-size: 1.05rem; font-weight: normal; margin: 1rem 0 .3rem; }
h2, h3 { break-after: avoid; page-break-after: avoid; }
tr { break-inside: avoid; }
thead { display: table-header-group; }
p.body { text-indent: 2em; margin: .3rem 0; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; margin: .3rem 0 1rem; }
th, td { border: 1px solid #333; padding: .15rem .3rem; text-align: center; }
th { background: #f2f2f2; }
td.name { text-align: left; }
table.ranking { table-layout: fixed; }
table.ranking th:nth-child(2) { width: 11em; }
table.ranking th[rowspan="2"]:nth-child(1) { width: 2.6em; }
.signature { text-align: right; margin-top: 2rem; }
@media print { body { margin: 0; max-width: none; } }
"""


def _t(value: Any) -> str:
    """Every stored string passes here: one place to sanitise, then HTML-escaped."""
    return escape("" if value is None else str(value))


RECTIFICATION_STATUS = {"required": "未提交", "submitted": "已提交待审", "accepted": "已通过", "returned": "已退回修改"}


def _grouped_head(channels: list[dict[str, str]]) -> str:
    groups, sub = grouped_headers(channels)
    top = "".join(
        f'<th colspan="{span}">{_t(title)}</th>' if span > 1 else f'<th rowspan="2">{_t(title)}</th>'
        for title, span in groups
    )
    return f"<tr>{top}</tr><tr>{''.join(f'<th>{_t(title)}</th>' for title in sub)}</tr>"


def _table(
    headers: list[str] | None,
    rows: list[list[Any]],
    name_column: int = 1,
    css: str = "",
    channels: list[dict[str, str]] = (),  # type: ignore[assignment]
) -> str:
    head = (
        _grouped_head(channels) if headers is None else "<tr>" + "".join(f"<th>{_t(h)}</th>" for h in headers) + "</tr>"
    )
    body = []
    for cells in rows:
        body.append(
            "<tr>"
            + "".join(
                f'<td class="name">{_t(c)}</td>' if i == name_column else f"<td>{_t(c)}</td>"
                for i, c in enumerate(cells)
            )
            + "</tr>"
        )
    return f'<table class="{css}"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def render_html(data: dict[str, Any]) -> bytes:
    """A complete HTML document of the bulletin."""
    data = printable(data)  # a stored name with a control character must not break the document
    text = data["text"]
    parts = [
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{_t(data["title"])}</title>',
        f"<style>{_CSS}</style></head><body>",
        f'<p class="masthead">{"政务信息通报" if not data["period"].isdigit() else _t(data["issuer"]) + "文件"}</p>',
        f'<p class="number">{_t(data["document_number"])}</p><hr class="red">',
        f"<h1>{_t(data['title'])}</h1>",
        f"<p>{_t(text['salutation'])}</p>",
        f'<p class="body">{_t(text["opening"])}</p>',
        "<h2>一、总体情况</h2>",
        f'<p class="body">{_t(text["overview"])}</p>',
        "<h2>二、各单位报送采用及得分情况</h2>",
    ]
    for index, category in enumerate(data["categories"]):
        parts.append(f"<h3>（{'一二三四五六七八九十'[index]}）{_t(category['name'])}</h3>")
        parts.append(
            _table(
                None,
                [table_cells(row, data["channels"]) for row in category["rows"]],
                css="ranking",
                channels=data["channels"],
            )
        )
    if "commended" in data:
        parts += _year_end(data)
    else:
        parts.append("<h2>三、未完成目标任务的单位及改正意见</h2>")
        parts.append(f'<p class="body">{_t(text["shortfall"])}</p>')
        if data["shortfalls"]:
            parts.append(
                _table(
                    ["单位", "报送/目标", "采用/目标", "改正意见"],
                    [
                        [
                            row["unit_name"],
                            f"{row['submitted']}/{_dash(row['target_submissions'])}",
                            f"{row['adopted']}/{_dash(row['target_adoptions'])}",
                            row["advice"],
                        ]
                        for row in data["shortfalls"]
                    ],
                    name_column=3,
                )
            )
    parts.append(f'<p class="body">{_t(text["closing"])}</p>')
    parts.append(f'<p class="signature">{_t(data["issuer"])}<br>{_t(data["issued"])}</p>')
    parts.append(f"<h2>附件：{_t(data['period_name'])}采用信息目录</h2>")
    if not data["appendix"]:
        parts.append('<p class="body">本期无采用信息。</p>')
    for group in data["appendix"]:
        parts.append(f"<h3>{_t(group['channel_name'])}（{len(group['items'])}条次）</h3>")
        parts.append(
            _table(
                ["序号", "标题", "报送单位"],
                [[number, item["title"], item["unit_name"]] for number, item in enumerate(group["items"], start=1)],
            )
        )
    parts.append("</body></html>")
    return "".join(parts).encode("utf-8")


def _dash(value: Any) -> Any:
    return "—" if value is None else value


def _year_end(data: dict[str, Any]) -> list[str]:
    """The 表彰通报's sections: commended, criticised, rectification."""
    say = data["year_text"]
    units, officers = data["commended"]["units"], data["commended"]["officers"]
    parts = ["<h2>三、表彰先进单位和先进个人</h2>", f'<p class="body">{_t(say["commended"])}</p>']
    if units:
        parts.append("<h3>（一）政务信息工作先进单位</h3>")
        parts.append(
            _table(["序号", "单位", "年度得分"], [[n, r["unit_name"], r["net_points"]] for n, r in enumerate(units, 1)])
        )
    if officers:
        parts.append(f"<h3>（{'二' if units else '一'}）政务信息工作先进个人</h3>")
        parts.append(
            _table(
                ["序号", "姓名", "单位", "年度得分"],
                [[n, r["officer_name"], r["unit_name"], r["net_points"]] for n, r in enumerate(officers, 1)],
            )
        )
    parts += ["<h2>四、通报批评</h2>", f'<p class="body">{_t(say["criticized"])}</p>']
    if data["criticized"]:
        rows = [[n, r["unit_name"], r["deduction_points"]] for n, r in enumerate(data["criticized"], 1)]
        parts.append(_table(["序号", "单位", "全年扣分"], rows))
    parts += ["<h2>五、整改要求</h2>", f'<p class="body">{_t(say["rectification"])}</p>']
    if data["rectification"]:
        rows = [
            [n, r["unit_name"], RECTIFICATION_STATUS.get(r["status"], r["status"])]
            for n, r in enumerate(data["rectification"], 1)
        ]
        parts.append(_table(["序号", "单位", "整改方案"], rows))
    parts.append(f'<p class="body">{_t(say["hopes"])}</p>')
    return parts
