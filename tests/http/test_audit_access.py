"""Who may audit, ask what-if and rebuild (api.md roles): auditor and admin all three, office audit only."""

import uuid

from shared.auth import create_key
from shared.db import make_engine


async def keys(database_url: str) -> dict[str, str]:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            return {
                role: await create_key(conn, role=role, name=f"test-{role}", unit_id="U1" if role == "unit" else None)
                for role in ("auditor", "office", "viewer", "unit", "platform")
            }
    finally:
        await engine.dispose()


async def test_roles(kaohe, database_url):
    await kaohe.post(
        "unit.registered",
        {"unit_id": "U1", "name": "区统计局", "kind": "department"},
        occurred_at="2026-01-02T09:00:00+08:00",
    )
    deduction = str(uuid.uuid4())
    await kaohe.post("unit.criticized", {"unit_id": "U1"}, event_id=deduction)
    await kaohe.settled()
    policy = (await kaohe.scoring.get("/v1/policies/2026.1")).json()
    calls = {
        "audit": lambda headers: kaohe.scoring.get(f"/v1/audit/deductions/{deduction}", headers=headers),
        "what_if": lambda headers: kaohe.scoring.post(
            "/v1/what-if", json={"policy": policy, "period": "2026"}, headers=headers
        ),
        "rebuild": lambda headers: kaohe.scoring.post("/v1/projections/rebuild", headers=headers),
    }
    allowed = {
        "auditor": {"audit", "what_if", "rebuild"},
        "office": {"audit"},
        "viewer": set(),
        "unit": set(),
        "platform": set(),
    }
    for role, key in (await keys(database_url)).items():
        for name, call in calls.items():
            response = await call({"Authorization": f"Bearer {key}"})
            expected = {"audit": 200, "what_if": 200, "rebuild": 202}[name] if name in allowed[role] else 403
            assert response.status_code == expected, (role, name, response.text)
    for name, call in calls.items():
        response = await call({"Authorization": ""})
        assert (response.status_code, response.json()["code"]) == (401, "unauthorized"), name
