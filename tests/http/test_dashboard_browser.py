"""The dashboard in a real headless Chromium against real uvicorn servers on a fresh database loaded
with the demo district's 2025: ranking rows appear, the page refreshes itself when the projection
moves, and a screenshot goes to docs/dashboard.png."""

import asyncio
import time
import uuid
from pathlib import Path

import httpx

from tests.support.cdp import Browser, ensure_chromium
from tests.support.harness import ADMIN_KEY
from tests.support.servers import running

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "dashboard.png"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


SERVER_ENV = {
    "KAOHE_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
    "KAOHE_PUBLIC_READS": "true",
    "KAOHE_PROJECTOR_POLL_SECONDS": "0.5",
}


async def _settled(scoring: httpx.AsyncClient) -> int:
    deadline = time.monotonic() + 60
    while True:
        status = (await scoring.get("/v1/projections/status")).json()
        if status["checkpoint_position"] >= status["head_position"]:
            return status["checkpoint_position"]
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.2)


async def _load_demo(ingest: httpx.AsyncClient) -> None:
    try:
        from tools.demo import generate, load
    except ImportError:  # the demo generator is another module's; a small district of our own will do
        generate = load = None
    if generate is not None:
        await load(ingest, generate(seed=2026, units=30, officers=90, year=2025), 500)
        return
    from tests.support.reporting_data import event, items_adopted, officer, unit

    at = "2025-01-02T09:00:00+08:00"
    events = [unit(f"D{n}", name, at=at) for n, name in enumerate(("区发改委", "区教育局", "区财政局", "区民政局"))]
    events += [unit(f"T{n}", name, "township", at=at) for n, name in enumerate(("城关街道", "东城街道", "青山镇"))]
    events += [officer(f"O{n}", f"D{n}", name, at=at) for n, name in enumerate(("张明", "李华", "王芳", "赵强"))]
    for n, (unit_id, count) in enumerate((("D0", 5), ("D1", 3), ("T0", 4), ("T1", 2), ("D2", 1))):
        events += items_adopted(
            unit_id, f"i{n}-", count, authors=(f"O{n}",) if unit_id[0] == "D" else (), at="2025-11-12T10:00:00+08:00"
        )
    events.append(event("item.adopted", {"item_id": "i0-1", "channel": "city"}, "2025-11-13T10:00:00+08:00"))
    response = await ingest.post("/v1/events/batch", json={"events": events})
    assert response.status_code == 201, response.text


ROW_IDS = "[...document.querySelectorAll('#{box} .board.{kind} tbody tr')].map(tr => tr.dataset.id)"


async def test_dashboard_renders_refreshes_and_is_photographed(database_url, tmp_path):
    chromium = await asyncio.to_thread(ensure_chromium)
    with running(database_url, tmp_path, env=SERVER_ENV) as servers:
        urls = {name: server.url for name, server in servers.items()}
        async with (
            httpx.AsyncClient(base_url=urls["ingest"], headers=AUTH, timeout=60) as ingest,
            httpx.AsyncClient(base_url=urls["scoring"], headers=AUTH, timeout=60) as scoring,
            httpx.AsyncClient(base_url=urls["reporting"], timeout=60) as reporting,
        ):
            await _load_demo(ingest)
            position = await _settled(scoring)
            expected = (await reporting.get("/v1/dashboard")).json()  # anonymous: public reads
            # The demo is 2025; "now" has no data, so the page falls back to the latest quarter with data.
            assert expected["chosen_by"] == "latest_data" and expected["position"] == position
            browser = Browser(chromium, str(tmp_path / "chromium"))
            try:
                browser.open(f"{urls['reporting']}/?refresh=1", width=1920, height=1080)
                browser.wait_for("document.querySelectorAll('#quarter-boards tbody tr').length > 0")
                assert browser.evaluate("document.querySelector('h1').textContent") == "政务信息工作考核"
                assert (
                    browser.evaluate("document.getElementById('quarter-name').textContent")
                    == expected["quarter"]["name"]
                )
                for box, board in (("quarter-boards", expected["quarter"]), ("year-boards", expected["year"])):
                    for category in board["categories"]:
                        shown = browser.evaluate(ROW_IDS.format(box=box, kind=category["kind"]))
                        assert shown == [row["unit_id"] for row in category["rows"]], (box, category["kind"])
                top = expected["year"]["categories"][0]["rows"][0]
                first_row = browser.evaluate(
                    f"document.querySelector('#year-boards .board.{expected['year']['categories'][0]['kind']} "
                    "tbody tr').innerText"
                )
                assert top["unit_name"] in first_row and str(top["net_points"]) in first_row
                assert browser.evaluate("document.querySelectorAll('#chart svg rect[data-id]').length") > 0
                assert browser.evaluate("document.querySelectorAll('#officers tbody tr').length") == len(
                    expected["officers"]["rows"]
                )
                # the open 约稿 (the demo leaves one open), with its deadline
                shown = browser.evaluate("[...document.querySelectorAll('#solicitations li')].map(li => li.dataset.id)")
                assert shown == [s["solicitation_id"] for s in expected["solicitations"]] and shown
                assert browser.evaluate("document.getElementById('solicit-panel').hidden") is False
                # a board longer than the screen shows its first page of whole rows and says so
                departments = expected["quarter"]["categories"][0]
                visible = browser.evaluate(
                    f"[...document.querySelectorAll('#quarter-boards .board.{departments['kind']} tbody tr')]"
                    ".filter(tr => !tr.hidden).map(tr => tr.dataset.id)"
                )
                assert visible == [row["unit_id"] for row in departments["rows"][: len(visible)]] and visible
                marker = browser.evaluate(
                    f"document.querySelector('#quarter-boards .board.{departments['kind']} .page').textContent"
                )
                assert marker == (
                    ""
                    if len(visible) == len(departments["rows"])
                    else f"1/{-(-len(departments['rows']) // len(visible))}"
                )
                # every row that is shown fits inside the screen
                assert browser.evaluate(
                    "[...document.querySelectorAll('tbody tr')].filter(tr => !tr.hidden)"
                    ".every(tr => tr.getBoundingClientRect().bottom <= innerHeight)"
                )
                await asyncio.sleep(1.0)  # fonts and the clock settle before the picture
                SCREENSHOT.write_bytes(browser.screenshot())

                # A new adoption: the open page polls, gets 200 instead of 304 and redraws the row.
                last = expected["quarter"]["categories"][0]["rows"][-1]
                quarter_end = {"Q1": "03", "Q2": "06", "Q3": "09", "Q4": "12"}[expected["quarter"]["period"][-2:]]
                at = f"{expected['quarter']['period'][:4]}-{quarter_end}-20T10:00:00+08:00"
                item_id = f"browser-{uuid.uuid4().hex[:8]}"
                response = await ingest.post(
                    "/v1/events/batch",
                    json={
                        "events": [
                            {
                                "type": "item.submitted",
                                "occurred_at": at,
                                "data": {
                                    "item_id": item_id,
                                    "unit_id": last["unit_id"],
                                    "title": "浏览器测试信息",
                                    "kind": "single",
                                },
                            },
                            {
                                "type": "item.adopted",
                                "occurred_at": at,
                                "data": {"item_id": item_id, "channel": "city"},
                            },
                        ]
                    },
                )
                assert response.status_code == 201, response.text
                moved = await _settled(scoring)
                browser.wait_for(f"document.body.dataset.position === '{moved}'", timeout=30)
                # it was told by the ranking stream, not by its next poll
                assert browser.evaluate("document.body.dataset.updates") == "stream"
                after = (await reporting.get("/v1/dashboard")).json()
                row = next(
                    r for c in after["quarter"]["categories"] for r in c["rows"] if r["unit_id"] == last["unit_id"]
                )
                assert row["net_points"] > last["net_points"]
                cell = browser.evaluate(
                    f"document.querySelector('#quarter-boards tr[data-id=\"{last['unit_id']}\"] td.points').textContent"
                )
                assert cell == str(row["net_points"])
            finally:
                browser.close()
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
