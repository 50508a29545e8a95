"""The bulletin as a printable HTML page; every piece of text is escaped (titles come from units)."""

from html import escape
from typing import Any

from services.reporting.bulletin import appendix_titles, commended_lists, grouped_headers, table_cells
from services.reporting.render_text import printable

_CSS = """
@page { size: A4; margin: 37mm 26mm 35mm 28mm; }
body { font-family: "仿宋_GB2312", "FangSong", "仿宋", "SimSun", "宋体", "Noto Serif CJK SC", "WenQuanYi Micro Hei", serif;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #111; line-height: 1.8; }
.masthead { color: #c00000; text-align: center; font-family: "方正小标宋简体", "SimSun", "宋体", serif;
     font-size: 2.4rem; letter-spacing: .1em; margin: 0; }
h1 { color: #000; text-align: center; font-family: "方正小标宋简体", "SimSun", "宋体", "Noto Serif CJK SC", serif;
     font-size: 1.7rem; font-weight: normal; margin: 1rem 0; text-wrap: balance; }
/* a title that does not fit one line breaks between words only (GB/T 9704: 回行时词意完整) */
h1.words { word-break: keep-all; }
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
/* the ranking: widths from its <colgroup>; counts and points on one line, headers may wrap */
table.ranking { table-layout: fixed; font-size: .8rem; }
table.ranking th, table.ranking td { padding: .1rem .12rem; }
table.ranking td { white-space: nowrap; }
table.ranking td.name { white-space: normal; }
table.shortfalls { table-layout: fixed; }
table.shortfalls th:nth-child(1) { width: 9em; }
table.shortfalls th:nth-child(2), table.shortfalls th:nth-child(3) { width: 4.6em; }
.signature { text-align: right; margin: 2rem 4em 0 0; break-inside: avoid; }
.attachments { text-indent: 2em; margin: 1rem 0 0; break-after: avoid; }
.attachments span { display: block; padding-left: 3em; }
.appendix { break-before: page; }
h2.appendix-title { text-align: center; font-family: "方正小标宋简体", "SimSun", "宋体", serif; font-weight: normal; }
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
    return f'<table class="{css}">{_columns(channels) if headers is None else ""}<thead>{head}</thead>' + (
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _columns(channels: list[dict[str, str]]) -> str:
    """The ranking's column widths: 排名, the unit's name taking what is left, the counts, the points."""
    widths = ["2.2em", "auto", "2.4em"] + ["2.4em"] * (1 + len(channels)) + ["2.4em", "3em", "3.6em", "3.6em"]
    return "<colgroup>" + "".join(f'<col style="width:{w}">' for w in widths) + "</colgroup>"


def render_html(data: dict[str, Any]) -> bytes:
    """A complete HTML document of the bulletin."""
    data = printable(data)  # a stored name with a control character must not break the document
    text = data["text"]
    parts = [
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{_t(data["title"])}</title>',
        f"<style>{_CSS}</style></head><body>",
        f'<p class="masthead">{"政务信息通报" if not data["period"].isdigit() else _t(data["issuer"]) + "文件"}</p>',
        f'<p class="number">{_t(data["document_number"])}</p><hr class="red">',
        _title(data["title"]),
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
                    css="shortfalls",
                )
            )
    parts.append(f'<p class="body">{_t(text["closing"])}</p>')
    titles = appendix_titles(data)
    listed = [f"{n}. {t}" for n, t in enumerate(titles, 1)] if len(titles) > 1 else titles
    parts.append(
        '<p class="attachments">附件：'
        + "".join(_t(t) if i == 0 else f"<span>{_t(t)}</span>" for i, t in enumerate(listed))
        + "</p>"
    )
    parts.append(f'<p class="signature">{_t(data["issuer"])}<br>{_t(data["issued"])}</p>')
    parts.append(f'<section class="appendix"><h2>{"附件1" if len(titles) > 1 else "附件"}</h2>')
    parts.append(f'<h2 class="appendix-title">{_t(titles[0])}</h2>')
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
    parts.append("</section>")
    if len(titles) > 1:
        parts += _figures(data, titles[1])
    parts.append("</body></html>")
    return "".join(parts).encode("utf-8")


def _title(title: str) -> str:
    """The title, with break opportunities before 政务信息 and 的通报 where it has them: the browser
    then breaks it between words, in balanced lines ("关于2025年第二季度 / 政务信息报送采用情况的通报")."""
    text = _t(title)
    marked = text.replace("政务信息", "<wbr>政务信息", 1).replace("的通报", "<wbr>的通报", 1)
    return f'<h1 class="words">{marked}</h1>' if marked != text else f"<h1>{text}</h1>"


def _dash(value: Any) -> Any:
    return "—" if value is None else value


def _year_end(data: dict[str, Any]) -> list[str]:
    """The 表彰通报's sections: commended, criticised, rectification."""
    say = data["year_text"]
    parts = ["<h2>三、表彰先进单位和先进个人</h2>", f'<p class="body">{_t(say["commended"])}</p>']
    # the 表彰名单 by name (officers with their units), as a 表彰通报 prints it; the figures in 附件2
    for _kind, heading, names in commended_lists(data):
        parts.append(f"<h3>{_t(heading)}</h3>")
        parts.append(f'<p class="body names">{"、".join(_t(name) for name in names)}</p>')
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


def _figures(data: dict[str, Any], title: str) -> list[str]:
    """附件2: the commended units' and officers' year figures."""
    units, officers = data["commended"]["units"], data["commended"]["officers"]
    parts = ['<section class="appendix"><h2>附件2</h2>', f'<h2 class="appendix-title">{_t(title)}</h2>']
    if units:
        rows = [[n, r["unit_name"], r["rank"], r["net_points"], r["deduction_points"]] for n, r in enumerate(units, 1)]
        parts += ["<h3>（一）先进单位</h3>", _table(["序号", "单位", "年度排名", "年度得分", "扣分"], rows)]
    if officers:
        rows = [[n, r["officer_name"], r["unit_name"], r["rank"], r["net_points"]] for n, r in enumerate(officers, 1)]
        parts.append(f"<h3>（{'二' if units else '一'}）先进个人</h3>")
        parts.append(_table(["序号", "姓名", "单位", "年度排名", "年度得分"], rows))
    return [*parts, "</section>"]
