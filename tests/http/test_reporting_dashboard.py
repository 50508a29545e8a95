"""The dashboard page and its JSON: periods chosen, rankings by category, caching, public reads."""

import json
import re

from tests.support.harness import running_kaohe
from tests.support.reporting_data import adopt, event, item, items_adopted, load, officer, unit

Q3_2025, Q4_2025 = "2025-08-12T10:00:00+08:00", "2025-11-20T10:00:00+08:00"


async def _scenario(kaohe) -> None:
    await load(
        kaohe,
        [
            unit("U1", "区发改委", at="2025-01-02T09:00:00+08:00"),
            unit("U2", "</script><script>alert(1)</script>", at="2025-01-02T09:00:00+08:00"),
            unit("T1", "城关镇", "township", at="2025-01-02T09:00:00+08:00"),
            officer("O1", "U1", "张明", at="2025-01-02T09:00:00+08:00"),
            *items_adopted("U1", "u", 2, "city", authors=("O1",), at=Q3_2025),  # 100 in Q3
            *items_adopted("T1", "t", 3, at=Q4_2025),  # 30 in Q4
            item("u9", "U2", at=Q4_2025),
            adopt("u9", "district_daily", at=Q4_2025),  # 10 in Q4
        ],
    )


async def _dashboard(kaohe, **params) -> dict:
    response = await kaohe.reporting.get("/v1/dashboard", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _rows(board, kind):
    [category] = [c for c in board["categories"] if c["kind"] == kind]
    return [(r["rank"], r["unit_id"], r["net_points"]) for r in category["rows"]]


async def test_requested_quarter_and_its_year(kaohe):
    await _scenario(kaohe)
    body = await _dashboard(kaohe, period="2025-Q4")
    assert (body["title"], body["chosen_by"]) == ("政务信息工作考核", "requested")
    assert (body["quarter"]["period"], body["quarter"]["name"]) == ("2025-Q4", "2025年第四季度")
    assert (body["year"]["period"], body["year"]["name"]) == ("2025", "2025年度")
    assert _rows(body["quarter"], "department") == [(1, "U2", 10), (2, "U1", 0)]
    assert _rows(body["year"], "department") == [(1, "U1", 100), (2, "U2", 10)]
    assert _rows(body["year"], "township") == [(1, "T1", 30)]
    assert [(r["unit_id"], r["net_points"]) for r in body["year"]["overall"]] == [("U1", 100), ("T1", 30), ("U2", 10)]
    assert body["quarter"]["totals"]["submitted"] == 4 and body["year"]["totals"]["adopted"] == 6
    assert body["officers"]["rows"] == [
        {
            "rank": 1,
            "officer_id": "O1",
            "officer_name": "张明",
            "unit_name": "区发改委",
            "net_points": 100,
            "adopted": 2,
        }
    ]
    assert body["position"] == await kaohe.settled()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", body["updated_at"])


async def test_a_year_shows_its_latest_quarter_with_data(kaohe):
    await _scenario(kaohe)
    body = await _dashboard(kaohe, period="2025")
    assert (body["quarter"]["period"], body["year"]["period"]) == ("2025-Q4", "2025")
    empty = await _dashboard(kaohe, period="2024")
    assert (empty["quarter"]["period"], empty["year"]["categories"]) == ("2024-Q4", [])


async def test_without_a_period_and_no_data_this_year_the_latest_data_is_shown(kaohe):
    await _scenario(kaohe)  # everything happened in 2025, before this test's "now"
    body = await _dashboard(kaohe)
    assert (body["quarter"]["period"], body["year"]["period"], body["chosen_by"]) == ("2025-Q4", "2025", "latest_data")


async def test_only_quarters_and_years(kaohe):
    response = await kaohe.reporting.get("/v1/dashboard", params={"period": "2025-H1"})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_period")
    response = await kaohe.reporting.get("/", params={"period": "2025-13"})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_period")


async def test_page_carries_its_first_answer_safely(kaohe):
    await _scenario(kaohe)
    response = await kaohe.reporting.get("/", params={"period": "2025-Q4", "refresh": 3})
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert "<title>政务信息工作考核</title>" in page
    assert 'src="static/dashboard.js"' in page and 'href="static/dashboard.css"' in page
    assert "alert(1)" in page and "<script>alert(1)" not in page  # a unit's name cannot close the data element
    config = json.loads(re.search(r'id="dashboard-config" type="application/json">(.*?)</script>', page)[1])
    assert config == {"endpoint": "v1/dashboard?period=2025-Q4", "refresh_seconds": 3, "timezone": "Asia/Shanghai"}
    data = json.loads(re.search(r'id="dashboard-data" type="application/json">(.*?)</script>', page)[1])
    assert data == await _dashboard(kaohe, period="2025-Q4")
    again = await kaohe.reporting.get(
        "/", params={"period": "2025-Q4", "refresh": 3}, headers={"If-None-Match": response.headers["etag"]}
    )
    assert (again.status_code, again.content) == (304, b"")


async def test_poller_gets_304_until_the_projection_moves(kaohe):
    await _scenario(kaohe)
    first = await kaohe.reporting.get("/v1/dashboard", params={"period": "2025-Q4"})
    etag = first.headers["etag"]
    same = await kaohe.reporting.get("/v1/dashboard", params={"period": "2025-Q4"}, headers={"If-None-Match": etag})
    assert same.status_code == 304
    await load(kaohe, items_adopted("U1", "late", 1, at=Q4_2025))
    watch = kaohe.apps["reporting"].state.position_watch
    async with watch.changed:
        await watch.changed.wait_for(lambda: watch.version.endswith(f":{first.json()['position'] + 2}"))
    moved = await kaohe.reporting.get("/v1/dashboard", params={"period": "2025-Q4"}, headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["etag"] != etag
    assert _rows(moved.json()["quarter"], "department") == [(1, "U1", 10), (1, "U2", 10)]


async def test_static_files_have_etags(kaohe):
    script = await kaohe.reporting.get("/static/dashboard.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cache-control"] == "no-cache" and "If-None-Match" in script.text
    again = await kaohe.reporting.get("/static/dashboard.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304
    style = await kaohe.reporting.get("/static/dashboard.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert (await kaohe.reporting.get("/static/secret.py")).status_code == 404


async def test_public_reads_open_rankings_bulletins_and_the_dashboard_only(database_url):
    async with running_kaohe(database_url, key=None, KAOHE_PUBLIC_READS=True) as anonymous:
        for path in ("/", "/v1/dashboard", "/v1/rankings/units?period=2026", "/v1/bulletins/2026-Q1?format=html"):
            assert (await anonymous.reporting.get(path)).status_code == 200, path
        for path in ("/v1/selection/2026", "/v1/rewards?period=2026-H1"):
            assert (await anonymous.reporting.get(path)).status_code == 401, path
    async with running_kaohe(database_url, key=None) as closed:
        for path in ("/v1/dashboard", "/v1/bulletins/2026-Q1"):
            assert (await closed.reporting.get(path)).status_code == 401, path
        # The page is the sign-in form, with no data in it.
        page = await closed.reporting.get("/")
        assert page.status_code == 200 and 'id="signin"' in page.text and "登录看板" in page.text
        assert re.search(r'id="dashboard-data" type="application/json">null</script>', page.text)
        assert page.headers["cache-control"] == "no-store"


async def test_open_solicitations_and_their_deadlines(kaohe):
    """The wall shows the 约稿 still open, soonest deadline first, with how many asked units answered
    (counts, not names); a closed one is gone from it."""
    await _scenario(kaohe)

    def issued(sid: str, title: str, deadline: str, units: list[str]) -> dict:
        data = {"solicitation_id": sid, "title": title, "deadline": deadline, "unit_ids": units}
        return event("solicitation.issued", data, "2025-11-03T09:00:00+08:00")

    answer = item("a1", "U1", at="2025-11-04T10:00:00+08:00")
    answer["data"]["solicitation_id"] = "YG-LATE"
    await load(
        kaohe,
        [
            issued("YG-LATE", "关于冬季供暖保障工作的约稿", "2025-11-28T18:00:00+08:00", ["U1", "U2", "T1"]),
            issued("YG-SOON", "关于秋粮收储工作的约稿", "2025-11-10T09:30:00+08:00", ["T1"]),
            issued("YG-DONE", "关于防汛工作的约稿", "2025-11-05T18:00:00+08:00", ["U2"]),
            answer,
            event("solicitation.closed", {"solicitation_id": "YG-DONE"}, "2025-11-06T09:00:00+08:00"),
        ],
    )
    await kaohe.settled()
    board = await _dashboard(kaohe, period="2025-Q4")
    assert board["solicitations"] == [
        {
            "solicitation_id": "YG-SOON",
            "title": "关于秋粮收储工作的约稿",
            "deadline": "2025-11-10T01:30:00+00:00",
            "deadline_local": "11月10日 09:30",
            "asked": 1,
            "answered": 0,
        },
        {
            "solicitation_id": "YG-LATE",
            "title": "关于冬季供暖保障工作的约稿",
            "deadline": "2025-11-28T10:00:00+00:00",
            "deadline_local": "11月28日 18:00",
            "asked": 3,
            "answered": 1,
        },
    ]
    page = (await kaohe.reporting.get("/", params={"period": "2025-Q4"})).text
    assert 'id="solicit-panel" hidden' in page and "关于秋粮收储工作的约稿" in page  # shown by the script
    script = (await kaohe.reporting.get("/static/dashboard.js")).text
    assert "function renderSolicitations()" in script
