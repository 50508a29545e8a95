"""The half-year reward statement as an Excel workbook: one row per unit, its officers' shares below."""

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from services.reporting.bulletin_render_xlsx import FONT, _table, _text_stays_text
from services.reporting.render_text import printable


def cell_text(value: Any) -> Any:
    """Every stored string passes here (one place to sanitise what units typed)."""
    return value


def render_statement_xlsx(data: dict[str, Any]) -> bytes:
    data = printable(data)  # a stored name with a control character must not break the workbook
    book = Workbook()
    sheet = book.active
    sheet.title = "奖励结算"
    sheet.append([f"{data['period']} 半年信息奖励结算表"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=6)
    sheet["A1"].font = Font(name=FONT, size=16, bold=True)
    sheet["A1"].alignment = Alignment(horizontal="center")
    rows: list[list[Any]] = []
    for unit in data["units"]:
        rows.append(
            [
                cell_text(unit["unit_name"]),
                "",
                float(unit["earned_yuan"]),
                float(unit["paid_yuan"]),
                float(unit["balance_yuan"]),
                "；".join(cell_text(p["reference"]) for p in unit["payments"]),
            ]
        )
        for officer in unit["officers"]:
            rows.append(["", cell_text(officer["officer_name"]), float(officer["share_yuan"]), None, None, ""])
    rows.append(["合计", "", float(data["total_earned_yuan"]), float(data["total_paid_yuan"]), None, ""])
    _table(
        sheet,
        ["单位", "个人", "应发（元）", "已发（元）", "差额（元）", "凭证"],
        rows,
        [28, 14, 12, 12, 12, 30],
        left=0,
    )
    for row in sheet.iter_rows(min_row=3, min_col=3, max_col=5):
        for cell in row:
            cell.number_format = "0.00"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape"
    sheet.print_title_rows = "1:2"
    _text_stays_text(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
