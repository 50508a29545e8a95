"""Hostile input: every request here is answered 4xx (problem+json) or stored harmlessly; never a 5xx,
and a refused request leaves the log as it was."""

import io
import json
import uuid

import openpyxl
import pytest

from tests.support.factories import event, given, item_adopted, item_submitted, officer_registered, unit_registered

MIB = 1024 * 1024
AT = "2026-03-05T10:00:00+08:00"
SCRIPT = "<script>alert('x')</script>"
HTML = f'{SCRIPT}<img src=x onerror="alert(1)">&amp;'
SQL = "'); DROP TABLE eventlog.events; -- \" OR 1=1 --"


def raw_event(data_json: str, *, metadata_json: str = "{}", type_name: str = "unit.registered") -> bytes:
    return (
        f'{{"event_id": "{uuid.uuid4()}", "type": "{type_name}", "occurred_at": "{AT}", '
        f'"data": {data_json}, "metadata": {metadata_json}}}'
    ).encode()


UNIT = '{"unit_id": "H1", "name": "单位", "kind": "other"}'


async def assert_refused(kaohe, response, status: int | tuple[int, ...] = (400, 413, 422), code: str | None = None):
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, response.text[:500]
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == response.status_code and problem["code"]
    if code is not None:
        assert problem["code"] == code, problem
    return problem


async def post_raw(kaohe, body: bytes, *, path: str = "/v1/events", content_type: str = "application/json"):
    return await kaohe.ingest.post(path, content=body, headers={"content-type": content_type})


# --- sizes ---------------------------------------------------------------------------------------


async def test_a_body_over_1_mib_is_413_even_without_content_length(kaohe):
    padding = "x" * (MIB + 10)
    body = raw_event(UNIT, metadata_json=json.dumps({"p": padding}))

    async def chunks():  # a chunked upload declares no length: the limit is counted as it arrives
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = await kaohe.ingest.post("/v1/events", content=chunks(), headers={"content-type": "application/json"})
    await assert_refused(kaohe, response, 413, "payload_too_large")
    response = await post_raw(kaohe, body)
    await assert_refused(kaohe, response, 413, "payload_too_large")
    assert await kaohe.head() == 0


async def test_a_batch_may_be_bigger_than_1_mib_but_not_over_16(kaohe):
    # 2 MiB of valid batch: read and checked (metadata over 4 KB is refused per event, not by size)
    events = [event("unit.registered", {"unit_id": f"B{i}", "name": "单位" * 90, "kind": "other"}) for i in range(1000)]
    body = json.dumps({"events": events}).encode()
    assert MIB < len(body) < 16 * MIB
    assert (await post_raw(kaohe, body, path="/v1/events/batch")).status_code == 201
    huge = b'{"events": ["' + b"x" * (16 * MIB) + b'"]}'
    await assert_refused(kaohe, await post_raw(kaohe, huge, path="/v1/events/batch"), 413, "payload_too_large")


@pytest.mark.parametrize(
    "field, value",
    [
        ("unit_id", "U" * 65),
        ("unit_id", "U" * 100_000),
        ("name", "名" * 201),
        ("name", "x" * 500_000),
    ],
)
async def test_over_long_strings_are_422(kaohe, field, value):
    data = {"unit_id": "H1", "name": "单位", "kind": "other", field: value}
    response = await kaohe.ingest.post("/v1/events", json=event("unit.registered", data))
    await assert_refused(kaohe, response, 422)


async def test_huge_arrays_are_422(kaohe):
    await given(kaohe, unit_registered("U1"), officer_registered("O1", "U1"))
    head = await kaohe.head()
    authors = item_submitted("I1", "U1", authors=["O1"] * 50_000)
    await assert_refused(kaohe, await kaohe.ingest.post("/v1/events", json=authors), 422)
    contributors = item_adopted("I1", "city", contributors=[{"unit_id": "U1"}] * 20_000)
    await assert_refused(kaohe, await kaohe.ingest.post("/v1/events", json=contributors), 422)
    metadata = event(
        "unit.registered", {"unit_id": "H1", "name": "x", "kind": "other"}, metadata={"list": list(range(100_000))}
    )
    await assert_refused(kaohe, await kaohe.ingest.post("/v1/events", json=metadata), 422, "metadata_too_large")
    batch = {"events": [unit_registered(f"X{i}") for i in range(1001)]}
    await assert_refused(kaohe, await kaohe.ingest.post("/v1/events/batch", json=batch), 422, "batch_too_large")
    assert await kaohe.head() == head


# --- structure -----------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [100, 300, 1000, 10_000])
async def test_deeply_nested_json_is_refused_or_stored_never_a_500(kaohe, depth):
    nested = "[" * depth + "]" * depth
    for body in (
        raw_event(UNIT, metadata_json=f'{{"deep": {nested}}}'),
        raw_event(f'{{"unit_id": "H1", "name": {nested}, "kind": "other"}}'),
    ):
        response = await post_raw(kaohe, body)
        if response.status_code == 201:  # shallow enough to be plain JSON metadata: kept as sent
            stored = (await kaohe.ingest.get("/v1/streams/unit-H1")).json()["events"][-1]
            assert stored["metadata"]["deep"] == json.loads(nested)
        else:
            await assert_refused(kaohe, response)
    batch = f'{{"events": [{"[" * depth}{"]" * depth}]}}'.encode()
    await assert_refused(kaohe, await post_raw(kaohe, batch, path="/v1/events/batch"))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b"[]",
        b"42",
        b'"event"',
        b"{",
        b'{"type": "unit.registered"',
        b"{}",
        b'{"type": ["unit.registered"], "occurred_at": "' + AT.encode() + b'", "data": {}}',
        b'{"type": "unit.registered", "occurred_at": 12345, "data": {}}',
        b'{"type": "unit.registered", "occurred_at": "' + AT.encode() + b'", "data": "text"}',
        b'{"type": "unit.registered", "occurred_at": "' + AT.encode() + b'", "data": [1, 2]}',
        raw_event('{"unit_id": 7, "name": "x", "kind": "other"}'),
        raw_event('{"unit_id": "H1", "name": {"zh": "x"}, "kind": "other"}'),
        raw_event('{"unit_id": "H1", "name": "x", "kind": "other"}', metadata_json="[1]"),
        raw_event('{"unit_id": "H1", "year": 1e308, "submissions": 1, "adoptions": 1}', type_name="unit.target-set"),
        raw_event('{"unit_id": "H1", "year": 2026, "submissions": 1.5, "adoptions": 1}', type_name="unit.target-set"),
        raw_event(
            '{"unit_id": "H1", "year": 99999999999999999999999999, "submissions": 1, "adoptions": 1}',
            type_name="unit.target-set",
        ),
        raw_event('{"unit_id": "H1", "year": 2026, "submissions": true, "adoptions": 1}', type_name="unit.target-set"),
        b'{"event_id": "not-a-uuid", "type": "unit.registered", "occurred_at": "' + AT.encode() + b'", "data": {}}',
        b'{"event_id": "' + b"9" * 100_000 + b'", "type": "unit.registered", "occurred_at": "x", "data": {}}',
        b'{"type": "' + b"t" * 100_000 + b'", "occurred_at": "' + AT.encode() + b'", "data": {}}',
        raw_event(UNIT).replace(AT.encode(), b"0001-01-01T00:00:00+14:00"),
        raw_event(UNIT).replace(AT.encode(), b"9999-12-31T23:59:59-12:00"),
        raw_event(UNIT).replace(AT.encode(), b"2026-13-45T99:00:00+08:00"),
        raw_event(UNIT)[:-1] + b', "expected_version": -1}',
        raw_event(UNIT)[:-1] + b', "expected_version": "three"}',
        raw_event(UNIT)[:-1] + b', "surprise": true}',
    ],
    ids=lambda b: b[:40].decode("utf-8", "replace"),
)
async def test_wrong_types_and_shapes_are_4xx(kaohe, body):
    await assert_refused(kaohe, await post_raw(kaohe, body))
    await assert_refused(
        kaohe, await post_raw(kaohe, b'{"events": [' + (body or b"null") + b"]}", path="/v1/events/batch")
    )
    assert await kaohe.head() == 0


async def test_a_body_that_is_not_json_is_4xx(kaohe):
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ):
        response = await post_raw(kaohe, b"<event type='unit.registered'/>", content_type=content_type)
        await assert_refused(kaohe, response, 415, "unsupported_media_type")


# --- text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        raw_event('{"unit_id": "H1", "name": "a\\u0000b", "kind": "other"}'),
        raw_event('{"unit_id": "H\\u00001", "name": "ab", "kind": "other"}'),
        raw_event(UNIT, metadata_json='{"note": "a\\u0000b"}'),
        raw_event(UNIT, metadata_json='{"a\\u0000b": 1}'),
        raw_event(UNIT, metadata_json='{"deep": [{"x": ["\\u0000"]}]}'),
    ],
    ids=["data-text", "data-id", "metadata-value", "metadata-key", "metadata-nested"],
)
async def test_nul_characters_are_422(kaohe, body):
    await assert_refused(kaohe, await post_raw(kaohe, body), 422)
    assert await kaohe.head() == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "unit.registered", "occurred_at": "' + AT.encode() + b'", "data": {"name": "\xff\xfe"}}',
        raw_event(UNIT).replace(b"\xe5\x8d\x95", b"\xe5\x8d"),  # a truncated multi-byte character
        '{"a": "é"}'.encode("latin-1"),
        "{}".encode("utf-16"),
        raw_event('{"unit_id": "H1", "name": "\\ud800", "kind": "other"}'),  # a lone surrogate escape
        raw_event(UNIT, metadata_json='{"x": "\\udfff"}'),
        raw_event(UNIT, metadata_json='{"\\ud800": 1}'),
        raw_event(UNIT, metadata_json='{"x": 123456789012345678901234567890}'),
    ],
    ids=[
        "invalid-utf8",
        "truncated-utf8",
        "latin-1",
        "utf-16",
        "surrogate-text",
        "surrogate-metadata",
        "surrogate-key",
        "integer-over-64-bits",
    ],
)
async def test_text_that_is_not_unicode_is_4xx(kaohe, body):
    await assert_refused(kaohe, await post_raw(kaohe, body))
    await assert_refused(kaohe, await post_raw(kaohe, b'{"events": [' + body + b"]}", path="/v1/events/batch"))
    assert await kaohe.head() == 0


async def test_sql_and_html_in_text_are_stored_verbatim_and_rendered_escaped(kaohe):
    formula = '=HYPERLINK("http://evil.example","点我")'
    await given(
        kaohe,
        event(
            "unit.registered",
            {"unit_id": "H1", "name": HTML, "kind": "department"},
            metadata={"reference": SQL, "html": HTML},
        ),
        event("unit.registered", {"unit_id": "H2", "name": formula, "kind": "township"}),
        item_submitted("I1", "H1", title=SQL),
        item_submitted("I2", "H2", title="+1+cmd|' /C calc'!A0"),
        event("item.adopted", {"item_id": "I1", "channel": "city", "issue": HTML}),
        event("item.adopted", {"item_id": "I2", "channel": "province", "issue": formula}),
    )
    stream = (await kaohe.ingest.get("/v1/streams/unit-H1")).json()
    stored = stream["events"][0]
    assert stored["data"]["name"] == HTML and stored["metadata"] == {"reference": SQL, "html": HTML}
    assert (await kaohe.ingest.get("/v1/streams/item-I1")).json()["events"][0]["data"]["title"] == SQL
    assert await kaohe.head() == 6  # and the log table is still there
    ranking = await kaohe.ranking("2026")
    assert {row["unit_name"] for row in ranking["rows"]} == {HTML, formula}

    html = (await kaohe.reporting.get("/v1/bulletins/2026-Q1", params={"format": "html"})).text
    assert "<script>" not in html and "<img" not in html and 'onerror="' not in html
    assert "&lt;script&gt;" in html
    page = (await kaohe.reporting.get("/")).text
    assert SCRIPT not in page and "<img src=x" not in page

    response = await kaohe.reporting.get("/v1/bulletins/2026-Q1", params={"format": "xlsx"})
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert not [cell.value for cell in cells if cell.data_type == "f"], "text became a spreadsheet formula"
    assert formula in {cell.value for cell in cells}


# --- query strings and paths ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "service, path, status",
    [
        ("ingest", "/v1/streams/unit-%00", 404),
        ("ingest", "/v1/streams/%ff%fe", 404),
        ("ingest", "/v1/streams/" + "s" * 5000, 404),
        ("ingest", "/v1/streams/..%2F..%2Fetc%2Fpasswd", 404),
        ("ingest", "/v1/events?type=%00", 422),
        ("ingest", "/v1/events?stream=%00", 422),
        ("ingest", "/v1/events?stream=%ED%A0%80", 422),
        ("ingest", "/v1/events?after=99999999999999999999999", 422),
        ("ingest", "/v1/events?after=-1", 422),
        ("ingest", "/v1/events?limit=100000", 422),
        ("ingest", "/v1/events?after=1e3", 422),
        ("ingest", "/v1/events?type=" + "t" * 10_000, 422),
        ("scoring", "/v1/units/U1/ledger?period=2026&as_of_position=99999999999999999999999", 422),
        ("scoring", "/v1/units/U1/ledger?period=2026&as_of=0001-01-01T00:00:00%2B14:00", 422),
        ("scoring", "/v1/units/U1/ledger?period=2026&as_of=9999-12-31T23:59:59-12:00", 422),
        ("scoring", "/v1/units/U%001/ledger?period=2026", (404, 422)),
        ("scoring", "/v1/units/U1/ledger?period=2026%00", 422),
        ("scoring", "/v1/units/U1/ledger?period=20260", 422),
        ("scoring", "/v1/officers/O1/ledger?period=2026&as_of_position=-5", 422),
        ("scoring", "/v1/audit/deductions/%00", 404),
        ("scoring", "/v1/audit/deductions/' OR 1=1 --", 404),
        ("scoring", "/v1/projections/rebuild/%00", 404),
        ("scoring", "/v1/policies/%00", 404),
        ("reporting", "/v1/rankings/units?period=2026&as_of_position=99999999999999999999999", 422),
        ("reporting", "/v1/rankings/units?period=2026&as_of=9999-12-31T23:59:59-12:00", 422),
        ("reporting", "/v1/rankings/units?period=2026&kind=%00", 422),
        ("reporting", "/v1/rankings/officers?period=%3Cscript%3E", 422),
        ("reporting", "/v1/selection/2026?units=99999999999999999999", 422),
        ("reporting", "/v1/selection/99999999999999999999", 422),
        ("reporting", "/v1/rewards?period=2026&as_of=not-a-time", 422),
        ("reporting", "/v1/bulletins/%00", (404, 422)),
        ("reporting", "/v1/bulletins/2026-Q1?format=%00", 422),
        ("reporting", "/v1/dashboard?period=%3Cscript%3E", 422),
        ("reporting", "/?period=%00", 422),
    ],
)
async def test_hostile_query_strings_and_paths_are_4xx(kaohe, service, path, status):
    response = await getattr(kaohe, service).get(path)
    await assert_refused(kaohe, response, status)  # problem+json: an echoed "<script>" is inert text


async def test_hostile_headers_do_not_break_anything(kaohe):
    for request_id in ("x" * 10_000, "\x00\x01", "<script>", "ok-id"):
        try:
            response = await kaohe.ingest.get("/v1/events", headers={"X-Request-ID": request_id})
        except Exception:
            continue
        assert response.status_code == 200
        echoed = response.headers["x-request-id"]
        assert echoed == request_id if request_id in ("ok-id", "<script>") else len(echoed) == 32
    response = await kaohe.ingest.get("/v1/events", headers={"Authorization": ("Bearer " + "é" * 100).encode()})
    assert response.status_code == 401
