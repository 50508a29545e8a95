"""Read-your-writes on the primary: `min_position` and `X-Kaohe-Position` on every projection read."""

import asyncio

from shared.read_position import POSITION_HEADER
from tests.support import factories as f
from tests.support.harness import running_kaohe

PROJECTION_READS = [
    ("scoring", "/v1/units/U1/ledger", {"period": "2026"}),
    ("scoring", "/v1/officers/O1/ledger", {"period": "2026"}),
    ("reporting", "/v1/rankings/units", {"period": "2026"}),
    ("reporting", "/v1/rankings/officers", {"period": "2026"}),
    ("reporting", "/v1/selection/2026", {}),
    ("reporting", "/v1/rewards", {"period": "2026"}),
    ("reporting", "/v1/bulletins/2026-Q1", {}),
    ("reporting", "/v1/dashboard", {"period": "2026-Q1"}),
    ("reporting", "/v1/solicitations", {}),
    ("reporting", "/v1/rectifications/2026", {}),
    ("reporting", "/v1/rewards/statement", {"period": "2026-H1"}),
    ("reporting", "/", {"period": "2026-Q1"}),
]


async def _seed(kaohe) -> tuple[int, str]:
    deduction = f.criticized("U1", responsible=["O1"])
    position = 0
    for body in (
        f.unit_registered("U1"),
        f.officer_registered("O1", "U1"),
        f.item_submitted("I1", "U1", authors=["O1"]),
        f.item_adopted("I1", "city"),
        deduction,
    ):
        response = await kaohe.ingest.post("/v1/events", json=body)
        assert response.status_code == 201, response.text
        position = response.json()["global_position"]
    return position, deduction["event_id"]


async def test_every_projection_read_waits_for_min_position_and_says_its_position(kaohe):
    position, deduction = await _seed(kaohe)
    reads = [*PROJECTION_READS, ("scoring", f"/v1/audit/deductions/{deduction}", {})]
    for service, path, params in reads:
        client = getattr(kaohe, service)
        # no settling first: the read itself waits until the projector has folded the append
        response = await client.get(path, params={**params, "min_position": position})
        assert response.status_code == 200, (path, response.text)
        assert int(response.headers[POSITION_HEADER]) >= position, path
        plain = await client.get(path, params=params)
        assert int(plain.headers[POSITION_HEADER]) >= position, path


async def test_etags_do_not_depend_on_min_position(kaohe):
    position, _ = await _seed(kaohe)
    first = await kaohe.reporting.get("/v1/rankings/units", params={"period": "2026", "min_position": position})
    assert first.status_code == 200
    for min_position in (None, 0, position):
        params = {"period": "2026"} | ({} if min_position is None else {"min_position": min_position})
        again = await kaohe.reporting.get(
            "/v1/rankings/units", params=params, headers={"If-None-Match": first.headers["ETag"]}
        )
        assert again.status_code == 304
        assert again.headers["ETag"] == first.headers["ETag"]
        assert again.headers[POSITION_HEADER] == first.headers[POSITION_HEADER]


async def test_a_projection_that_has_not_caught_up_answers_503_after_the_bounded_wait(database_url):
    async with running_kaohe(database_url, KAOHE_PROJECTOR=False) as kaohe:
        response = await kaohe.ingest.post("/v1/events", json=f.unit_registered("U1"))
        position = response.json()["global_position"]
        answers = await asyncio.gather(
            kaohe.reporting.get("/v1/rankings/units", params={"period": "2026", "min_position": position}),
            kaohe.scoring.get("/v1/units/U1/ledger", params={"period": "2026", "min_position": position}),
        )
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.json()["code"] == "position_not_reached"
            assert answer.headers["Retry-After"] == "1"
            assert answer.headers[POSITION_HEADER] == "0"
        invalid = await kaohe.reporting.get("/v1/rankings/units", params={"period": "2026", "min_position": "-1"})
        assert invalid.status_code == 422
        # a position no append has returned cannot be reached by waiting: the same 503, at once
        for client, path in ((kaohe.reporting, "/v1/rankings/units"), (kaohe.scoring, "/v1/units/U1/ledger")):
            beyond = await client.get(path, params={"period": "2026", "min_position": position + 1})
            assert beyond.status_code == 503, beyond.text
            assert beyond.json()["code"] == "position_not_reached" and beyond.headers["Retry-After"] == "1"
