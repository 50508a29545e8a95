"""Lines, facts and items COPYed as text store exactly what the binary COPY stores, whatever their values."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from services.scoring.projection_writer import (
    FACT_COLUMNS,
    LINE_COLUMNS,
    ROW_COLUMNS,
    _as_text,
    _copy,
    _facts_text,
    _items_text,
    _lines_text,
)
from shared.db import connect_raw
from shared.domain.evolve import Fact, Line
from shared.projection_schema import generation_ddl

AT = datetime(2026, 3, 31, 16, 30, 0, 123456, tzinfo=UTC)
PLAIN = ["plain", "中文，备注", "a,b", "{braces}", "NULL", " spaced ", ""]  # text COPY as they are
AWKWARD = ["tab\there", "new\nline", "cr\rhere", "back\\slash", "\\N", 'quo"te']  # the binary COPY instead


def _line(i: int, text: str | None, officers: tuple[str, ...]) -> Line:
    return Line(
        str(uuid.UUID(int=i)),
        0,
        i,
        AT,
        202604,
        f"U{i}",
        officers[0] if officers else None,
        "A1",
        None if i % 2 else "R1",
        -i,
        Decimal("12.34") if i % 3 else Decimal("0.00"),
        officers,
        None if i % 4 else f"I{i}",
        text,
        "2026.1",
    )


def _item(i: int, title: str, authors: list[str]) -> tuple:
    return (f"I{i}", f"U{i}", title, "single", authors, 202604, i)


def _fact(i: int, channel: str | None, officers: tuple[str, ...]) -> Fact:
    return Fact(str(uuid.UUID(int=i)), i, 202604, f"U{i}", "adopted", channel, f"I{i}", officers)


async def _stored(conn, schema: str, table: str, records: list, columns: tuple[str, ...], encode, *, binary: bool):
    await conn.execute(f"TRUNCATE {schema}.{table}")
    if binary:
        await conn.copy_records_to_table(table, schema_name=schema, records=records, columns=columns)
    else:
        await _copy(conn, schema, table, records, columns, encode)
    return await conn.fetch(f"SELECT * FROM {schema}.{table} ORDER BY global_position")


ITEM_COLUMNS = ROW_COLUMNS["items"]


async def test_text_copy_stores_what_binary_copy_stores(database_url):
    conn = await connect_raw(database_url)
    try:
        for statement in generation_ddl("proj_gcopy"):
            await conn.execute(statement)
        plain_lines = [_line(i, None if i % 5 else "备注", ("O1", "O 2") if i % 2 else ()) for i in range(1, 50)]
        plain_facts = [_fact(i, None if i % 2 else "city", ("O1",) * (i % 3)) for i in range(1, 50)]
        plain_items = [_item(i, "关于工作情况的报告", ["O1"] * (i % 3)) for i in range(1, 50)]
        cases = []
        for n, text in enumerate(PLAIN + AWKWARD, start=100):
            lines, facts = plain_lines + [_line(n, text, (text, "O1"))], plain_facts + [_fact(n, text, (text,))]
            items = plain_items + [_item(n, text, [text])]
            assert (_as_text(items, ITEM_COLUMNS, _items_text) is None) == (text in AWKWARD)
            cases.append(("items", items, ITEM_COLUMNS, _items_text))
            assert (_as_text(lines, LINE_COLUMNS, _lines_text) is None) == (text in AWKWARD)
            assert (_as_text(facts, FACT_COLUMNS, _facts_text) is None) == (text in AWKWARD)
            cases += [("lines", lines, LINE_COLUMNS, _lines_text), ("facts", facts, FACT_COLUMNS, _facts_text)]
        for table, records, columns, encode in cases:
            expected = await _stored(conn, "proj_gcopy", table, records, columns, encode, binary=True)
            assert await _stored(conn, "proj_gcopy", table, records, columns, encode, binary=False) == expected
    finally:
        await conn.execute("DROP SCHEMA IF EXISTS proj_gcopy CASCADE")
        await conn.close()
