"""The bulletin as a printable HTML page; every piece of text is escaped (titles come from units)."""

from html import escape
from typing import Any

from services.reporting.bulletin import grouped_headers, table_cells
from services.reporting.render_text import printable

_CSS = """
body { font-family: "FangSong", "仿宋", "SimSun", "宋体", "Noto Serif CJK SC", "WenQuanYi Micro Hei", serif;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #111; line-height: 1.8; }
h1 { color: #c00000; text-align: center; font-family: "SimSun", "宋体", "Noto Serif CJK SC", serif;
     font-size: 1.9rem; letter-spacing: .05em; margin-bottom: .2rem; }
.number { text-align: center; margin: .2rem 0; }
hr.red { border: 0; border-top: 3px solid #c00000; margin: .4rem 0 1.4rem; }
h2 { font-family: "SimHei", "黑体", "Noto Sans CJK SC", sans-serif; font-size: 1.15rem; margin: 1.4rem 0 .4rem; }
h3 { font-size: 1.05rem; margin: 1rem 0 .3rem; }
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


def _grouped_head() -> str:
    groups, sub = grouped_headers()
    top = "".join(
        f'<th colspan="{span}">{escape(title)}</th>' if span > 1 else f'<th rowspan="2">{escape(title)}</th>'
        for title, span in groups
    )
    return f"<tr>{top}</tr><tr>{''.join(f'<th>{escape(title)}</th>' for title in sub)}</tr>"


def _table(headers: list[str] | None, rows: list[list[Any]], name_column: int = 1, css: str = "") -> str:
    head = (
        _grouped_head()
        if headers is None
        else "<tr>" + "".join(f"<th>{escape(str(h))}</th>" for h in headers) + "</tr>"
    )
    body = []
    for cells in rows:
        body.append(
            "<tr>"
            + "".join(
                f'<td class="name">{escape(str(c))}</td>' if i == name_column else f"<td>{escape(str(c))}</td>"
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
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(data["title"])}</title>',
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(data['title'])}</h1>",
        f'<p class="number">{escape(data["document_number"])}</p><hr class="red">',
        f"<p>{escape(text['salutation'])}</p>",
        f'<p class="body">{escape(text["opening"])}</p>',
        "<h2>一、总体情况</h2>",
        f'<p class="body">{escape(text["overview"])}</p>',
        "<h2>二、各单位报送采用及得分情况</h2>",
    ]
    for index, category in enumerate(data["categories"], start=1):
        parts.append(f"<h3>（{index}）{escape(category['name'])}</h3>")
        parts.append(_table(None, [table_cells(row) for row in category["rows"]], css="ranking"))
    parts.append("<h2>三、未完成目标任务的单位</h2>")
    parts.append(f'<p class="body">{escape(text["shortfall"])}</p>')
    if data["shortfalls"]:
        parts.append(
            _table(
                ["类别", "单位", "报送", "采用", "报送目标", "采用目标"],
                [
                    [
                        row["category"],
                        row["unit_name"],
                        row["submitted"],
                        row["adopted"],
                        row["target"]["submissions"] if row["target"] else "—",
                        row["target"]["adoptions"] if row["target"] else "—",
                    ]
                    for row in data["shortfalls"]
                ],
            )
        )
    parts.append(f'<p class="body">{escape(text["closing"])}</p>')
    parts.append(f'<p class="signature">{escape(data["issuer"])}<br>{escape(data["issued"])}</p>')
    parts.append(f"<h2>附件：{escape(data['period_name'])}采用信息目录</h2>")
    if not data["appendix"]:
        parts.append('<p class="body">本期无采用信息。</p>')
    for group in data["appendix"]:
        parts.append(f"<h3>{escape(group['channel_name'])}（{len(group['items'])}条次）</h3>")
        parts.append(
            _table(
                ["序号", "标题", "报送单位"],
                [[number, item["title"], item["unit_name"]] for number, item in enumerate(group["items"], start=1)],
            )
        )
    parts.append("</body></html>")
    return "".join(parts).encode("utf-8")
