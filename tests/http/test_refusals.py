"""Every refusal of api.md's event table and precise answers 10–12, 14, 19–21: status, `code`, and
the log head does not move."""

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.support.factories import (
    event,
    false_information,
    given,
    item_adopted,
    item_endorsed,
    item_submitted,
    late_reported,
    officer_registered,
    post,
    refused,
    target_set,
    unit_registered,
)

UNKNOWN_EVENT = "6f1c1d4e-1111-4222-8333-944455556666"


async def _two_units(kaohe) -> None:
    await given(
        kaohe,
        unit_registered("U1"),
        unit_registered("U2"),
        officer_registered("O1", "U1"),
        officer_registered("O2", "U2"),
        item_submitted("I1", "U1", authors=["O1"]),
        item_submitted("I2", "U2"),
    )


# --- references to records that do not exist (422) -------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        officer_registered("O9", "NOPE"),
        target_set("NOPE", submissions=1, adoptions=1),
        event("unit.assessed", {"unit_id": "NOPE", "year": 2026, "outcome": "adequate"}),
        item_submitted("I9", "NOPE"),
        false_information("NOPE", 60),
        late_reported("NOPE", "city", "late"),
        event("unit.solicitation-missed", {"unit_id": "NOPE"}),
        event("unit.criticized", {"unit_id": "NOPE"}),
        item_adopted("I1", "city", contributors=[{"unit_id": "NOPE"}]),
    ],
    ids=lambda body: body["type"],
)
async def test_an_unknown_unit_is_422_unknown_unit(kaohe, body):
    await _two_units(kaohe)
    await refused(kaohe, body, 422, "unknown_unit")


@pytest.mark.parametrize(
    "body",
    [
        item_adopted("NOPE", "city"),
        item_endorsed("NOPE", "city"),
        # a deduction's item must be an item of that unit (precise answer 14)
        late_reported("U1", "city", "late", item_id="I2"),
        false_information("U1", 50, item_id="NOPE"),
    ],
    ids=["adopted", "endorsed", "deduction-other-units-item", "deduction-unknown-item"],
)
async def test_an_unknown_item_is_422_unknown_item(kaohe, body):
    await _two_units(kaohe)
    await refused(kaohe, body, 422, "unknown_item")


@pytest.mark.parametrize(
    "body",
    [
        item_submitted("I9", "U1", authors=["O1", "NOPE"]),
        late_reported("U1", "district", "missed", responsible=["NOPE"]),
    ],
    ids=["author", "responsible"],
)
async def test_an_unknown_officer_is_422_unknown_officer(kaohe, body):
    await _two_units(kaohe)
    await refused(kaohe, body, 422, "unknown_officer")


@pytest.mark.parametrize(
    "body",
    [
        item_submitted("I9", "U1", authors=["O2"]),
        false_information("U1", 80, responsible=["O1", "O2"]),
    ],
    ids=["author", "responsible"],
)
async def test_an_officer_of_another_unit_is_422_officer_not_in_unit(kaohe, body):
    await _two_units(kaohe)
    await refused(kaohe, body, 422, "officer_not_in_unit")


@pytest.mark.parametrize(
    "type_name,field", [("event.revoked", "target_event_id"), ("unit.deduction-disputed", "deduction_event_id")]
)
async def test_an_unknown_event_is_422_unknown_event(kaohe, type_name, field):
    await _two_units(kaohe)
    data = {field: UNKNOWN_EVENT, "reason": "核实"} | ({"unit_id": "U1"} if type_name.startswith("unit") else {})
    await refused(kaohe, event(type_name, data), 422, "unknown_event")


# --- adoptions -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "channel,kind,accepted",
    [
        ("province", "brief", ["single", "research"]),
        ("city", "brief", ["single", "research"]),
        ("district_zhengwu", "research", ["single", "brief"]),
        ("district_daily", "research", ["single", "brief"]),
        ("website_today", "research", ["single", "brief"]),
        ("district_bulletin", "single", ["research"]),
    ],
)
async def test_a_kind_the_channel_does_not_take_is_422_naming_the_accepted_kinds(kaohe, channel, kind, accepted):
    await _two_units(kaohe)
    problem = await refused(kaohe, item_adopted("I1", channel, kind=kind), 422, "kind_not_accepted_by_channel")
    for name in accepted:
        assert name in problem["detail"], problem
    # the item's own kind decides when the adoption names none
    await post(kaohe, item_submitted(f"K-{kind}", "U1", kind=kind))
    await refused(kaohe, item_adopted(f"K-{kind}", channel), 422, "kind_not_accepted_by_channel")


async def test_the_same_channel_and_issue_twice_is_409_duplicate_adoption(kaohe):
    await _two_units(kaohe)
    await post(kaohe, item_adopted("I1", "city", issue="政府专报 2026年第5期"))
    await refused(kaohe, item_adopted("I1", "city", issue="政府专报 2026年第5期"), 409, "duplicate_adoption")
    # the issue is compared after trimming
    await refused(kaohe, item_adopted("I1", "city", issue="　政府专报 2026年第5期 "), 409, "duplicate_adoption")
    await post(kaohe, item_adopted("I1", "city", issue="政府专报 2026年第6期"))  # another issue
    await post(kaohe, item_adopted("I1", "province", issue="政府专报 2026年第5期"))  # another channel
    # no issue is "no issue": once is fine, twice in the same channel is the same record (answer 10)
    await post(kaohe, item_adopted("I1", "district_daily"))
    await refused(kaohe, item_adopted("I1", "district_daily"), 409, "duplicate_adoption")
    await post(kaohe, item_adopted("I1", "district_zhengwu"))
    assert (await kaohe.unit_ledger("U1"))["net_points"] == 50 + 50 + 100 + 10 + 10


async def test_the_items_own_unit_as_contributor_is_422_contributor_is_owner(kaohe):
    await _two_units(kaohe)
    await refused(
        kaohe,
        item_adopted("I1", "city", contributors=[{"unit_id": "U2"}, {"unit_id": "U1"}]),
        422,
        "contributor_is_owner",
    )


async def test_negative_extra_points_are_422(kaohe):
    await _two_units(kaohe)
    await refused(
        kaohe, item_adopted("I1", "city", contributors=[{"unit_id": "U2", "extra_points": -5}]), 422, "validation_error"
    )


# --- records that already exist (409) --------------------------------------------------------------


async def test_registering_a_unit_twice_is_409(kaohe):
    await _two_units(kaohe)
    await refused(kaohe, unit_registered("U1", name="另一个名字"), 409, "unit_already_registered")


async def test_registering_an_officer_twice_is_409(kaohe):
    await _two_units(kaohe)
    await refused(kaohe, officer_registered("O1", "U1"), 409, "officer_already_registered")


async def test_submitting_an_item_twice_is_409(kaohe):
    await _two_units(kaohe)
    await refused(kaohe, item_submitted("I1", "U1", title="另一条"), 409, "item_already_submitted")
    await refused(kaohe, item_submitted("I1", "U2"), 409, "item_already_submitted")


# --- the envelope ----------------------------------------------------------------------------------


async def test_a_naive_datetime_is_422(kaohe):
    await refused(kaohe, unit_registered("U1", at="2026-03-05T10:00:00"), 422, "validation_error")


async def test_more_than_five_minutes_in_the_future_is_422(kaohe):
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    await refused(kaohe, unit_registered("U1", at=later), 422, "occurred_at_in_future")
    await post(kaohe, unit_registered("U1", at=soon))  # clock skew within five minutes is tolerated


async def test_an_unknown_event_type_is_422(kaohe):
    await refused(kaohe, event("unit.renamed", {"unit_id": "U1", "name": "新名"}), 422, "unknown_event_type")


@pytest.mark.parametrize(
    "data",
    [
        {"unit_id": "U1", "kind": "department"},
        {"name": "区发改委", "kind": "department"},
        {"unit_id": "U1", "name": "区发改委"},
        {"unit_id": "U1", "name": "区发改委", "kind": "bureau"},
        {"unit_id": "U1", "name": "区发改委", "kind": "department", "extra": 1},
    ],
)
async def test_a_missing_or_bad_field_is_422_with_its_location(kaohe, data):
    problem = await refused(kaohe, event("unit.registered", data), 422, "validation_error")
    assert problem["errors"] and all("loc" in e and "msg" in e for e in problem["errors"])


async def test_a_missing_envelope_field_is_422(kaohe):
    body = unit_registered("U1")
    del body["occurred_at"]
    problem = await refused(kaohe, body, 422, "validation_error")
    assert any("occurred_at" in e["loc"] for e in problem["errors"])


@pytest.mark.parametrize("bad_id", ["U 1", "单位1", "U/1", "U1;", "", "x" * 65, "U\u00e91"])
async def test_an_id_outside_ascii_letters_digits_and_underscore_dot_dash_is_422(kaohe, bad_id):
    await refused(kaohe, unit_registered(bad_id), 422, "validation_error")


async def test_an_id_of_64_allowed_characters_is_fine(kaohe):
    await post(kaohe, unit_registered("A-z_0.9" + "x" * 57))


@pytest.mark.parametrize("name", ["", "   ", "\u3000", "\u3000\u3000 \t\n", "名" * 201, " " + "名" * 201 + " "])
async def test_a_name_empty_or_over_200_characters_after_trimming_is_422(kaohe, name):
    await refused(kaohe, unit_registered("U1", name=name), 422, "validation_error")


async def test_text_is_stored_trimmed_and_200_characters_count_after_trimming(kaohe):
    long_name = "名" * 200
    await post(kaohe, unit_registered("U1", name="\u3000 " + long_name + " \u3000"))
    await post(kaohe, item_submitted("I1", "U1", title="\u3000关于一季度经济运行的报告\n"))
    unit = (await kaohe.ingest.get("/v1/streams/unit-U1")).json()
    assert unit["events"][0]["data"]["name"] == long_name
    item = (await kaohe.ingest.get("/v1/streams/item-I1")).json()
    assert item["events"][0]["data"]["title"] == "关于一季度经济运行的报告"


def _metadata_of(size: int) -> dict:
    """Metadata whose compact UTF-8 JSON is exactly `size` bytes."""
    metadata = {"reference": ""}
    filler = size - len(orjson.dumps(metadata))
    metadata["reference"] = "政" * (filler // 3) + "x" * (filler % 3)
    assert len(orjson.dumps(metadata)) == size
    return metadata


async def test_metadata_over_4096_bytes_is_422(kaohe):
    await refused(kaohe, {**unit_registered("U1"), "metadata": _metadata_of(4097)}, 422, "metadata_too_large")
    await post(kaohe, {**unit_registered("U1"), "metadata": _metadata_of(4096)})


async def test_a_body_over_1_mib_is_413(kaohe):
    body = {**unit_registered("U1"), "metadata": {"reference": "x" * (1024 * 1024)}}
    await refused(kaohe, body, 413, "payload_too_large")


# --- idempotency and optimistic concurrency --------------------------------------------------------


async def test_the_same_event_id_twice_is_a_duplicate_and_other_content_a_conflict(kaohe):
    body = unit_registered("U1", name="区发改委")
    first = await post(kaohe, body)
    head = await kaohe.head()
    again = await kaohe.ingest.post("/v1/events", json=body)
    assert again.status_code == 200, again.text
    stored = again.json()
    assert stored["duplicate"] is True
    assert (stored["event_id"], stored["global_position"], stored["stream_version"]) == (
        body["event_id"],
        first["global_position"],
        1,
    )
    assert stored["data"]["name"] == "区发改委" and stored["type"] == "unit.registered"
    assert await kaohe.head() == head
    changed = {**body, "data": {**body["data"], "name": "区财政局"}}
    await refused(kaohe, changed, 409, "event_id_conflict")
    await refused(kaohe, {**body, "occurred_at": "2026-03-06T10:00:00+08:00"}, 409, "event_id_conflict")


async def test_expected_version_is_the_streams_version_before_the_append(kaohe):
    await post(kaohe, {**unit_registered("U1"), "expected_version": 0})
    await refused(
        kaohe, {**target_set("U1", submissions=1, adoptions=1), "expected_version": 0}, 409, "wrong_expected_version"
    )
    await refused(
        kaohe, {**target_set("U1", submissions=1, adoptions=1), "expected_version": 2}, 409, "wrong_expected_version"
    )
    appended = await post(kaohe, {**target_set("U1", submissions=1, adoptions=1), "expected_version": 1})
    assert (appended["stream_id"], appended["stream_version"]) == ("unit-U1", 2)


# --- batches ---------------------------------------------------------------------------------------


async def test_a_batch_may_depend_on_its_own_earlier_events(kaohe):
    results = await given(
        kaohe,
        unit_registered("U1"),
        officer_registered("O1", "U1"),
        item_submitted("I1", "U1", authors=["O1"]),
        item_adopted("I1", "city"),
    )
    assert [r["stream_id"] for r in results] == ["unit-U1", "officer-O1", "item-I1", "item-I1"]
    assert [r["stream_version"] for r in results] == [1, 1, 1, 2]
    positions = [r["global_position"] for r in results]
    assert positions == sorted(positions) and len(set(positions)) == 4
    assert (await kaohe.unit_ledger("U1"))["net_points"] == 50


async def test_expected_version_in_a_batch_counts_the_batchs_earlier_events(kaohe):
    await post(kaohe, unit_registered("U1"))
    target = lambda n: {**target_set("U1", submissions=n, adoptions=0), "expected_version": n}
    await given(kaohe, target(1), target(2), target(3))
    problem = await refused(kaohe, {"events": [target(4), target(4)]}, 409, "wrong_expected_version", batch=True)
    assert [e["index"] for e in problem["errors"]] == [1]


async def test_a_batch_with_one_bad_event_stores_nothing_and_names_its_index(kaohe):
    await post(kaohe, unit_registered("U1"))
    good = [unit_registered("U2"), item_submitted("I1", "U2")]
    problem = await refused(kaohe, {"events": good + [item_submitted("I2", "NOPE")]}, 422, "unknown_unit", batch=True)
    assert [(e["index"], e["code"]) for e in problem["errors"]] == [(2, "unknown_unit")]
    invalid = {**unit_registered("U3"), "occurred_at": "2026-03-05T10:00:00"}
    problem = await refused(kaohe, {"events": good + [invalid]}, 422, "validation_error", batch=True)
    assert {e["index"] for e in problem["errors"]} == {2}
    # a state conflict in the middle of a batch
    problem = await refused(
        kaohe, {"events": [good[0], unit_registered("U1"), good[1]]}, 409, "unit_already_registered", batch=True
    )
    assert [e["index"] for e in problem["errors"]] == [1]
    too_large = {**unit_registered("U4"), "metadata": _metadata_of(5000)}
    problem = await refused(kaohe, {"events": [good[0], too_large]}, 422, "metadata_too_large", batch=True)
    assert [e["index"] for e in problem["errors"]] == [1]
    assert (await kaohe.ingest.get("/v1/streams/unit-U2")).status_code == 404


async def test_a_batch_over_1000_events_is_422(kaohe):
    events = [unit_registered(f"U{i}") for i in range(1001)]
    await refused(kaohe, {"events": events}, 422, "batch_too_large", batch=True)


async def test_a_batch_body_over_1_mib_is_read_and_checked(kaohe):
    """The batch endpoint's limit is 16 MiB: a 2 MiB batch is parsed (and here refused for its last event)."""
    events = [{**unit_registered(f"U{i}"), "metadata": _metadata_of(4000)} for i in range(520)]
    events.append(item_submitted("I1", "NOPE"))
    assert len(orjson.dumps({"events": events})) > 2 * 1024 * 1024
    problem = await refused(kaohe, {"events": events}, 422, "unknown_unit", batch=True)
    assert [e["index"] for e in problem["errors"]] == [520]


async def test_a_batch_repeating_stored_events_is_idempotent(kaohe):
    first, second = unit_registered("U1"), unit_registered("U2")
    await given(kaohe, first)
    response = await kaohe.ingest.post("/v1/events/batch", json={"events": [first, second]})
    assert response.status_code == 201, response.text
    assert [r["duplicate"] for r in response.json()["results"]] == [True, False]
    response = await kaohe.ingest.post("/v1/events/batch", json={"events": [first, second]})
    assert response.status_code == 200 and all(r["duplicate"] for r in response.json()["results"])


async def test_the_same_event_id_twice_in_one_batch_is_422(kaohe):
    body = unit_registered("U1")
    problem = await refused(
        kaohe,
        {"events": [body, unit_registered("U3"), {**body, "data": {**body["data"], "unit_id": "U2"}}]},
        422,
        "duplicate_event_id_in_batch",
        batch=True,
    )
    assert [e["index"] for e in problem["errors"]] == [2]  # the repeat, not the first


async def test_an_unknown_stream_is_404(kaohe):
    response = await kaohe.ingest.get(f"/v1/streams/unit-{uuid.uuid4().hex}")
    assert response.status_code == 404 and response.json()["code"]
