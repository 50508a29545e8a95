"""The bulletin as a Word document laid out like a district office's 通报: red masthead, 文号, red
rule, title, 仿宋 body, ranking tables, signature and the appendix of adopted items."""

import io
from typing import Any

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from services.reporting.bulletin import grouped_headers, table_cells, table_headers
from services.reporting.render_text import printable

RED = RGBColor(0xC0, 0x00, 0x00)
BODY, TITLE, HEADING, TABLE = "仿宋", "宋体", "黑体", "宋体"


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
):
    paragraph = doc.add_paragraph()
    paragraph.alignment = align
    fmt = paragraph.paragraph_format
    fmt.space_after = Pt(after)
    fmt.space_before = Pt(0)
    fmt.line_spacing = Pt(max(28, size * 1.5))
    if indent:
        fmt.first_line_indent = Pt(size * 2)
    _font(paragraph.add_run(text), font, size, bold=bold, color=color)
    return paragraph


def _red_rule(paragraph) -> None:
    """A red line under the 文号, drawn as the paragraph's bottom border."""
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "18"), ("w:space", "6"), ("w:color", "C00000")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    paragraph._p.get_or_add_pPr().append(borders)


def _repeat_as_header(row) -> None:
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(repeat)


def _write(cell, value: Any, *, size: float, bold: bool = False, left: bool = False) -> None:
    paragraph = cell.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT if left else WD_ALIGN_PARAGRAPH.CENTER
    _font(paragraph.add_run("" if value is None else str(value)), TABLE, size, bold=bold)


def _fix_widths(table, widths: list[float]) -> None:
    """Fixed column widths in the grid and in every cell: Word, WPS and LibreOffice each read one."""
    table.autofit = False
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    table._tbl.tblPr.append(layout)
    for column, width in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths):
        column.set(qn("w:w"), str(Cm(width).twips))
    for row in table.rows:
        for index, cell in enumerate(row.cells):
            cell.width = Cm(widths[index])


def _table(doc, headers: list[str] | None, rows: list[list[Any]], widths: list[float], size: float = 9) -> None:
    """A bordered table; `headers` None means the ranking's two header rows (采用 over its channels)."""
    columns = len(widths)
    head_rows = 1 if headers is not None else 2
    table = doc.add_table(rows=head_rows, cols=columns)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for row in table.rows:
        _repeat_as_header(row)
    if headers is not None:
        for cell, title in zip(table.rows[0].cells, headers):
            _write(cell, title, size=size, bold=True)
    else:
        groups, sub = grouped_headers()
        column = 0
        for title, span in groups:
            top, bottom = table.cell(0, column), table.cell(1, column + span - 1)
            if span > 1:
                for offset, name in enumerate(sub):
                    _write(table.cell(1, column + offset), name, size=size, bold=True)
                top = top.merge(table.cell(0, column + span - 1))
            else:
                top = top.merge(bottom)
            _write(top, title, size=size, bold=True)
            column += span
    for cells in rows:
        row = table.add_row()
        for index, (cell, value) in enumerate(zip(row.cells, cells)):
            _write(cell, value, size=size, left=index == 1)
    _fix_widths(table, widths)
    doc.add_paragraph()


def render_docx(data: dict[str, Any]) -> bytes:
    """The document's bytes."""
    data = printable(data)  # a stored name with a control character must not break the document
    doc = Document()
    doc.core_properties.title = data["title"]
    doc.core_properties.author = data["issuer"]
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    section.left_margin, section.right_margin = Cm(2.5), Cm(2.5)
    normal = doc.styles["Normal"]
    normal.font.name = BODY
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY)

    _para(doc, "政务信息通报", font=TITLE, size=36, bold=True, color=RED, align=WD_ALIGN_PARAGRAPH.CENTER, after=12)
    _red_rule(_para(doc, data["document_number"], align=WD_ALIGN_PARAGRAPH.CENTER, after=18))
    _para(doc, data["title"], font=TITLE, size=22, bold=True, color=RED, align=WD_ALIGN_PARAGRAPH.CENTER, after=18)
    text = data["text"]
    _para(doc, text["salutation"])
    _para(doc, text["opening"], indent=True)
    _para(doc, "一、总体情况", font=HEADING, indent=True)
    _para(doc, text["overview"], indent=True)
    _para(doc, "二、各单位报送采用及得分情况", font=HEADING, indent=True)
    widths = [0.8, 2.8] + [0.95] * (len(table_headers()) - 4) + [1.2, 1.4]
    for index, category in enumerate(data["categories"], start=1):
        _para(doc, f"（{index}）{category['name']}", font=BODY, bold=True, indent=True, after=6)
        _table(doc, None, [table_cells(row) for row in category["rows"]], widths, size=8)
    _para(doc, "三、未完成目标任务的单位", font=HEADING, indent=True)
    _para(doc, text["shortfall"], indent=True, after=6)
    if data["shortfalls"]:
        _table(
            doc,
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
            [2.0, 5.0, 2.0, 2.0, 2.5, 2.5],
            size=10.5,
        )
    _para(doc, text["closing"], indent=True, after=24)
    _para(doc, data["issuer"], align=WD_ALIGN_PARAGRAPH.RIGHT)
    _para(doc, data["issued"], align=WD_ALIGN_PARAGRAPH.RIGHT)

    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    _para(doc, "附件", font=HEADING)
    _para(
        doc,
        f"{data['period_name']}采用信息目录",
        font=TITLE,
        size=18,
        bold=True,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        after=12,
    )
    if not data["appendix"]:
        _para(doc, "本期无采用信息。", indent=True)
    for group in data["appendix"]:
        _para(doc, f"{group['channel_name']}（{len(group['items'])}条次）", font=HEADING, size=14, after=6)
        _table(
            doc,
            ["序号", "标题", "报送单位"],
            [[number, item["title"], item["unit_name"]] for number, item in enumerate(group["items"], start=1)],
            [1.2, 10.5, 4.3],
            size=10.5,
        )
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
