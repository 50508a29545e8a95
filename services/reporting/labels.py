"""Chinese names a district office prints: channels, endorsement levels, unit categories, periods."""

from shared.domain.names import CHANNEL_NAMES, LEVEL_NAMES, UNIT_KIND_NAMES
from shared.domain.periods import Period

__all__ = ["CATEGORY_NAMES", "CHANNEL_NAMES", "CHANNEL_SHORT", "LEVEL_NAMES", "period_name", "year_to_date"]

# Column headings of the bulletin's ranking tables, shorter than the names above.
CHANNEL_SHORT = {
    "district_zhengwu": "《政务》",
    "district_daily": "每日要情",
    "district_bulletin": "政办通报",
    "city": "市级",
    "province": "省级",
    "website_today": "今日",
}
# Bulletins rank each category among itself, in this order.
CATEGORY_NAMES = UNIT_KIND_NAMES
QUARTER_NAMES = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}


def period_name(period: Period) -> str:
    """`2026年第一季度`, `2026年度`, `2026年上半年`, `2026年3月`."""
    if period.kind == "year":
        return f"{period.year}年度"
    if period.kind == "quarter":
        return f"{period.year}年{QUARTER_NAMES[(period.first_month - 1) // 3 + 1]}"
    if period.kind == "half":
        return f"{period.year}年{'上' if period.first_month == 1 else '下'}半年"
    return f"{period.year}年{period.first_month}月"


def year_to_date(period: Period) -> Period:
    """January up to the period's last month: what `年度累计` means for a quarter."""
    return Period(f"{period.year}-01..{period.last_month:02d}", period.year, 1, period.last_month)
