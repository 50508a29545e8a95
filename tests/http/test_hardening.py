"""The smaller findings of issue 15: bounded inputs, strict JSON, answers that leak nothing."""

import copy
import io

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from shared.auth import MAX_KEY_LENGTH, KeyCache, create_key
from shared.db import make_engine
from shared.settings import Settings
from tests.http.test_rebuild import wait_for_job
from tests.http.test_whatif import current_document
from tests.support import factories as f
from tests.support.compare import assert_snapshots_equal, projection_snapshot
from tools.cli_audit import table, terminal_safe

AT = "2026-03-05T10:00:00+08:00"


async def _key(url: str, role: str, unit_id: str | None = None) -> str:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            return await create_key(conn, role=role, name=f"hardening-{role}", unit_id=unit_id)
    finally:
        await engine.dispose()


# --- what-if ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [("yuan", "1e30"), ("yuan", 1e30), ("points", 10**30)])
async def test_a_what_if_policy_with_huge_numbers_is_422(kaohe, field, value):
    document = await current_document(kaohe)
    proposed = copy.deepcopy(document)
    proposed["version"] = "huge"
    [clause] = [c for c in proposed["clauses"] if c.get(field) is not None][:1]
    clause[field] = value
    response = await kaohe.scoring.post("/v1/what-if", json={"policy": proposed, "period": "2026"})
    assert response.status_code == 422, response.text[:300]
    assert response.json()["code"] == "invalid_policy"


# --- keys ------------------------------------------------------------------------------------------


async def test_the_key_cache_is_bounded_and_keeps_recently_used_keys(database_url):
    admin = await _key(database_url, "admin")
    engine = make_engine(database_url, pool_size=2)
    try:
        cache = KeyCache(limit=50)
        assert (await cache.resolve(engine, admin)).role == "admin"
        for n in range(200):
            assert await cache.resolve(engine, f"kh_{n:08x}_" + "u" * 43) is None
            if n % 10 == 0:
                assert (await cache.resolve(engine, admin)).role == "admin"  # used: stays
        assert len(cache) <= 50
        before = len(cache)
        assert await cache.resolve(engine, "kh_deadbeef_" + "z" * (MAX_KEY_LENGTH + 1)) is None
        assert len(cache) == before  # an over-long key is refused unread, never cached
        async with engine.connect() as conn:  # the valid key is still served from the cache
            await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


async def test_a_huge_key_is_401(kaohe):
    response = await kaohe.ingest.get("/v1/events", headers={"Authorization": "Bearer " + "k" * 15_000})
    assert response.status_code == 401


def test_auth_off_is_refused_outside_development():
    with pytest.raises(ValidationError, match="KAOHE_ENV=development"):
        Settings(KAOHE_AUTH=False)
    assert not Settings(KAOHE_AUTH=False, KAOHE_ENV="development").auth_enabled


# --- strict JSON on ingest ---------------------------------------------------------------------------


def _raw(metadata: str = "{}", *, event_id: str = "0b7f3c7e-5d4a-4a53-9a50-7c1f1f2f8a11") -> str:
    return (
        f'{{"event_id": "{event_id}", "type": "unit.registered", "occurred_at": "{AT}", '
        f'"data": {{"unit_id": "J1", "name": "单位", "kind": "other"}}, "metadata": {metadata}}}'
    )


@pytest.mark.parametrize(
    "body",
    [
        _raw('{"x": NaN}'),
        _raw('{"x": Infinity}'),
        _raw('{"x": -Infinity}'),
        _raw('{"x": 1e400}'),
        _raw('{"x": 1, "x": 2}'),
        _raw().replace('"type": "unit.registered"', '"type": "unit.registered", "type": "unit.registered"'),
        _raw()[:-1] + ', "event_id": "1b7f3c7e-5d4a-4a53-9a50-7c1f1f2f8a11"}',
    ],
    ids=["nan", "infinity", "-infinity", "1e400", "duplicate-metadata-key", "duplicate-type", "duplicate-event_id"],
)
async def test_json_that_is_not_strict_is_400(kaohe, body):
    for path, payload in (("/v1/events", body), ("/v1/events/batch", '{"events": [' + body + "]}")):
        response = await kaohe.ingest.post(path, content=payload.encode(), headers={"content-type": "application/json"})
        assert response.status_code == 400, (path, response.text[:300])
        assert response.json()["code"] == "invalid_json"
    assert await kaohe.head() == 0


async def test_a_body_that_is_not_utf8_is_400(kaohe):
    for encoding in ("utf-16", "utf-16-le", "utf-32"):
        response = await kaohe.ingest.post(
            "/v1/events", content=_raw().encode(encoding), headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, (encoding, response.text[:300])
        assert response.json()["code"] == "invalid_json"
    assert await kaohe.head() == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None])
async def test_a_body_that_is_not_declared_json_is_415(kaohe, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = await kaohe.ingest.post("/v1/events", content=_raw().encode(), headers=headers)
    assert response.status_code == 415, response.text[:300]
    assert response.json()["code"] == "unsupported_media_type"
    assert await kaohe.head() == 0


async def test_two_authorization_headers_are_400(kaohe, database_url):
    viewer = await _key(database_url, "viewer")
    admin = kaohe.ingest.headers["authorization"]
    headers = [("authorization", f"Bearer {viewer}"), ("authorization", admin), ("content-type", "application/json")]
    response = await kaohe.ingest.post("/v1/events", content=_raw().encode(), headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "ambiguous_authorization"
    response = await kaohe.ingest.get("/v1/events", headers=headers)
    assert response.status_code == 400
    assert await kaohe.head() == 0


# --- what a key may learn -------------------------------------------------------------------------


async def test_a_unit_key_gets_404_for_an_officer_of_another_unit_as_for_none(kaohe, database_url):
    await kaohe.ingest.post(
        "/v1/events/batch",
        json={
            "events": [
                f.unit_registered("U1"),
                f.unit_registered("U2"),
                f.officer_registered("O1", "U1"),
                f.officer_registered("O2", "U2"),
            ]
        },
    )
    await kaohe.settled()
    unit = {"Authorization": f"Bearer {await _key(database_url, 'unit', 'U1')}"}
    own = await kaohe.scoring.get("/v1/officers/O1/ledger", params={"period": "2026"}, headers=unit)
    assert own.status_code == 200
    other = await kaohe.scoring.get("/v1/officers/O2/ledger", params={"period": "2026"}, headers=unit)
    none = await kaohe.scoring.get("/v1/officers/O9/ledger", params={"period": "2026"}, headers=unit)
    assert other.status_code == none.status_code == 404
    assert other.json()["code"] == none.json()["code"] == "not_found"
    assert other.json()["detail"].replace("O2", "O9") == none.json()["detail"]


async def test_a_unit_disputing_its_own_adoption_gets_422_not_a_deduction(kaohe, database_url):
    adoption = f.event("item.adopted", {"item_id": "I1", "channel": "city"})
    await kaohe.ingest.post(
        "/v1/events/batch",
        json={"events": [f.unit_registered("U1"), f.item_submitted("I1", "U1"), adoption]},
    )
    unit = {"Authorization": f"Bearer {await _key(database_url, 'unit', 'U1')}"}
    dispute = f.event(
        "unit.deduction-disputed", {"unit_id": "U1", "deduction_event_id": adoption["event_id"], "reason": "不是扣分"}
    )
    response = await kaohe.ingest.post("/v1/events", json=dispute, headers=unit)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "not_a_deduction"


async def test_an_office_key_may_follow_a_rebuild(kaohe, database_url):
    job = (await kaohe.scoring.post("/v1/projections/rebuild")).json()["job_id"]
    office = {"Authorization": f"Bearer {await _key(database_url, 'office')}"}
    response = await kaohe.scoring.get(f"/v1/projections/rebuild/{job}", headers=office)
    assert response.status_code == 200, response.text
    await wait_for_job(kaohe.scoring, job)


# --- the projection equals a rebuild, zero rows included --------------------------------------------


async def test_totals_brought_back_to_zero_equal_a_rebuild(kaohe, database_url):
    adoption = f.event("item.adopted", {"item_id": "I1", "channel": "city"})
    await kaohe.ingest.post(
        "/v1/events/batch", json={"events": [f.unit_registered("U1"), f.item_submitted("I1", "U1"), adoption]}
    )
    await kaohe.settled()  # the adoption's sums are written in one batch ...
    revoke = f.event("event.revoked", {"target_event_id": adoption["event_id"], "reason": "重复"})
    assert (await kaohe.ingest.post("/v1/events", json=revoke)).status_code == 201
    await kaohe.settled()  # ... and brought back to zero by the next
    live = await projection_snapshot(database_url)
    assert not [row for row in live["totals"] if row[-1] == 0], "a zero row stayed in the live totals"
    job = (await kaohe.scoring.post("/v1/projections/rebuild")).json()["job_id"]
    assert (await wait_for_job(kaohe.scoring, job))["state"] == "succeeded"
    assert_snapshots_equal(live, await projection_snapshot(database_url))


# --- the audit CLI -------------------------------------------------------------------------------


def test_the_cli_escapes_control_characters_in_unit_supplied_text():
    reason = "理由\x1b[2J\x1b]0;owned\x07\u202e反转\n第二行"
    shown = table(["#", "理由"], [("1", reason)])
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "\\x1b[2J" in shown and "\\n" in shown and "理由" in shown
    assert terminal_safe("普通文本 plain") == "普通文本 plain"
    out = io.StringIO()
    print(shown, file=out)
    assert out.getvalue().count("\n") == 3  # header, rule, one row: the reason's newline is escaped
