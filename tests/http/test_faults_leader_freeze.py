"""A frozen projector leader (SIGSTOP of a real uvicorn scoring process) loses its lease: the standby
takes over within seconds and follows the log; the frozen one, resumed, stands by. Before issue 15 the
lock lived on the frozen process's open connection and the standby stayed standby for good."""

import asyncio
import signal
import time

import httpx
import pytest

from tests.support.bulk import batches, bulk_events
from tests.support.compare import assert_projection_equals_fresh_fold
from tests.support.servers import start, wait_until

pytestmark = pytest.mark.faults
ADMIN_KEY = "kh_freezeadmin_" + "f" * 40
HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
LEASE = 3  # seconds (KAOHE_PROJECTOR_LEASE_SECONDS)
FAILOVER_WITHIN = 10  # seconds: the lease, the standby's one-second retry, and room for a loaded machine


async def _status(http: httpx.AsyncClient, server) -> dict | None:
    try:
        response = await http.get(server.url + "/v1/projections/status", timeout=3)
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None


async def test_a_frozen_leader_loses_the_lock_and_the_standby_takes_over(database_url, tmp_path):
    env = {
        "KAOHE_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
        "KAOHE_PROJECTOR_POLL_SECONDS": "0.5",
        "KAOHE_PROJECTOR_LEASE_SECONDS": str(LEASE),
    }
    ingest = start("ingest", database_url, tmp_path, env=env)
    scorers = [start("scoring", database_url, tmp_path, env=env) for _ in range(2)]
    leader = None
    try:
        for server in (ingest, *scorers):
            await asyncio.to_thread(wait_until, server)
        async with httpx.AsyncClient(headers=HEADERS, timeout=30) as http:
            events = batches(bulk_events(units=10, items_per_unit=20, prefix="F"), size=200)
            first = next(events)
            assert (await http.post(ingest.url + "/v1/events/batch", json={"events": first})).status_code == 201

            deadline = time.monotonic() + 60
            while leader is None:
                assert time.monotonic() < deadline, "never saw one instance projecting and one standing by"
                roles = [(await _status(http, s) or {}).get("projector") for s in scorers]
                if sorted(map(str, roles)) == ["projecting", "standby"]:
                    leader, standby = scorers[roles.index("projecting")], scorers[1 - roles.index("projecting")]
                await asyncio.sleep(0.05)

            leader.process.send_signal(signal.SIGSTOP)
            frozen_at = time.monotonic()
            for batch in events:  # appends go on while the leader is frozen
                assert (await http.post(ingest.url + "/v1/events/batch", json={"events": batch})).status_code == 201
            head = (await http.get(ingest.url + "/v1/events", params={"limit": 1})).json()["head_position"]

            takeover = None
            while takeover is None:
                status = await _status(http, standby)
                if status and status["projector"] == "projecting":
                    takeover = time.monotonic() - frozen_at
                assert time.monotonic() - frozen_at < FAILOVER_WITHIN, f"no takeover: {status}"
                await asyncio.sleep(0.05)
            print(f"the standby took over {takeover:.1f} s after the leader froze (lease {LEASE} s)")

            deadline = time.monotonic() + 60
            while (status := await _status(http, standby))["checkpoint_position"] < head:
                assert time.monotonic() < deadline, f"the new leader did not catch up: {status}"
                await asyncio.sleep(0.1)

            leader.process.send_signal(signal.SIGCONT)
            deadline = time.monotonic() + 60
            while (await _status(http, leader) or {}).get("projector") != "standby":
                assert time.monotonic() < deadline, "the resumed leader did not stand by"
                await asyncio.sleep(0.1)
            assert (await _status(http, standby))["projector"] == "projecting"
        await assert_projection_equals_fresh_fold(database_url)
    finally:
        if leader is not None and leader.process.poll() is None:
            leader.process.send_signal(signal.SIGCONT)
        for server in (ingest, *scorers):
            server.stop()
