"""`make run` serves all three services: `python -m tools.runner` on an embedded PostgreSQL."""

import asyncio
import os
import signal
import subprocess
import sys
import uuid

import httpx
import pytest

from shared.settings import REPO_ROOT
from tools.devdb import EmbeddedPostgres, free_port


async def wait_for(check, *, what: str, process: subprocess.Popen, log, timeout: float = 180.0):
    """Poll `check()` until it returns a truthy value; fail (with the runner's output) on exit or timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(f"runner exited ({process.returncode}) while waiting for {what}:\n{log.read_text()}")
        try:
            result = await check()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}:\n{log.read_text()}")
        await asyncio.sleep(0.1)


@pytest.fixture
def runner(tmp_path):
    data = tmp_path / "data"
    ports = {name: free_port() for name in ("ingest", "scoring", "reporting")}
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k == "DATABASE_URL" or k.endswith("_DATABASE_URL") or k == "KAOHE_BOOTSTRAP_ADMIN_KEY")
    }
    env.update(
        {
            "KAOHE_EMBEDDED": "1",
            "KAOHE_DATA_DIR": str(data),
            **{f"KAOHE_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        }
    )
    log = tmp_path / "runner.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.runner"], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        yield process, urls, data, log, env
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        EmbeddedPostgres(data / "pg").destroy()


async def test_make_run_serves_all_three_services_on_an_embedded_database(runner):
    process, urls, data, log, env = runner
    async with httpx.AsyncClient(timeout=10) as client:

        async def all_ready():
            codes = [(await client.get(f"{url}/readyz")).status_code for url in urls.values()]
            return all(code == 200 for code in codes) and "kaohe is running" in log.read_text()

        await wait_for(all_ready, what="the three services", process=process, log=log)
        key_file = data / "admin-key"
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
        key = key_file.read_text().strip()
        assert key in log.read_text()
        for url in urls.values():
            assert (await client.get(f"{url}/docs")).status_code == 200

        headers = {"Authorization": f"Bearer {key}"}
        for type_name, payload in (
            ("unit.registered", {"unit_id": "U1", "name": "区发改委", "kind": "department"}),
            (
                "item.submitted",
                {"item_id": "I1", "unit_id": "U1", "title": "关于一季度经济运行的报告", "kind": "single"},
            ),
            ("item.adopted", {"item_id": "I1", "channel": "city", "issue": "政府专报 2026年第5期"}),
        ):
            response = await client.post(
                f"{urls['ingest']}/v1/events",
                headers=headers,
                json={
                    "event_id": str(uuid.uuid4()),
                    "type": type_name,
                    "occurred_at": "2026-03-05T10:00:00+08:00",
                    "data": payload,
                },
            )
            assert response.status_code == 201, response.text

        async def ranked():
            response = await client.get(
                f"{urls['reporting']}/v1/rankings/units", params={"period": "2026"}, headers=headers
            )
            rows = response.json().get("rows") if response.status_code == 200 else None
            return rows if rows and rows[0]["net_points"] == 50 else None

        [row] = await wait_for(ranked, what="the adoption in the ranking", process=process, log=log, timeout=30)
        assert (row["unit_id"], row["rank"], row["net_points"]) == ("U1", 1, 50)

    # With no DATABASE_URL, `kaohe keys` finds the running embedded database.
    keys = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tools.cli", "keys", "list"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert keys.returncode == 0 and "bootstrap-admin" in keys.stdout, keys.stderr

    process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(process.wait, 60) == 0, log.read_text()
    assert not EmbeddedPostgres(data / "pg").running()


async def test_a_second_make_run_on_the_same_data_directory_leaves_the_first_serving(runner):
    process, urls, data, log, env = runner
    async with httpx.AsyncClient(timeout=10) as client:

        async def all_ready():
            codes = [(await client.get(f"{url}/readyz")).status_code for url in urls.values()]
            return all(code == 200 for code in codes) and "kaohe is running" in log.read_text()

        await wait_for(all_ready, what="the three services", process=process, log=log)
        second = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "tools.runner"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode != 0
        assert "already running" in second.stderr and str(data) in second.stderr, second.stderr
        assert str(process.pid) in second.stderr
        # The first keeps serving on a live database: ready, and it takes a write.
        assert process.poll() is None and EmbeddedPostgres(data / "pg").running()
        assert await all_ready()
        key = (data / "admin-key").read_text().strip()
        response = await client.post(
            f"{urls['ingest']}/v1/events",
            headers={"Authorization": f"Bearer {key}"},
            json={
                "type": "unit.registered",
                "occurred_at": "2026-03-05T10:00:00+08:00",
                "data": {"unit_id": "U1", "name": "区发改委", "kind": "department"},
            },
        )
        assert response.status_code == 201, response.text

    process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(process.wait, 60) == 0, log.read_text()
