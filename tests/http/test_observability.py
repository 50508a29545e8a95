"""JSON logs that carry the request id, and the Prometheus metrics of every service."""

import io
import json
import logging

from prometheus_client.parser import text_string_to_metric_families

from shared.observability import JsonFormatter
from tests.support.factories import given, unit_registered
from tests.support.harness import running_kaohe


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(client) -> dict[tuple[str, tuple], float]:
    response = await client.get("/metrics", headers={"Authorization": ""})  # no key needed
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_every_service_serves_metrics_without_a_key(kaohe):
    for name in ("ingest", "scoring", "reporting"):
        await getattr(kaohe, name).get("/healthz")
        response = await getattr(kaohe, name).get("/metrics", headers={"Authorization": ""})
        families = {family.name for family in text_string_to_metric_families(response.text)}
        assert {"kaohe_http_request_duration_seconds", "kaohe_refusals"} <= families, families
        assert ("kaohe_projector_lag_events" in families) == (name == "scoring")
        found = samples(response.text)
        assert (
            found[
                (
                    "kaohe_http_request_duration_seconds_count",
                    (("method", "GET"), ("route", "/healthz"), ("service", name), ("status", "200")),
                )
            ]
            == 1
        )


async def test_appends_by_type_refusals_by_code_and_latency_by_route(kaohe):
    await given(kaohe, unit_registered("U1"), unit_registered("U2"))
    await kaohe.post("unit.registered", {"unit_id": "U3", "name": "三", "kind": "other"})
    await kaohe.post("unit.registered", {"unit_id": "U3", "name": "三", "kind": "other"}, expect=409)
    await kaohe.post("officer.registered", {"officer_id": "O1", "unit_id": "NOPE", "name": "x"}, expect=422)
    assert (await kaohe.ingest.get("/v1/events", headers={"Authorization": "Bearer nope"})).status_code == 401
    found = await scrape(kaohe.ingest)
    assert found[("kaohe_events_appended_total", (("type", "unit.registered"),))] == 3
    refusals = {
        dict(labels)["code"]: value for (metric, labels), value in found.items() if metric == "kaohe_refusals_total"
    }
    assert refusals == {"unit_already_registered": 1, "unknown_unit": 1, "unauthorized": 1}
    created = (
        "kaohe_http_request_duration_seconds_count",
        (("method", "POST"), ("route", "/v1/events"), ("service", "ingest"), ("status", "201")),
    )
    assert found[created] == 1
    batch = (
        "kaohe_http_request_duration_seconds_count",
        (("method", "POST"), ("route", "/v1/events/batch"), ("service", "ingest"), ("status", "201")),
    )
    assert found[batch] == 1
    # a path with an id is counted under its route template, not one series per id
    await kaohe.ingest.get("/v1/streams/unit-U1")
    await kaohe.ingest.get("/v1/streams/unit-U2")
    found = await scrape(kaohe.ingest)
    streams = [
        labels
        for (metric, labels) in found
        if metric == "kaohe_http_request_duration_seconds_count" and dict(labels)["route"].startswith("/v1/streams")
    ]
    assert [dict(labels)["route"] for labels in streams] == ["/v1/streams/{stream_id}"]


async def test_projector_lag_in_events_and_seconds(database_url):
    async with running_kaohe(database_url, KAOHE_PROJECTOR=False) as stopped:
        await given(stopped, unit_registered("U1"), unit_registered("U2"), unit_registered("U3"))
        found = await scrape(stopped.scoring)
        assert found[("kaohe_projector_lag_events", ())] == 3
        assert found[("kaohe_projector_lag_seconds", ())] >= 0
        assert found[("kaohe_projector_projecting", ())] == 0
        assert found[("kaohe_database_up", ())] == 1
    async with running_kaohe(database_url) as running:
        await running.settled()
        found = await scrape(running.scoring)
        assert found[("kaohe_projector_lag_events", ())] == 0
        assert found[("kaohe_projector_lag_seconds", ())] == 0
        assert found[("kaohe_projector_checkpoint_position", ())] == 3
        assert found[("kaohe_projector_projecting", ())] == 1


async def test_log_lines_are_json_with_the_request_id(kaohe):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("kaohe.http")
    logger.addHandler(handler)
    try:
        response = await kaohe.ingest.get("/v1/streams/unit-NOPE", headers={"X-Request-ID": "req-42"})
        assert response.status_code == 404 and response.headers["x-request-id"] == "req-42"
        minted = await kaohe.ingest.get("/v1/events")
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [line] = [line for line in lines if line.get("request_id") == "req-42"]
    assert (line["level"], line["method"], line["route"], line["status"], line["code"]) == (
        "info",
        "GET",
        "/v1/streams/{stream_id}",
        404,
        "unknown_stream",
    )
    assert line["duration_ms"] >= 0 and line["ts"].endswith("+00:00")
    assert any(line.get("request_id") == minted.headers["x-request-id"] for line in lines)
