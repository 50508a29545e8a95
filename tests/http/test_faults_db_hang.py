"""A hung database (every PostgreSQL process SIGSTOPped, as a frozen host would be) under real uvicorn
services: requests answer 503 `database_unavailable` with `Retry-After` within the configured timeouts,
/readyz answers 503 within seconds, and everything recovers by itself once the database runs again.

Uses a PRIVATE PostgreSQL (tools/devdb.py), never the shared server.
"""

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.http.test_faults_db_restart import _create_database, _until
from tests.support.servers import start, wait_until
from tools.devdb import EmbeddedPostgres

pytestmark = pytest.mark.faults
ADMIN_KEY = "kh_hangadmin_" + "h" * 40
HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
TIMEOUT = 2  # seconds: connect, statement and pool timeouts of the services under test
ANSWER_WITHIN = 30  # a generous bound for "answered, not hung" on a loaded machine


@pytest.fixture(scope="module")
def private_pg(tmp_path_factory):
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("hung-pg"))
    pg.start()
    try:
        yield pg
    finally:
        pg.destroy()


def _server_processes(pg) -> list[int]:
    """The postmaster and every process it started (backends, checkpointer, walwriter, …)."""
    postmaster = int((pg.pgdata / "postmaster.pid").read_text().split()[0])
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    children.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return [postmaster, *children]


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _event() -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "unit.registered",
        "occurred_at": "2026-03-05T10:00:00+08:00",
        "data": {"unit_id": f"H{uuid.uuid4().hex[:8]}", "name": "单位", "kind": "other"},
    }


async def _timed(call) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await call
    return response, time.monotonic() - started


async def test_a_frozen_database_answers_503_in_time_and_recovers(private_pg, tmp_path):
    url = await _create_database(private_pg)
    env = {
        "KAOHE_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
        "KAOHE_PROJECTOR_POLL_SECONDS": "0.5",
        "KAOHE_DB_CONNECT_TIMEOUT": str(TIMEOUT),
        "KAOHE_DB_STATEMENT_TIMEOUT": str(TIMEOUT),
        "KAOHE_DB_POOL_TIMEOUT": str(TIMEOUT),
        "KAOHE_DB_POOL_SIZE": "4",
    }
    servers = {name: start(name, url, tmp_path, env=env) for name in ("ingest", "scoring", "reporting")}
    frozen: list[int] = []
    try:
        for server in servers.values():
            await asyncio.to_thread(wait_until, server)
        async with httpx.AsyncClient(headers=HEADERS, timeout=ANSWER_WITHIN + 30) as http:
            ingest, scoring, reporting = (servers[n].url for n in ("ingest", "scoring", "reporting"))
            assert (await http.post(ingest + "/v1/events", json=_event())).status_code == 201

            frozen = _server_processes(private_pg)
            _signal_all(frozen, signal.SIGSTOP)
            calls = {
                "ingest readyz": http.get(ingest + "/readyz"),
                "scoring readyz": http.get(scoring + "/readyz"),
                "reporting readyz": http.get(reporting + "/readyz"),
                "append": http.post(ingest + "/v1/events", json=_event()),
                "read the log": http.get(ingest + "/v1/events"),
                "status": http.get(scoring + "/v1/projections/status"),
                "ranking": http.get(reporting + "/v1/rankings/units", params={"period": "2026"}),
                # more requests than pooled connections: the rest wait for the pool, then 503 too
                **{f"append {n}": http.post(ingest + "/v1/events", json=_event()) for n in range(8)},
            }
            answers = dict(zip(calls, await asyncio.gather(*(_timed(c) for c in calls.values()))))
            for what, (response, seconds) in answers.items():
                print(f"frozen database: {what} → {response.status_code} in {seconds:.1f} s")
                assert response.status_code == 503, (what, response.text[:300])
                problem = response.json()
                assert response.headers["content-type"] == "application/problem+json"
                assert problem["code"] == "database_unavailable", (what, problem)
                assert int(response.headers["retry-after"]) >= 1
                assert seconds < ANSWER_WITHIN, f"{what} took {seconds:.1f} s"
            assert all(server.process.poll() is None for server in servers.values())

            _signal_all(frozen, signal.SIGCONT)
            frozen = []
            for server in servers.values():

                async def ready(server=server):
                    try:
                        return (await http.get(server.url + "/readyz")).status_code == 200
                    except httpx.TransportError:
                        return False

                await _until(ready, timeout=120, what=f"{server.name} ready again")

            async def appended():
                return (await http.post(ingest + "/v1/events", json=_event())).status_code == 201

            await _until(appended, timeout=60, what="an append after the database resumed")

            async def caught_up():
                status = (await http.get(scoring + "/v1/projections/status")).json()
                return status["projector"] == "projecting" and status["lag_events"] == 0

            await _until(caught_up, timeout=120, what="the projector to follow again")
        for server in servers.values():
            assert '"level": "error"' not in server.log(), server.log()[-3000:]
    finally:
        _signal_all(frozen, signal.SIGCONT)
        for server in servers.values():
            server.stop()
