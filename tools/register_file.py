"""Reading an office's adoption register (采用登记表) from .xlsx or .csv into checked rows.

Columns, by their Chinese headings (in any order; a title row above the headings is skipped):
日期, 单位, 标题, 类别, 刊物/渠道, 期号, 作者, 批示. 期号, 作者 and 批示 may be empty.
Units and officers are matched by name or id against the log; channels, kinds and leader levels by
their Chinese name or code. A row that cannot be mapped is reported with its row number and why.
"""

import csv
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from shared.domain.names import ITEM_KIND_NAMES
from shared.domain.policy import PolicySet

COLUMNS = ("日期", "单位", "标题", "类别", "刊物/渠道", "期号", "作者", "批示")
REQUIRED = ("日期", "单位", "标题", "类别", "刊物/渠道")
# Other spellings offices use, besides each code and its name in the policy files.
CHANNEL_ALIASES = {
    "《政务》": "district_zhengwu",
    "政务": "district_zhengwu",
    "区政务": "district_zhengwu",
    "政办通报": "district_bulletin",
    "区政办通报": "district_bulletin",
    "市级": "city",
    "政府专报": "city",
    "《政府专报》": "city",
    "政府公报": "city",
    "《政府公报》": "city",
    "省级": "province",
    "今日": "website_today",
    "网站今日": "website_today",
    '网站"今日"': "website_today",
}
KIND_ALIASES = {"单条": "single", "综合信息": "single", "单篇": "single", "调研": "research", "综合调研": "research"}
LEVEL_ALIASES = {"区": "district", "市": "city", "省": "province"}
HEADER_SEARCH_ROWS = 10


class RegisterError(Exception):
    """The file as a whole cannot be read (missing columns, unknown format)."""


@dataclass
class RawRow:
    number: int  # the row number a person sees in the spreadsheet (or the line in the CSV)
    cells: dict[str, Any]


@dataclass
class Row:
    """A row mapped to codes and ids."""

    number: int
    day: date
    unit_id: str
    title: str
    kind: str
    channel: str
    publication: str | None
    issue: str | None
    authors: list[str] = field(default_factory=list)
    endorsement: tuple[str, str | None] | None = None  # (level, leader)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _header_index(rows: list[list[Any]]) -> int:
    for index, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        names = {_text(c) for c in cells}
        if {"日期", "单位"} <= names:
            return index
    raise RegisterError(
        f"找不到表头：前 {HEADER_SEARCH_ROWS} 行中没有含“日期”“单位”的一行（应有列：{'、'.join(COLUMNS)}）"
    )


def read_rows(path: Path) -> list[RawRow]:
    """The data rows of the register, with their row numbers; empty rows skipped."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            grid = [list(row) for row in sheet.iter_rows(values_only=True)]
        finally:
            workbook.close()
    elif suffix == ".csv":
        raw = path.read_bytes()
        for encoding in ("utf-8-sig", "gb18030"):  # Excel on a Chinese Windows saves CSV as GB18030
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise RegisterError("CSV 文件编码无法识别（应为 UTF-8 或 GB18030）")
        grid = [list(row) for row in csv.reader(text.splitlines())]
    else:
        raise RegisterError(f"只能导入 .xlsx 或 .csv 文件，不是 {path.suffix or '无扩展名'}")
    header_at = _header_index(grid)
    header = [_text(c) for c in grid[header_at]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise RegisterError(f"缺少列：{'、'.join(missing)}（应有列：{'、'.join(COLUMNS)}）")
    positions = {name: header.index(name) for name in COLUMNS if name in header}
    rows = []
    for offset, cells in enumerate(grid[header_at + 1 :], start=header_at + 2):
        values = {name: (cells[i] if i < len(cells) else None) for name, i in positions.items()}
        if all(_text(v) == "" for v in values.values()):
            continue
        rows.append(RawRow(offset, values))
    return rows


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
)


def parse_day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if " " in text:  # "2026-03-05 00:00:00" from a CSV saved by Excel
        text = text.split(" ", 1)[0]
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            return date(*(int(part) for part in match.groups()))
    raise ValueError(f"日期“{text}”无法识别（应写作 2026-03-05、2026/3/5 或 2026年3月5日）")


def _lookup(value: str, names: dict[str, str], aliases: dict[str, str]) -> str | None:
    if value in names:
        return value
    by_name = {name: code for code, name in names.items()}
    plain = value.replace("“", '"').replace("”", '"')
    return by_name.get(value) or aliases.get(value) or aliases.get(plain)


def names_of(policies: PolicySet) -> tuple[dict[str, str], dict[str, str]]:
    """Channel and level names of every policy version (a register spans years): code -> name."""
    channels: dict[str, str] = {}
    levels: dict[str, str] = {}
    for policy in policies.policies:
        channels.update(policy.channel_names)
        levels.update(policy.level_names)
    return channels, levels


def parse_channel(value: str, channel_names: dict[str, str]) -> tuple[str, str | None]:
    """The channel code, and the publication's name when the cell names one (《政府专报》)."""
    code = _lookup(value, channel_names, CHANNEL_ALIASES)
    if code is None:
        known = "、".join(channel_names.values())
        raise ValueError(f"刊物/渠道“{value}”无法识别（可填：{known}，或代码 {', '.join(channel_names)}）")
    publication = value.strip("《》") if value in ("政府专报", "《政府专报》", "政府公报", "《政府公报》") else None
    return code, publication


def parse_kind(value: str) -> str:
    code = _lookup(value, ITEM_KIND_NAMES, KIND_ALIASES)
    if code is None:
        raise ValueError(
            f"类别“{value}”无法识别（可填：{'、'.join(ITEM_KIND_NAMES.values())}，或代码 single/brief/research）"
        )
    return code


def parse_endorsement(value: str, level_names: dict[str, str]) -> tuple[str, str | None]:
    """`市领导 李市长`, `李市长（市领导）`, `city`: the level, and the leader when named."""
    for code, name in level_names.items():
        if code == value:
            return code, None
        if name in value:
            leader = value.replace(name, "").strip(" ：:，,（）()")
            return code, leader or None
    raise ValueError(f"批示“{value}”无法识别：应写明区领导、市领导或省领导，如“市领导 李市长”")


@dataclass
class Directory:
    """Units and officers as the log has them."""

    units: dict[str, str]  # unit_id -> name
    officers: dict[str, tuple[str, str]]  # officer_id -> (unit_id, name)
    channels: dict[str, str] = field(default_factory=dict)  # code -> name, from the policy files
    levels: dict[str, str] = field(default_factory=dict)

    def unit(self, value: str) -> str:
        if value in self.units:
            return value
        matches = [unit_id for unit_id, name in self.units.items() if name == value]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise ValueError(f"单位“{value}”有重名（{', '.join(matches)}），请填单位编号")
        raise ValueError(f"单位“{value}”未登记（先登记单位，或填写已登记的单位名称/编号）")

    def officer(self, value: str, unit_id: str) -> str:
        if value in self.officers and self.officers[value][0] == unit_id:
            return value
        matches = [oid for oid, (unit, name) in self.officers.items() if unit == unit_id and name == value]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise ValueError(f"作者“{value}”在本单位有重名（{', '.join(matches)}），请填信息员编号")
        raise ValueError(f"作者“{value}”不是该单位已登记的信息员")


_SEPARATORS = re.compile(r"[、，,；;／/\s]+")


def map_row(raw: RawRow, directory: Directory) -> Row:
    """The row in codes and ids; ValueError (in Chinese) naming what is wrong."""
    cells = {name: _text(value) for name, value in raw.cells.items()}
    for name in REQUIRED:
        if not cells.get(name):
            raise ValueError(f"“{name}”为空")
    title = cells["标题"]
    if len(title) > 200:
        raise ValueError("标题超过 200 字")
    day = parse_day(raw.cells["日期"])
    unit_id = directory.unit(cells["单位"])
    channel, publication = parse_channel(cells["刊物/渠道"], directory.channels)
    authors = [directory.officer(a, unit_id) for a in _SEPARATORS.split(cells.get("作者", "")) if a]
    endorsement = parse_endorsement(cells["批示"], directory.levels) if cells.get("批示") else None
    return Row(
        number=raw.number,
        day=day,
        unit_id=unit_id,
        title=title,
        kind=parse_kind(cells["类别"]),
        channel=channel,
        publication=publication,
        issue=cells.get("期号") or None,
        authors=list(dict.fromkeys(authors)),
        endorsement=endorsement,
    )


TEMPLATE_ROWS = (
    (
        "2026-03-05",
        "区发改委",
        "关于一季度经济运行的报告",
        "单条信息",
        "市级刊物",
        "政府专报 2026年第5期",
        "张明",
        "市领导 李市长",
    ),
    ("2026-03-09", "区发改委", "我区重点项目建设提速", "简讯", "每日要情", "2026年第48期", "张明", ""),
    ("2026-03-12", "区教育局", "关于义务教育学位供给的调研", "综合调研信息", "省级刊物", "2026年第3期", "", "省领导"),
    ("2026-03-16", "U2", "春季开学安全检查全面完成", "单条信息", "区《政务》", "2026年第11期", "李华", ""),
)


def write_template(path: Path) -> None:
    """The register template: a title row, the headings, and a few example rows."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "采用登记表"
    sheet.append(["政务信息采用登记表（导入模板：日期、单位、标题、类别、刊物/渠道必填；示例行可删除）"])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(list(COLUMNS))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
    for row in TEMPLATE_ROWS:
        sheet.append([datetime.strptime(row[0], "%Y-%m-%d"), *row[1:]])
        sheet.cell(sheet.max_row, 1).number_format = "yyyy-mm-dd"
    for column, width in zip("ABCDEFGH", (12, 14, 36, 14, 14, 22, 12, 16)):
        sheet.column_dimensions[column].width = width
    workbook.save(path)
