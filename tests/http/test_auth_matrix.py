"""Every endpoint × every role (and no key, an unknown key, a revoked key) → api.md's 2xx/401/403.

The expected answers come from api.md's role table, written out again here rather than read from
shared/auth.py, so a wrong permission in the code fails this test.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from shared.auth import create_key
from shared.db import make_engine
from tests.support import factories as f
from tests.support.asgi_stream import first_answer
from tests.support.harness import running_kaohe

ROLES = ("platform", "office", "unit", "viewer", "auditor", "admin")
ALL = frozenset(ROLES)
# api.md, "Authentication and roles" (and precise answer 13: status needs any valid key).
MAY = {
    "append_registry": frozenset({"platform", "office", "admin"}),  # unit.registered, officer.registered, item.*
    "append_other": frozenset({"office", "admin"}),
    "append_dispute": frozenset({"office", "unit", "admin"}),
    "read_log": frozenset({"platform", "office", "auditor", "admin"}),
    "read_ledger": frozenset({"office", "unit", "auditor", "admin"}),
    "read_rankings": frozenset({"office", "unit", "viewer", "auditor", "admin"}),
    "read_reports": frozenset({"office", "viewer", "auditor", "admin"}),
    "audit": frozenset({"office", "auditor", "admin"}),
    "what_if": frozenset({"auditor", "admin"}),
    "rebuild": frozenset({"auditor", "admin"}),
    "manage_webhooks": frozenset({"office", "admin"}),
    "read_rebuild": frozenset({"office", "auditor", "admin"}),  # a job's progress is a read (office: every read)
    "any_key": ALL,
}
PUBLIC_WHEN_ENABLED = {"read_rankings", "read_reports_public"}
OPEN_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs")


@dataclass
class Case:
    service: str
    method: str
    path: str  # the route template, as in the OpenAPI schema
    may: str  # a key of MAY, or "open", or "read_reports_public"
    request: Callable[[dict[str, Any], str], dict[str, Any]]  # (world, role) -> httpx request kwargs

    @property
    def allowed(self) -> frozenset[str]:
        if self.may == "open":
            return ALL
        return MAY["read_reports" if self.may == "read_reports_public" else self.may]


def get(url: str, **params: Any) -> Callable[[dict[str, Any], str], dict[str, Any]]:
    return lambda world, role: {"url": url.format(**world), "params": params}


def post_event(make: Callable[[dict[str, Any], str], dict[str, Any]]):
    return lambda world, role: {"url": "/v1/events", "json": make(world, role)}


def _fresh_unit(world, role):
    return f.unit_registered(f"N-{role}-{uuid.uuid4().hex[:6]}")


def _dispute(world, role):
    return f.event(
        "unit.deduction-disputed",
        {"unit_id": "U1", "deduction_event_id": world["deductions"][role], "reason": "依据不足"},
    )


CASES = [
    # ingest
    Case("ingest", "POST", "/v1/events", "append_registry", post_event(_fresh_unit)),
    Case(
        "ingest",
        "POST",
        "/v1/events",
        "append_other",
        post_event(lambda w, r: f.target_set("U1", submissions=3, adoptions=1)),
    ),
    Case("ingest", "POST", "/v1/events", "append_dispute", post_event(_dispute)),
    Case(
        "ingest",
        "POST",
        "/v1/events/batch",
        "append_registry",
        lambda w, r: {"url": "/v1/events/batch", "json": {"events": [_fresh_unit(w, r), _fresh_unit(w, r)]}},
    ),
    Case("ingest", "GET", "/v1/events", "read_log", get("/v1/events", limit=5)),
    Case("ingest", "GET", "/v1/streams/{stream_id}", "read_log", get("/v1/streams/unit-U1")),
    Case(
        "ingest",
        "POST",
        "/v1/subscriptions",
        "manage_webhooks",
        lambda w, r: {"url": "/v1/subscriptions", "json": {"url": "http://127.0.0.1:9/hook", "secret": "s" * 16}},
    ),
    Case("ingest", "GET", "/v1/subscriptions", "manage_webhooks", get("/v1/subscriptions")),
    Case(
        "ingest",
        "GET",
        "/v1/subscriptions/{subscription_id}/deliveries",
        "manage_webhooks",
        lambda w, r: {"url": f"/v1/subscriptions/{w['subscriptions'][r]}/deliveries"},
    ),
    Case(
        "ingest",
        "DELETE",
        "/v1/subscriptions/{subscription_id}",
        "manage_webhooks",
        lambda w, r: {"url": f"/v1/subscriptions/{w['subscriptions'][r]}"},
    ),
    # scoring
    Case("scoring", "GET", "/v1/units/{unit_id}/ledger", "read_ledger", get("/v1/units/U1/ledger", period="2026")),
    Case(
        "scoring",
        "GET",
        "/v1/officers/{officer_id}/ledger",
        "read_ledger",
        get("/v1/officers/O1/ledger", period="2026"),
    ),
    Case("scoring", "GET", "/v1/projections/status", "any_key", get("/v1/projections/status")),
    Case("scoring", "GET", "/v1/policies", "any_key", get("/v1/policies")),
    Case("scoring", "GET", "/v1/policies/{version}", "any_key", get("/v1/policies/{policy_version}")),
    Case("scoring", "GET", "/v1/audit/deductions/{event_id}", "audit", get("/v1/audit/deductions/{deduction}")),
    Case("scoring", "POST", "/v1/projections/rebuild", "rebuild", lambda w, r: {"url": "/v1/projections/rebuild"}),
    Case("scoring", "GET", "/v1/projections/rebuild/{job_id}", "read_rebuild", get("/v1/projections/rebuild/{job_id}")),
    Case(
        "scoring",
        "POST",
        "/v1/what-if",
        "what_if",
        lambda w, r: {"url": "/v1/what-if", "json": {"policy": w["policy"], "period": "2026"}},
    ),
    # reporting
    Case("reporting", "GET", "/v1/rankings/units", "read_rankings", get("/v1/rankings/units", period="2026")),
    Case("reporting", "GET", "/v1/rankings/officers", "read_rankings", get("/v1/rankings/officers", period="2026")),
    Case(
        "reporting",
        "GET",
        "/v1/rankings/units/stream",
        "read_rankings",
        get("/v1/rankings/units/stream", period="2026"),
    ),
    Case("reporting", "GET", "/v1/selection/{year}", "read_reports", get("/v1/selection/2026")),
    Case("reporting", "GET", "/v1/rewards", "read_reports", get("/v1/rewards", period="2026")),
    Case(
        "reporting", "GET", "/v1/bulletins/{period}", "read_reports_public", get("/v1/bulletins/2026-Q1", format="json")
    ),
    Case("reporting", "GET", "/v1/dashboard", "read_reports_public", get("/v1/dashboard")),
    # The page itself is open: without a reading key it is the sign-in page, with no data in it.
    Case("reporting", "GET", "/", "open", get("/")),
    Case("reporting", "GET", "/v1/solicitations", "read_ledger", get("/v1/solicitations")),
    Case("reporting", "GET", "/v1/rectifications/{year}", "read_ledger", get("/v1/rectifications/2026")),
    Case("reporting", "GET", "/v1/rewards/statement", "read_reports", get("/v1/rewards/statement", period="2026-H1")),
    Case(
        "ingest",
        "POST",
        "/v1/events",
        "append_dispute",  # office, unit (its own) and admin, like a dispute
        post_event(
            # a year per role: one plan per unit and year may await review
            lambda w, r: f.event(
                "unit.rectification-submitted",
                {"unit_id": "U1", "year": 2090 + (ROLES.index(r) if r in ROLES else 9), "plan": f"方案{r}"},
            )
        ),
    ),
] + [
    Case(service, "GET", path, "open", get(path))
    for service in ("ingest", "scoring", "reporting")
    for path in OPEN_PATHS
]


async def _make_keys(url: str) -> dict[str, str]:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            keys = {
                role: await create_key(conn, role=role, name=f"matrix-{role}", unit_id="U1" if role == "unit" else None)
                for role in ROLES
            }
            keys["unit-U2"] = await create_key(conn, role="unit", name="matrix-unit-U2", unit_id="U2")
            keys["revoked"] = await create_key(conn, role="admin", name="matrix-revoked")
            await conn.execute(text("UPDATE auth.api_keys SET revoked_at = now() WHERE name = 'matrix-revoked'"))
    finally:
        await engine.dispose()
    keys["unknown"] = "kh_0badc0de_" + "y" * 43
    return keys


async def _world(kaohe) -> dict[str, Any]:
    """Two units with an officer each, one deduction of U1 per role (each role may dispute its own)."""
    events = [
        f.unit_registered("U1"),
        f.unit_registered("U2"),
        f.officer_registered("O1", "U1"),
        f.officer_registered("O2", "U2"),
    ]
    deductions = {
        role: f.event("unit.criticized", {"unit_id": "U1", "bulletin": f"通报{role}"}) for role in (*ROLES, "unit-U2")
    }
    other = f.event("unit.criticized", {"unit_id": "U2"})
    response = await kaohe.ingest.post(
        "/v1/events/batch", json={"events": events + list(deductions.values()) + [other]}
    )
    assert response.status_code == 201, response.text
    await kaohe.settled()
    [policy_summary, *_] = (await kaohe.scoring.get("/v1/policies")).json()[-1:]
    policy = (await kaohe.scoring.get(f"/v1/policies/{policy_summary['version']}")).json()
    job = await kaohe.scoring.post("/v1/projections/rebuild")
    assert job.status_code == 202, job.text
    subscriptions = {}
    for role in ROLES:
        created = await kaohe.ingest.post(
            "/v1/subscriptions", json={"url": "http://127.0.0.1:9/hook", "secret": "s" * 16}
        )
        assert created.status_code == 201, created.text
        subscriptions[role] = created.json()["subscription_id"]
    return {
        "subscriptions": subscriptions,
        "deductions": {role: e["event_id"] for role, e in deductions.items()},
        "deduction": deductions["admin"]["event_id"],
        "other_deduction": other["event_id"],
        "policy_version": policy_summary["version"],
        "policy": policy,
        "job_id": job.json()["job_id"],
    }


def _client(kaohe, service: str):
    return getattr(kaohe, service)


async def _call(client, case: Case, world, role: str, key: str | None):
    spec = case.request(world, role)
    headers = {"Authorization": f"Bearer {key}"} if key else {"Authorization": ""}
    if case.path.endswith("/stream"):  # endless: take the first answer, then hang up
        app = client._transport.app
        return await first_answer(app, case.method, spec.pop("url"), params=spec.get("params"), headers=headers)
    return await client.request(case.method, spec.pop("url"), headers=headers, **spec)


async def test_every_route_is_in_the_matrix(kaohe):
    """A new route must be added here, with its permission."""
    covered = {(c.service, c.method, c.path) for c in CASES}
    for service, app in kaohe.apps.items():
        for path, operations in app.openapi()["paths"].items():
            for method in operations:
                assert (service, method.upper(), path) in covered, f"{service} {method.upper()} {path} not tested"


async def test_every_endpoint_answers_each_role_as_api_md_says(kaohe, database_url):
    keys = await _make_keys(database_url)
    world = await _world(kaohe)
    wrong = []
    for case in CASES:
        client = _client(kaohe, case.service)
        for role in ROLES:
            response = await _call(client, case, world, role, keys[role])
            if role in case.allowed:
                ok = 200 <= response.status_code < 300
            else:
                ok = response.status_code == 403 and response.json()["code"] == "forbidden"
            if not ok:
                wrong.append(
                    f"{role:9} {case.method} {case.path} ({case.may}) → {response.status_code} {response.text[:160]}"
                )
        for label in ("unknown", "revoked", None):
            response = await _call(client, case, world, "admin", keys[label] if label else None)
            expected = 200 if case.may == "open" else 401
            if response.status_code // 100 != expected // 100 or (
                expected == 401
                and (response.json()["code"] != "unauthorized" or response.headers.get("www-authenticate") != "Bearer")
            ):
                wrong.append(f"{label or 'no key':9} {case.method} {case.path} → {response.status_code}")
    assert not wrong, "\n".join(wrong)


async def test_public_reads_open_rankings_bulletins_and_dashboard_only(kaohe, database_url):
    world = await _world(kaohe)
    wrong = []
    async with running_kaohe(database_url, key=None, KAOHE_PUBLIC_READS=True) as anonymous:
        for case in CASES:
            response = await _call(_client(anonymous, case.service), case, world, "viewer", None)
            public = case.may in PUBLIC_WHEN_ENABLED or case.may == "open"
            if (200 <= response.status_code < 300) != public or (not public and response.status_code != 401):
                wrong.append(f"{case.method} {case.path} → {response.status_code}")
        # a bad key is still refused, even where no key would do
        response = await anonymous.reporting.get(
            "/v1/rankings/units", params={"period": "2026"}, headers={"Authorization": "Bearer kh_nope_nope"}
        )
        assert response.status_code == 401
    assert not wrong, "\n".join(wrong)


async def test_a_unit_key_reads_only_its_own_unit_and_officers(kaohe, database_url):
    keys = await _make_keys(database_url)
    await _world(kaohe)
    own = {"Authorization": f"Bearer {keys['unit']}"}
    for path, expected in (
        ("/v1/units/U1/ledger", 200),
        ("/v1/units/U2/ledger", 403),
        ("/v1/officers/O1/ledger", 200),
        ("/v1/officers/O2/ledger", 404),  # as for an officer that does not exist (issue 15)
    ):
        response = await kaohe.scoring.get(path, params={"period": "2026"}, headers=own)
        assert response.status_code == expected, (path, response.text)
    # time travel does not get around it
    response = await kaohe.scoring.get(
        "/v1/units/U2/ledger", params={"period": "2026", "as_of_position": 1}, headers=own
    )
    assert response.status_code == 403


async def test_a_unit_key_may_dispute_only_its_own_units_deductions(kaohe, database_url):
    keys = await _make_keys(database_url)
    world = await _world(kaohe)
    own = {"Authorization": f"Bearer {keys['unit']}"}
    head = await kaohe.head()

    async def post(body, expect: int):
        response = await kaohe.ingest.post("/v1/events", json=body, headers=own)
        assert response.status_code == expect, response.text
        return response.json()

    # another unit's deduction: 403, whether the body names the other unit or its own
    await post(
        f.event(
            "unit.deduction-disputed", {"unit_id": "U2", "deduction_event_id": world["other_deduction"], "reason": "x"}
        ),
        403,
    )
    await post(
        f.event(
            "unit.deduction-disputed", {"unit_id": "U1", "deduction_event_id": world["other_deduction"], "reason": "x"}
        ),
        403,
    )
    # any other type, even about its own unit
    await post(
        f.event(
            "unit.dispute-resolved",
            {"unit_id": "U1", "deduction_event_id": world["deduction"], "outcome": "revoked", "reason": "x"},
        ),
        403,
    )
    await post(f.unit_registered("U9"), 403)
    await post(f.event("unit.criticized", {"unit_id": "U1"}), 403)
    # a batch with one forbidden event stores nothing
    batch = [_dispute(world, "unit"), f.unit_registered("U8")]
    response = await kaohe.ingest.post("/v1/events/batch", json={"events": batch}, headers=own)
    assert response.status_code == 403, response.text
    assert await kaohe.head() == head
    # its own: accepted
    await post(_dispute(world, "unit"), 201)


async def test_every_recorded_event_carries_its_actor(kaohe, database_url):
    keys = await _make_keys(database_url)
    world = await _world(kaohe)
    as_platform = {"Authorization": f"Bearer {keys['platform']}"}
    single = f.unit_registered("A1")
    batch = [f.unit_registered("A2"), f.officer_registered("A2-O", "A2")]
    assert (await kaohe.ingest.post("/v1/events", json=single, headers=as_platform)).status_code == 201
    assert (await kaohe.ingest.post("/v1/events/batch", json={"events": batch}, headers=as_platform)).status_code == 201
    dispute = _dispute(world, "unit")
    assert (
        await kaohe.ingest.post("/v1/events", json=dispute, headers={"Authorization": f"Bearer {keys['unit']}"})
    ).status_code == 201
    events = (await kaohe.ingest.get("/v1/events", params={"limit": 1000})).json()["events"]
    by_id = {e["event_id"]: e for e in events}
    for body in (single, *batch):
        assert by_id[body["event_id"]]["actor"] == {"name": "matrix-platform", "role": "platform"}
    assert by_id[dispute["event_id"]]["actor"] == {"name": "matrix-unit", "role": "unit", "unit_id": "U1"}
    assert all(e["actor"] and e["actor"]["name"] and e["actor"]["role"] in ROLES for e in events)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Basic YWRtaW46YWRtaW4=",
        "bearer kh_x",
        "kh_testadmin_x",
        "Bearer kh_testadmin_" + "x" * 39,
        "Bearer " + "k" * 5000,
        "Bearer kh_" + "_" * 50,
    ],
)
async def test_malformed_or_wrong_credentials_are_401(kaohe, header):
    response = await kaohe.ingest.get("/v1/events", headers={"Authorization": header})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
