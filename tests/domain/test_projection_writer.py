"""The fold's Line and Fact tuples are COPY rows: their fields must be the tables' columns in order."""

from datetime import UTC

from services.scoring.projection_writer import FACT_COLUMNS, LINE_COLUMNS
from shared.domain.evolve import Fact, Line


def test_line_and_fact_fields_are_the_copy_columns_in_order():
    renamed = {"position": "global_position"}
    assert tuple(renamed.get(f, f) for f in Line._fields) == LINE_COLUMNS
    assert tuple(renamed.get(f, f) for f in Fact._fields) == FACT_COLUMNS


def test_local_month_by_bisection_agrees_with_the_zone_conversion():
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from services.scoring.log_reader import local_month

    zone = ZoneInfo("Asia/Shanghai")
    assert local_month(datetime(2026, 3, 31, 16, 30, tzinfo=UTC), zone) == 202604
    assert local_month(datetime(2026, 3, 31, 15, 59, tzinfo=UTC), zone) == 202603
    assert local_month(datetime(2026, 3, 31, 16, 0, tzinfo=UTC), zone) == 202604
    moment = datetime(1999, 12, 31, 12, tzinfo=UTC)
    for _ in range(2000):
        local = moment.astimezone(zone)
        assert local_month(moment, zone) == local.year * 100 + local.month
        moment += timedelta(hours=97, minutes=13)
