"""Audits (and ledgers) while rebuilds switch generations: every answer 200, no deadlock.

Before issue 15 an audit read the checkpoint, then the lines, while the switch replaced the lines'
view, then the checkpoint's: 0.9 % of audits during rebuilds answered 500 (deadlock detected).
"""

import asyncio
from collections import Counter

import pytest

from tests.http.test_rebuild import wait_for_job
from tests.support.bulk import batches, bulk_events
from tests.support.harness import running_kaohe

pytestmark = pytest.mark.faults
REBUILDS = 6


async def test_audits_and_ledgers_during_rebuilds_all_answer(database_url):
    async with running_kaohe(database_url, KAOHE_PROJECTOR_BATCH=100) as kaohe:
        for batch in batches(bulk_events(units=21, items_per_unit=10, prefix="A")):
            assert (await kaohe.ingest.post("/v1/events/batch", json={"events": batch})).status_code == 201
        await kaohe.settled(timeout=120)
        deductions = [
            e["event_id"]
            for e in (await kaohe.ingest.get("/v1/events", params={"type": "unit.criticized", "limit": 10})).json()[
                "events"
            ]
        ]
        assert len(deductions) == 3
        answers: Counter[int] = Counter()
        failures: list[str] = []
        stop = asyncio.Event()

        async def auditor(n: int) -> None:
            while not stop.is_set():
                event_id = deductions[n % len(deductions)]
                for response in (
                    await kaohe.scoring.get(f"/v1/audit/deductions/{event_id}"),
                    await kaohe.scoring.get("/v1/units/AU0/ledger", params={"period": "2026"}),
                    await kaohe.reporting.get("/v1/rankings/units", params={"period": "2026"}),
                ):
                    answers[response.status_code] += 1
                    if response.status_code != 200:
                        failures.append(f"{response.request.url.path}: {response.status_code} {response.text[:300]}")
                n += 1

        auditors = [asyncio.create_task(auditor(n)) for n in range(4)]
        try:
            for _ in range(REBUILDS):
                job_id = (await kaohe.scoring.post("/v1/projections/rebuild")).json()["job_id"]
                job = await wait_for_job(kaohe.scoring, job_id, timeout=180)
                assert job["state"] == "succeeded", job
        finally:
            stop.set()
            await asyncio.gather(*auditors)
        print(f"answers during {REBUILDS} rebuilds: {dict(answers)}")
        assert not failures, "\n".join(failures[:10])
        assert answers[200] >= 3 * REBUILDS
        audit = (await kaohe.scoring.get(f"/v1/audit/deductions/{deductions[0]}")).json()
        assert audit["replay_check"]["match"]
