"""The bulletin as a Word document laid out after GB/T 9704—2012 (党政机关公文格式): A4, margins
37 mm top and 28 mm binding, red 版头 and rule under the 文号, title 2号 小标宋 in black, body 3号
仿宋_GB2312, 一、 headings 黑体 and （一） sub-headings 楷体 (kept with what follows), tables in 五号
(10.5 pt), the date with the day right-aligned, page numbers "— 1 —" in 4号 宋体 at the foot.
A year's bulletin is the 表彰通报: commended units and officers, criticised units, rectification."""

import io
from typing import Any

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from services.reporting.bulletin import (
    appendix_titles,
    commended_lists,
    grouped_headers,
    table_cells,
    table_headers,
)
from services.reporting.render_text import printable

RED = RGBColor(0xC0, 0x00, 0x00)
BLACK = RGBColor(0, 0, 0)
BODY, TITLE, HEADING, SUBHEADING, TABLE, PAGE = "仿宋_GB2312", "方正小标宋简体", "黑体", "楷体", "仿宋_GB2312", "宋体"
SIZE_2, SIZE_3, SIZE_4, SIZE_5 = 22, 16, 14, 10.5  # 2号, 3号, 4号, 五号 in points
RECTIFICATION_STATUS = {"required": "未提交", "submitted": "已提交待审", "accepted": "已通过", "returned": "已退回修改"}


def stored(value: Any) -> str:
    """Every stored string (names, titles, plans) passes here before it is written: one place to
    sanitise what units and the platform typed."""
    return "" if value is None else str(value)


def _font(run, name: str, size: float, *, bold: bool = False, color: RGBColor | None = None) -> None:
    """Latin and East Asian font both, so Word and WPS show the Chinese in `name`."""
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), name)
    fonts.set(qn("w:ascii"), name)
    fonts.set(qn("w:hAnsi"), name)


def _para(
    doc,
    text: str,
    *,
    font: str = BODY,
    size: float = 16,
    bold: bool = False,
    color: RGBColor | None = None,
    align=None,
    indent: bool = False,
    after: float = 0,
    keep: bool = False,
):
    paragraph = doc.add_paragraph()
    paragraph.alignment = align
    fmt = paragraph.paragraph_format
    fmt.space_after = Pt(after)
    fmt.space_before = Pt(0)
    fmt.line_spacing = Pt(max(28, size * 1.5))  # 22 lines of 3号 on the 225 mm type area
    fmt.keep_with_next = keep  # a heading never stays alone at a page foot
    fmt.widow_control = True
    if indent:
        fmt.first_line_indent = Pt(size * 2)
    _font(paragraph.add_run(stored(text)), font, size, bold=bold, color=color)
    return paragraph


# Children of w:pPr that come after w:pBdr (ECMA-376 sequence): a border appended after w:spacing or
# w:jc is out of order, and LibreOffice (and Word, strictly) ignore it — the red rule did not show.
_AFTER_PBDR = (
    "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
    "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid",
    "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc",
    "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle",
    "w:rPr", "w:sectPr", "w:pPrChange",
)  # fmt: skip


def _red_rule(paragraph) -> None:
    """GB/T 9704 7.2.4: the red 分隔线 under the 发文字号, as wide as the type area — the paragraph's
    bottom border (1.5 pt, 4 mm below the 文号's baseline)."""
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "12"), ("w:space", "11"), ("w:color", "C00000")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    paragraph._p.get_or_add_pPr().insert_element_before(borders, *_AFTER_PBDR)


def _repeat_as_header(row) -> None:
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().insert_element_before(repeat, "w:tblCellSpacing", "w:jc", "w:hidden")


def _cant_split(row) -> None:
    """A row is never broken across two pages (w:cantSplit comes before w:trHeight and w:tblHeader)."""
    row._tr.get_or_add_trPr().insert_element_before(OxmlElement("w:cantSplit"), "w:trHeight", "w:tblHeader")


def _write(cell, value: Any, *, size: float, bold: bool = False, left: bool = False) -> None:
    paragraph = cell.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT if left else WD_ALIGN_PARAGRAPH.CENTER
    _font(paragraph.add_run(stored(value)), TABLE, size, bold=bold)


def _heading(doc, text: str) -> None:
    """一、 first-level heading: 黑体 3号, kept with the next paragraph."""
    _para(doc, text, font=HEADING, indent=True, keep=True)


def _subheading(doc, text: str) -> None:
    """（一） second-level heading: 楷体 3号, kept with the next paragraph."""
    _para(doc, text, font=SUBHEADING, indent=True, keep=True)


def _page_numbers(section) -> None:
    """ "— 1 —" in 4号 宋体 centred at the foot: a PAGE field between two em dashes."""
    paragraph = section.footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(paragraph.add_run("— "), PAGE, SIZE_4)
    run = paragraph.add_run()
    _font(run, PAGE, SIZE_4)
    for kind, text in (("begin", None), (None, "PAGE"), ("separate", None), (None, "1"), ("end", None)):
        if kind is not None:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        elif text == "PAGE":
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = " PAGE "
        else:
            element = OxmlElement("w:t")
            element.text = text
        run._r.append(element)
    _font(paragraph.add_run(" —"), PAGE, SIZE_4)


def _cell_margins(table, twips: int) -> None:
    """Left and right cell margins of the whole table (w:tblCellMar, in its place in w:tblPr)."""
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        margin = OxmlElement(f"w:{side}")
        margin.set(qn("w:w"), str(twips))
        margin.set(qn("w:type"), "dxa")
        margins.append(margin)
    table._tbl.tblPr.insert_element_before(margins, "w:tblLook", "w:tblCaption", "w:tblDescription")


def _fix_widths(table, widths: list[float]) -> None:
    """Fixed column widths in the grid and in every cell: Word, WPS and LibreOffice each read one."""
    table.autofit = False  # w:tblLayout w:type="fixed", in its place in w:tblPr
    for column, width in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths):
        column.set(qn("w:w"), str(Cm(width).twips))
    for row in table.rows:
        for index, cell in enumerate(row.cells):
            cell.width = Cm(widths[index])


def _table(
    doc,
    headers: list[str] | None,
    rows: list[list[Any]],
    widths: list[float],
    size: float = SIZE_5,
    channels: list[dict[str, str]] = (),  # type: ignore[assignment]
    left_columns: tuple[int, ...] = (1,),
    head_size: float | None = None,
    tight: bool = False,
) -> None:
    """A bordered table; `headers` None means the ranking's two header rows (采用 over its channels).
    `tight`: cell margins of 0.05 cm, so a 0.8 cm column holds three digits of 五号 on one line."""
    columns = len(widths)
    head_rows = 1 if headers is not None else 2
    head_size = head_size or size
    table = doc.add_table(rows=head_rows, cols=columns)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    if tight:
        _cell_margins(table, Cm(0.05).twips)
    for row in table.rows:
        _repeat_as_header(row)
    if headers is not None:
        for cell, title in zip(table.rows[0].cells, headers):
            _write(cell, title, size=head_size, bold=True)
    else:
        groups, sub = grouped_headers(channels)
        column = 0
        for title, span in groups:
            top, bottom = table.cell(0, column), table.cell(1, column + span - 1)
            if span > 1:
                for offset, name in enumerate(sub):
                    _write(table.cell(1, column + offset), name, size=head_size, bold=True)
                top = top.merge(table.cell(0, column + span - 1))
            else:
                top = top.merge(bottom)
            _write(top, title, size=head_size, bold=True)
            column += span
    for cells in rows:
        row = table.add_row()
        for index, (cell, value) in enumerate(zip(row.cells, cells)):
            _write(cell, value, size=size, left=index in left_columns)
    for row in table.rows:
        _cant_split(row)
    _fix_widths(table, widths)
    _para(doc, "", size=SIZE_5)


def render_docx(data: dict[str, Any]) -> bytes:
    """The document's bytes."""
    data = printable(data)  # a stored name with a control character must not break the document
    doc = Document()
    doc.core_properties.title = stored(data["title"])
    doc.core_properties.author = stored(data["issuer"])
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    # GB/T 9704: top 37 mm, binding (left) 28 mm; a 156 × 225 mm type area
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    section.footer_distance = Cm(2.0)
    normal = doc.styles["Normal"]
    normal.font.name = BODY
    normal.font.size = Pt(SIZE_3)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY)
    _page_numbers(section)

    # 版头: the issuing office's mark in red, the 文号, the red rule
    masthead = f"{stored(data['issuer'])}文件" if data["period"].isdigit() else "政务信息通报"
    _para(doc, masthead, font=TITLE, size=36, color=RED, align=WD_ALIGN_PARAGRAPH.CENTER, after=12)
    _red_rule(_para(doc, stored(data["document_number"]), align=WD_ALIGN_PARAGRAPH.CENTER, after=18))
    _para(doc, stored(data["title"]), font=TITLE, size=SIZE_2, color=BLACK, align=WD_ALIGN_PARAGRAPH.CENTER, after=18)
    text = data["text"]
    _para(doc, stored(text["salutation"]))
    _para(doc, stored(text["opening"]), indent=True)
    year_end = "commended" in data
    numbers = iter("一二三四五六七八九十")
    _heading(doc, f"{next(numbers)}、总体情况")
    _para(doc, stored(text["overview"]), indent=True)
    _heading(doc, f"{next(numbers)}、各单位报送采用及得分情况")
    # 15.0 of the 15.6 cm type area: the unit's name (nine characters of 五号) on one line, counts up
    # to three digits, points up to "-1200"; the header rows in 小五 (9 pt) so 《政务》 takes two lines
    widths = [0.7, 3.5] + [0.8] * (len(table_headers(data["channels"])) - 6) + [0.8, 1.1, 1.25, 1.25]
    for index, category in enumerate(data["categories"]):
        _subheading(doc, f"（{'一二三四五六七八九十'[index]}）{stored(category['name'])}")
        _table(
            doc,
            None,
            [table_cells(row, data["channels"]) for row in category["rows"]],
            widths,
            channels=data["channels"],
            head_size=9,
            tight=True,
        )
    if year_end:
        _year_end(doc, data, numbers)
    else:
        _heading(doc, f"{next(numbers)}、未完成目标任务的单位及改正意见")
        _para(doc, stored(text["shortfall"]), indent=True, after=6)
        if data["shortfalls"]:
            _table(
                doc,
                ["单位", "报送/目标", "采用/目标", "改正意见"],
                [
                    [
                        row["unit_name"],
                        f"{row['submitted']}/{_or_dash(row['target_submissions'])}",
                        f"{row['adopted']}/{_or_dash(row['target_adoptions'])}",
                        row["advice"],
                    ]
                    for row in data["shortfalls"]
                ],
                [3.0, 2.0, 2.0, 8.6],
                left_columns=(0, 3),
            )
    _para(doc, stored(text["closing"]), indent=True, after=SIZE_3 * 1.5, keep=True)
    # 附件说明 (GB/T 9704 7.3.4): under the body, two characters in, numbered when there are several;
    # then 发文机关署名 and 成文日期, right-aligned four characters in — kept on one page with the
    # closing lines, so the signature never stands alone on a page
    titles = appendix_titles(data)
    numbered = [f"{n}. {t}" for n, t in enumerate(titles, start=1)] if len(titles) > 1 else titles
    for index, title in enumerate(numbered):
        line = _para(doc, ("附件：" if index == 0 else "") + title, indent=True, keep=True)
        if index:  # the later titles line up under the first (after 附件：)
            line.paragraph_format.first_line_indent = Pt(SIZE_3 * 5)
    doc.paragraphs[-1].paragraph_format.space_after = Pt(SIZE_3 * 3)
    _signature(doc, stored(data["issuer"]), keep=True)
    _signature(doc, stored(data["issued"]))

    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    _para(doc, "附件1" if len(titles) > 1 else "附件", font=HEADING)
    _para(doc, stored(titles[0]), font=TITLE, size=18, align=WD_ALIGN_PARAGRAPH.CENTER, after=12)
    if not data["appendix"]:
        _para(doc, "本期无采用信息。", indent=True)
    for group in data["appendix"]:
        _subheading(doc, f"{stored(group['channel_name'])}（{len(group['items'])}条次）")
        _table(
            doc,
            ["序号", "标题", "报送单位"],
            [[number, item["title"], item["unit_name"]] for number, item in enumerate(group["items"], start=1)],
            [1.2, 10.2, 4.2],
        )
    if len(titles) > 1:
        _figures(doc, data, titles[1])
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _or_dash(value: Any) -> Any:
    return "—" if value is None else value


def _signature(doc, text: str, *, keep: bool = False) -> None:
    paragraph = _para(doc, text, align=WD_ALIGN_PARAGRAPH.RIGHT, keep=keep)
    paragraph.paragraph_format.right_indent = Pt(SIZE_3 * 4)


def _name_list(doc, names: list[str]) -> None:
    """A 表彰名单 as the body of a 表彰通报 prints it: the names one after another, 、 between them."""
    _para(doc, "、".join(stored(name) for name in names), indent=True)


def _figures(doc, data: dict[str, Any], title: str) -> None:
    """附件2: the commended units' and officers' year figures, on a page of their own."""
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    _para(doc, "附件2", font=HEADING)
    _para(doc, stored(title), font=TITLE, size=18, align=WD_ALIGN_PARAGRAPH.CENTER, after=12)
    units, officers = data["commended"]["units"], data["commended"]["officers"]
    if units:
        _subheading(doc, "（一）先进单位")
        _table(
            doc,
            ["序号", "单位", "年度排名", "年度得分", "扣分"],
            [
                [n, row["unit_name"], row["rank"], row["net_points"], row["deduction_points"]]
                for n, row in enumerate(units, start=1)
            ],
            [1.6, 6.8, 2.4, 2.4, 2.4],
        )
    if officers:
        _subheading(doc, f"（{'二' if units else '一'}）先进个人")
        _table(
            doc,
            ["序号", "姓名", "单位", "年度排名", "年度得分"],
            [
                [n, row["officer_name"], row["unit_name"], row["rank"], row["net_points"]]
                for n, row in enumerate(officers, start=1)
            ],
            [1.6, 3.0, 6.2, 2.4, 2.4],
            left_columns=(1, 2),
        )


def _year_end(doc, data: dict[str, Any], numbers) -> None:
    """The 表彰通报's sections: 先进单位和先进个人, 通报批评, 整改."""
    say = data["year_text"]
    _heading(doc, f"{next(numbers)}、表彰先进单位和先进个人")
    _para(doc, stored(say["commended"]), indent=True)
    # the 表彰名单 by name (officers with their units); their figures in 附件2
    for _kind, heading, names in commended_lists(data):
        _subheading(doc, heading)
        _name_list(doc, names)
    _heading(doc, f"{next(numbers)}、通报批评")
    _para(doc, stored(say["criticized"]), indent=True)
    if data["criticized"]:
        _table(
            doc,
            ["序号", "单位", "全年扣分"],
            [[n, row["unit_name"], row["deduction_points"]] for n, row in enumerate(data["criticized"], start=1)],
            [1.6, 10.0, 4.0],
        )
    _heading(doc, f"{next(numbers)}、整改要求")
    _para(doc, stored(say["rectification"]), indent=True)
    if data["rectification"]:
        _table(
            doc,
            ["序号", "单位", "整改方案"],
            [
                [n, row["unit_name"], RECTIFICATION_STATUS.get(row["status"], row["status"])]
                for n, row in enumerate(data["rectification"], start=1)
            ],
            [1.6, 10.0, 4.0],
        )
    _para(doc, stored(say["hopes"]), indent=True)
