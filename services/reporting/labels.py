"""How a district office names a period (the names of channels, levels and unit kinds are policy data)."""

from shared.domain.periods import Period

__all__ = ["period_name", "year_to_date"]

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
