"""The bulletin as an Excel workbook (opens in Excel and WPS): overview, one sheet per unit category,
the units short of target (a quarter) or the 表彰通报's 表彰名单, 通报批评 and 整改 (a year), the
appendix of adopted items and, for a year, the commended's figures."""

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from services.reporting.bulletin import appendix_titles, commended_lists, name_grid, table_cells, table_headers
from services.reporting.render_text import printable

FONT = "宋体"
THIN = Side(style="thin", color="333333")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEAD_FILL = PatternFill("solid", fgColor="F2F2F2")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)


def stored(value: Any) -> Any:
    """Every stored string passes here before it becomes a cell: one place to sanitise."""
    return value


RECTIFICATION_STATUS = {"required": "未提交", "submitted": "已提交待审", "accepted": "已通过", "returned": "已退回修改"}


def _print_setup(sheet: Worksheet, title_rows: int) -> None:
    """A4 landscape, the title and header rows on every page, the columns fitted to the page width."""
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = f"1:{title_rows}"
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.5
    sheet.oddFooter.center.text = "— &P —"


def _heading(sheet: Worksheet, title: str, subtitle: str, width: int) -> None:
    """Row 1: the red title across the table; row 2: the 文号 / subtitle."""
    sheet.append([stored(title)])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet["A1"].font = Font(name=FONT, size=16, bold=True)
    sheet["A1"].alignment = CENTER
    sheet.row_dimensions[1].height = 30
    sheet.append([stored(subtitle)])
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    sheet["A2"].font = Font(name=FONT, size=11)
    sheet["A2"].alignment = CENTER


def _table(sheet: Worksheet, headers: list[str], rows: list[list[Any]], widths: list[int], left: int = 1) -> None:
    """A bordered table from the next row on; header row bold and frozen."""
    start = _cells(sheet, headers, rows, left)
    sheet.freeze_panes = sheet.cell(row=start + 1, column=1)
    _print_setup(sheet, start)
    _widths(sheet, widths)


def _cells(sheet: Worksheet, headers: list[str], rows: list[list[Any]], left: int = 1) -> int:
    """The bordered cells of a table from the next row on; returns its header row."""
    start = sheet.max_row + 1
    sheet.append(headers)
    for row in rows:
        sheet.append([stored(value) for value in row])
    for r in range(start, sheet.max_row + 1):
        for c in range(1, len(headers) + 1):
            cell = sheet.cell(row=r, column=c)
            cell.border = BOX
            cell.font = Font(name=FONT, size=11, bold=(r == start))
            cell.alignment = LEFT if (c - 1 == left and r > start) else CENTER
            if r == start:
                cell.fill = HEAD_FILL
    return start


def _widths(sheet: Worksheet, widths: list[int]) -> None:
    for c, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(c)].width = width


def _line(sheet: Worksheet, text: str, width: int, *, columns: int, bold: bool = False, gap: bool = False) -> None:
    """A line of text across the sheet's `columns` (a heading or a paragraph), its height fitted to the
    wrapped text (a Chinese character is two of Excel's width units wide); `gap`: an empty row first."""
    if gap:
        sheet.append([])
    sheet.append([stored(text)])
    row = sheet.max_row
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=columns)
    cell = sheet.cell(row=row, column=1)
    cell.font = Font(name=FONT, size=12, bold=bold)
    cell.alignment = LEFT
    lines = max(1, -(-len(str(text)) * 2 // max(1, width - 2)))
    sheet.row_dimensions[row].height = 18 * lines + 4


def render_xlsx(data: dict[str, Any]) -> bytes:
    """The workbook's bytes."""
    data = printable(data)  # a stored name with a control character must not break the document
    book = Workbook()
    book.properties.creator = data["issuer"]
    book.properties.title = data["title"]
    overview = book.active
    overview.title = "总体情况"
    _heading(overview, data["title"], data["document_number"], 2)
    overview.append([data["text"]["overview"]])
    overview.merge_cells(start_row=3, start_column=1, end_row=3, end_column=2)
    overview["A3"].alignment = LEFT
    overview["A3"].font = Font(name=FONT, size=11)
    overview.row_dimensions[3].height = 18 * -(-len(data["text"]["overview"]) * 2 // 54) + 6  # wrapped in 58
    totals = data["totals"]
    rows = [
        ["参评单位", totals["units"]],
        ["报送信息（条）", totals["submitted"]],
        ["采用合计（条次）", totals["adopted"]],
    ]
    rows += [[f"采用·{c['name']}", totals["adopted_by_channel"][c["channel"]]] for c in data["channels"]]
    rows += [[f"批示·{lv['name']}", totals["endorsements"][lv["level"]]] for lv in data["levels"]]
    _table(overview, ["项目", "数量"], rows, [40, 18], left=0)

    headers = table_headers(data["channels"])
    for category in data["categories"]:
        sheet = book.create_sheet(f"{category['name']}排名")
        _heading(sheet, data["title"], f"{category['name']}得分排名（{data['period_name']}）", len(headers))
        _table(
            sheet,
            headers,
            [table_cells(row, data["channels"]) for row in category["rows"]],
            [6, 28] + [9] * (len(headers) - 2),
        )

    if "commended" in data:
        _year_end(book, data)
    else:
        short = book.create_sheet("未完成目标")
        _heading(short, data["title"], data["text"]["shortfall"], 6)
        short.row_dimensions[2].height = 45
        _table(
            short,
            ["类别", "单位", "报送/目标", "采用/目标", "改正意见"],
            [
                [
                    row["category"],
                    row["unit_name"],
                    f"{row['submitted']}/{_dash(row['target_submissions'])}",
                    f"{row['adopted']}/{_dash(row['target_adoptions'])}",
                    row["advice"],
                ]
                for row in data["shortfalls"]
            ],
            [8, 24, 11, 11, 70],
        )

    titles = appendix_titles(data)
    appendix = book.create_sheet("采用目录")
    _heading(appendix, data["title"], f"{'附件1' if len(titles) > 1 else '附件'}：{titles[0]}", 4)
    _table(
        appendix,
        ["采用渠道", "序号", "标题", "报送单位"],
        [
            [group["channel_name"], number, item["title"], item["unit_name"]]
            for group in data["appendix"]
            for number, item in enumerate(group["items"], start=1)
        ],
        [14, 6, 60, 24],
        left=2,
    )

    if len(titles) > 1:
        _figures(book, data, titles[1])
    _text_stays_text(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _text_stays_text(book: Workbook) -> None:
    """Names and titles come from units: one starting with "=" must not become a formula."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"


def _dash(value: Any) -> Any:
    return "—" if value is None else value


NAMES_PER_ROW, NAME_WIDTH = 4, 30  # a 表彰名单 four names to a row, fifteen characters each


def _year_end(book: Workbook, data: dict[str, Any]) -> None:
    """The 表彰通报 as sheets: the 表彰名单 by name, then 通报批评 and 整改 with their figures."""
    say = data["year_text"]
    sheet = book.create_sheet("表彰名单")
    _heading(sheet, data["title"], data["document_number"], NAMES_PER_ROW)
    width = NAMES_PER_ROW * NAME_WIDTH
    _line(sheet, "一、表彰先进单位和先进个人", width, columns=NAMES_PER_ROW, bold=True, gap=True)
    _line(sheet, say["commended"], width, columns=NAMES_PER_ROW)
    for _kind, heading, names in commended_lists(data):
        _line(sheet, heading, width, columns=NAMES_PER_ROW, bold=True, gap=True)
        for row in name_grid(names, NAMES_PER_ROW):
            sheet.append([stored(name) for name in row])
            for column in range(1, NAMES_PER_ROW + 1):
                cell = sheet.cell(row=sheet.max_row, column=column)
                cell.font = Font(name=FONT, size=12)
                cell.alignment = CENTER
    _print_setup(sheet, 2)
    _widths(sheet, [NAME_WIDTH] * NAMES_PER_ROW)

    sheet = book.create_sheet("通报批评与整改")
    _heading(sheet, data["title"], data["document_number"], 3)
    widths = [8, 40, 24]
    for heading, text, headers, rows in (
        (
            "二、通报批评",
            say["criticized"],
            ["序号", "单位", "全年扣分"],
            [[n, r["unit_name"], r["deduction_points"]] for n, r in enumerate(data["criticized"], 1)],
        ),
        (
            "三、整改要求",
            say["rectification"],
            ["序号", "单位", "整改方案"],
            [
                [n, r["unit_name"], RECTIFICATION_STATUS.get(r["status"], r["status"])]
                for n, r in enumerate(data["rectification"], 1)
            ],
        ),
    ):
        _line(sheet, heading, sum(widths), columns=3, bold=True, gap=True)
        _line(sheet, text, sum(widths), columns=3)
        if rows:
            _cells(sheet, headers, rows)
    _print_setup(sheet, 2)
    _widths(sheet, widths)


def _figures(book: Workbook, data: dict[str, Any], title: str) -> None:
    """附件2: the commended units' and officers' year figures."""
    sheet = book.create_sheet("考评得分")
    _heading(sheet, data["title"], f"附件2：{title}", 5)
    units, officers = data["commended"]["units"], data["commended"]["officers"]
    if units:
        _line(sheet, "（一）先进单位", 90, columns=5, bold=True, gap=True)
        rows = [[n, r["unit_name"], "", r["rank"], r["net_points"]] for n, r in enumerate(units, 1)]
        _cells(sheet, ["序号", "单位", "", "年度排名", "年度得分"], rows)
    if officers:
        _line(sheet, f"（{'二' if units else '一'}）先进个人", 90, columns=5, bold=True, gap=True)
        rows = [[n, r["officer_name"], r["unit_name"], r["rank"], r["net_points"]] for n, r in enumerate(officers, 1)]
        _cells(sheet, ["序号", "姓名", "单位", "年度排名", "年度得分"], rows)
    _print_setup(sheet, 2)
    _widths(sheet, [8, 18, 30, 12, 12])
