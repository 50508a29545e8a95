"""`kaohe keys create|list|revoke` against a fresh database, and what the keys then allow."""

import asyncio

import pytest

from tests.support.harness import running_kaohe
from tools.cli import main


@pytest.fixture
def kaohe_cli(database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)

    async def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


async def test_a_created_key_works_until_it_is_revoked(kaohe_cli, database_url):
    code, out, err = await kaohe_cli("keys", "create", "--role", "office", "--name", "区政府办公室")
    assert code == 0
    key = out.strip()
    key_id = key.split("_")[1]
    assert key.startswith(f"kh_{key_id}_") and key_id in err

    code, out, _ = await kaohe_cli("keys", "list")
    [line] = [line for line in out.splitlines() if line.startswith(key_id)]
    assert "office" in line and "active" in line and "区政府办公室" in line
    assert key not in out and key.split("_", 2)[2] not in out

    async with running_kaohe(database_url, key=key) as kaohe:
        assert (await kaohe.reporting.get("/v1/rankings/units", params={"period": "2026"})).status_code == 200

    code, out, _ = await kaohe_cli("keys", "revoke", key_id)
    assert code == 0 and key_id in out
    code, out, _ = await kaohe_cli("keys", "list")
    assert "revoked" in [line for line in out.splitlines() if line.startswith(key_id)][0]
    async with running_kaohe(database_url, key=key) as kaohe:
        assert (await kaohe.reporting.get("/v1/rankings/units", params={"period": "2026"})).status_code == 401


async def test_a_unit_key_names_its_unit_and_is_limited_to_it(kaohe_cli, database_url):
    code, _, err = await kaohe_cli("keys", "create", "--role", "unit")
    assert code == 2 and "--unit" in err
    code, _, err = await kaohe_cli("keys", "create", "--role", "viewer", "--unit", "U1")
    assert code == 2
    code, out, _ = await kaohe_cli("keys", "create", "--role", "unit", "--unit", "U1")
    assert code == 0
    code, listing, _ = await kaohe_cli("keys", "list")
    assert "unit-U1" in listing
    async with running_kaohe(database_url, key=out.strip()) as kaohe:
        assert (await kaohe.scoring.get("/v1/units/U2/ledger", params={"period": "2026"})).status_code == 403


async def test_revoking_an_unknown_key_fails(kaohe_cli):
    code, _, err = await kaohe_cli("keys", "revoke", "deadbeef")
    assert code == 1 and "deadbeef" in err


async def test_a_viewer_link_carries_the_key_in_the_fragment(kaohe_cli, monkeypatch):
    monkeypatch.setenv("KAOHE_HOST", "0.0.0.0")
    monkeypatch.setenv("KAOHE_REPORTING_PORT", "9103")
    monkeypatch.delenv("KAOHE_REPORTING_URL", raising=False)
    code, out, err = await kaohe_cli("keys", "create", "--role", "viewer", "--name", "大厅屏幕", "--link")
    assert code == 0, err
    key, link = out.split()
    assert link == f"http://127.0.0.1:9103/#key={key}"
    code, out, _ = await kaohe_cli(
        "keys", "create", "--role", "viewer", "--link", "--link-base", "http://10.1.2.3:8003/"
    )
    assert code == 0 and out.split()[1].startswith("http://10.1.2.3:8003/#key=kh_")
    code, _, err = await kaohe_cli("keys", "create", "--role", "office", "--link")
    assert code == 2 and "viewer" in err


async def test_keys_list_piped_into_head_ends_quietly(database_url):
    import os
    import subprocess
    import sys

    from sqlalchemy import text

    from shared.db import make_engine
    from shared.settings import REPO_ROOT

    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:  # more lines than a pipe holds, so the writer meets a closed pipe
            await conn.execute(
                text(
                    "INSERT INTO auth.api_keys (key_id, name, role, key_hash) SELECT 'p' || n, '墙屏 ' || n, "
                    "'viewer', sha256(('pipe' || n)::bytea) FROM generate_series(1, 3000) n"
                )
            )
    finally:
        await engine.dispose()
    env = {**os.environ, "DATABASE_URL": database_url}
    command = f"{sys.executable} -m tools.cli keys list"
    head = await asyncio.to_thread(
        subprocess.run, ["bash", "-c", f"{command} | head -1"], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert head.stdout.split() == ["KEY_ID", "ROLE", "UNIT", "CREATED", "STATUS", "NAME"], head.stdout
    assert "Traceback" not in head.stderr and "BrokenPipe" not in head.stderr, head.stderr
    whole = await asyncio.to_thread(
        subprocess.run, ["bash", "-c", command], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert whole.returncode == 0 and "\r" not in whole.stdout and "\x1b" not in whole.stdout
    assert len(whole.stdout.splitlines()) == 3001
