"""Printable text (api.md answer 23) and ASCII periods (answer 24).

New events with control characters in names and titles are refused at the schema, naming the field;
free text may hold line feeds and tabs. A log that already holds such a name (written around the
API) still renders every bulletin format. Periods are ASCII digits matched whole.
"""

import io
import json
import uuid
from urllib.parse import quote

import asyncpg
import openpyxl
import pytest
from docx import Document

from shared.db import asyncpg_dsn
from tests.support.reporting_data import adopt, event, item, load, unit

BELL_NAME = "B\u0007单位\u001b[31m\u0085"


@pytest.mark.parametrize(
    "bad",
    ["B\u0007", "x\u0000y", "tab\tname", "line\nname", "nbsp\u0085mid", "del\u007f", "c1\u0085c1", "esc\u001b[2J"],
)
async def test_a_name_with_a_control_character_is_422_naming_the_field(kaohe, bad):
    response = await kaohe.ingest.post(
        "/v1/events", json=event("unit.registered", {"unit_id": "C1", "name": bad, "kind": "other"})
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert any(error["loc"][-1] == "name" for error in problem["errors"]), problem
    assert await kaohe.head() == 0


async def test_free_text_may_hold_line_feeds_and_tabs_but_no_other_control_character(kaohe):
    await load(kaohe, [unit("F1", "单位"), item("f1", "F1")])
    adopted = adopt("f1", "city")
    await load(kaohe, [adopted])
    ok = await kaohe.ingest.post(
        "/v1/events",
        json=event("event.revoked", {"target_event_id": adopted["event_id"], "reason": "第一行\n第二行\t附注"}),
    )
    assert ok.status_code == 201, ok.text
    for bad in ("bell\u0007", "esc\u001b[0m", "cr\rlf", "c1\u009b"):
        response = await kaohe.ingest.post(
            "/v1/events",
            json=event("unit.assessed", {"unit_id": "F1", "year": 2026, "outcome": "adequate", "note": bad}),
        )
        assert response.status_code == 422, (bad, response.text)
        assert any(error["loc"][-1] == "note" for error in response.json()["errors"])


async def _insert_around_the_api(database_url: str, unit_id: str, name: str) -> None:
    """A registration the schema would refuse, as an old log (or a writer around the API) holds it."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute(
            "INSERT INTO eventlog.events (event_id, stream_id, stream_version, type, schema_version, occurred_at, "
            "data, content_hash) VALUES ($1, $2, 1, 'unit.registered', 1, '2026-01-02T09:00:00+08:00', $3::jsonb, "
            "'\\x00')",
            uuid.uuid4(),
            f"unit-{unit_id}",
            json.dumps({"unit_id": unit_id, "name": name, "kind": "department"}),
        )
    finally:
        await conn.close()


async def test_every_bulletin_format_renders_a_stored_name_with_control_characters(kaohe, database_url):
    await _insert_around_the_api(database_url, "BAD", BELL_NAME)
    await load(kaohe, [unit("OK", "区发改委"), item("b1", "BAD", title="标题"), adopt("b1", "city")])
    await kaohe.settled()
    for period in ("2026-Q1", "2026"):
        for fmt in ("json", "html", "xlsx", "docx"):
            response = await kaohe.reporting.get(f"/v1/bulletins/{period}", params={"format": fmt})
            assert response.status_code == 200, (period, fmt, response.text[:300])
            if fmt == "xlsx":
                book = openpyxl.load_workbook(io.BytesIO(response.content))
                cells = [str(c.value) for sheet in book for row in sheet.iter_rows() for c in row if c.value]
                assert any("单位" in c and c.startswith("B") for c in cells)
                assert not any("\u0007" in c or "\u001b" in c for c in cells)
            if fmt == "docx":
                text = "\n".join(p.text for p in Document(io.BytesIO(response.content)).paragraphs)
                assert "\u0007" not in text
            if fmt == "html":
                assert "\u0007" not in response.text and "\u001b" not in response.text
    # the JSON answers keep the stored text as it is (JSON escapes it)
    ranking = await kaohe.ranking("2026")
    assert BELL_NAME in [row["unit_name"] for row in ranking["rows"]]


BAD_PERIODS = ["２０２６", "2026\n", "२०२६", "2026 ", " 2026", "2026-Q1\n", "٢٠٢٦-03", "2026-0３"]


@pytest.mark.parametrize("period", BAD_PERIODS)
async def test_a_period_that_is_not_ascii_or_has_anything_around_it_is_422_everywhere(kaohe, period):
    for fmt in ("json", "html", "xlsx", "docx"):
        response = await kaohe.reporting.get(f"/v1/bulletins/{quote(period)}", params={"format": fmt})
        assert response.status_code == 422, (fmt, response.text[:200])
        assert "content-disposition" not in response.headers
    for path in ("/v1/rankings/units", "/v1/rankings/officers", "/v1/rewards"):
        response = await kaohe.reporting.get(path, params={"period": period})
        assert response.status_code == 422, (path, response.text[:200])
    response = await kaohe.scoring.get("/v1/units/U1/ledger", params={"period": period})
    assert response.status_code == 422, response.text[:200]


async def test_a_valid_period_names_the_bulletin_file_in_ascii(kaohe):
    response = await kaohe.reporting.get("/v1/bulletins/2026-Q1", params={"format": "xlsx"})
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition.isascii() and 'filename="kaohe-bulletin-2026-Q1.xlsx"' in disposition
