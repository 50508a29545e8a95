"""The signed-in dashboard and the offline API docs in a real headless Chromium, against real uvicorn
servers started as `make run` starts them (JSON logs via `--log-config`), with public reads off and
every host but 127.0.0.1 unresolvable for the browser.

- A wall-screen link `/#key=<viewer key>` shows the rankings; the key moves into the tab's session
  and leaves the address bar; a fresh tab gets the sign-in form, a wrong key a Chinese message, the
  viewer key the rankings. The picture goes to docs/dashboard.png.
- `/`, `/docs` and `/redoc` of the three services load no URL outside 127.0.0.1.
- Every line the servers log is JSON (uvicorn's own included), and the key is in none of them.
"""

import asyncio
import json
import time
from pathlib import Path

import httpx

from shared.auth import create_key
from shared.db import make_engine
from shared.observability import UVICORN_LOG_CONFIG
from tests.support.cdp import Browser, ensure_chromium
from tests.support.harness import ADMIN_KEY
from tests.support.servers import running

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "dashboard.png"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",)
ROWS = "document.querySelectorAll('#quarter-boards tbody tr').length"


SERVER_ENV = {
    "KAOHE_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
    "KAOHE_PUBLIC_READS": "false",
    "KAOHE_PROJECTOR_POLL_SECONDS": "0.5",
}


async def _viewer_key(database_url: str) -> str:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            return await create_key(conn, role="viewer", name="大厅屏幕")
    finally:
        await engine.dispose()


async def _settled(scoring: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 60
    while True:
        status = (await scoring.get("/v1/projections/status")).json()
        if status["checkpoint_position"] >= status["head_position"]:
            return
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.2)


def _requested_urls(browser: Browser) -> list[str]:
    urls = []
    while not browser.events.empty():
        event = browser.events.get_nowait()
        if event.get("method") == "Network.requestWillBeSent" and event.get("sessionId") == browser.session:
            urls.append(event["params"]["request"]["url"])
    return urls


async def test_viewer_signs_in_docs_load_offline_and_logs_are_json_without_secrets(database_url, tmp_path):
    from tools.demo import generate, load

    chromium = await asyncio.to_thread(ensure_chromium)
    with running(database_url, tmp_path, env=SERVER_ENV, log_config=UVICORN_LOG_CONFIG) as servers:
        urls = {name: server.url for name, server in servers.items()}
        viewer = await _viewer_key(database_url)
        async with (
            httpx.AsyncClient(base_url=urls["ingest"], headers=AUTH, timeout=60) as ingest,
            httpx.AsyncClient(base_url=urls["scoring"], headers=AUTH, timeout=60) as scoring,
        ):
            await load(ingest, generate(seed=2026, units=30, officers=90, year=2025), 500)
            await _settled(scoring)

        browser = Browser(chromium, str(tmp_path / "chromium"), extra_flags=OFFLINE)
        try:
            # The wall-screen link: rankings appear, the key leaves the address bar for the session.
            browser.open(f"{urls['reporting']}/#key={viewer}", width=1920, height=1080, network=True)
            browser.wait_for(f"{ROWS} > 0")
            assert browser.evaluate("location.hash") == ""
            assert browser.evaluate("sessionStorage.getItem('kaohe.key')") == viewer
            assert browser.evaluate("document.getElementById('signin').hidden") is True
            assert browser.evaluate("document.querySelector('h1').textContent") == "政务信息工作考核"
            await asyncio.sleep(1.0)  # fonts and the clock settle before the picture
            SCREENSHOT.write_bytes(browser.screenshot())
            requested = _requested_urls(browser)
            assert requested and all(u.startswith(urls["reporting"]) for u in requested), requested

            # A new tab has its own session: the sign-in form; a wrong key is refused in Chinese.
            browser.open(f"{urls['reporting']}/", width=1280, height=800)
            browser.wait_for("(document.getElementById('signin') || {}).hidden === false")  # once the page is there
            assert browser.evaluate(ROWS) == 0
            submit = (
                "(() => { document.getElementById('signin-key').value = {key};"
                " document.querySelector('#signin form, form.signin-box').requestSubmit(); return true; })()"
            )
            browser.evaluate(submit.replace("{key}", json.dumps("kh_wrong_" + "x" * 40)))
            browser.wait_for("document.getElementById('signin-message').textContent.includes('密钥无效')")
            assert browser.evaluate("sessionStorage.getItem('kaohe.key')") is None
            browser.evaluate(submit.replace("{key}", json.dumps(viewer)))
            browser.wait_for(f"{ROWS} > 0")
            assert browser.evaluate("document.getElementById('signin').hidden") is True

            # The API docs of every service, with every other host unresolvable.
            for name, url in urls.items():
                for page, ready in (
                    ("/docs", "document.querySelectorAll('.opblock').length > 0"),
                    ("/redoc", "document.querySelectorAll('[role=menuitem], li[data-item-id]').length > 0"),
                ):
                    while not browser.events.empty():
                        browser.events.get_nowait()
                    browser.open(f"{url}{page}", width=1280, height=800, network=True)
                    browser.wait_for(ready, timeout=60)
                    requested = _requested_urls(browser)
                    outside = [u for u in requested if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]
                    assert requested and not outside, (name, page, outside)
        finally:
            browser.close()

    lines = [line for log in tmp_path.glob("*.log") for line in log.read_text().splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"a log line that is not JSON: {line}") from None
    messages = [entry["msg"] for entry in parsed]
    assert any("Started server process" in m for m in messages)
    assert any("Application startup complete" in m for m in messages)
    assert any(entry.get("path") == "/v1/dashboard" for entry in parsed)  # the access lines are there
    secret = viewer.split("_", 2)[2]
    assert not any(secret in line for line in lines)
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
