"""The fold's Line and Fact tuples are COPY rows: their fields must be the tables' columns in order."""

from services.scoring.fold import Fact, Line
from services.scoring.projection_writer import FACT_COLUMNS, LINE_COLUMNS


def test_line_and_fact_fields_are_the_copy_columns_in_order():
    renamed = {"position": "global_position"}
    assert tuple(renamed.get(f, f) for f in Line._fields) == LINE_COLUMNS
    assert tuple(renamed.get(f, f) for f in Fact._fields) == FACT_COLUMNS
