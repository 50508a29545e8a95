"""The dashboard signs in without opening reads to everyone: the page is a sign-in form for a browser
with no key, a viewer key reads its data, a person gets Chinese pages where an API client gets
problem+json, and `kaohe keys create --role viewer --link` prints a wall-screen link."""

import re

from shared.auth import create_key
from shared.db import make_engine
from tests.support.harness import running_kaohe

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "Authorization": ""}


async def _viewer_key(database_url: str) -> str:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            return await create_key(conn, role="viewer", name="wall screen")
    finally:
        await engine.dispose()


async def test_a_viewer_key_reads_the_dashboard_and_a_person_gets_chinese_pages(database_url):
    async with running_kaohe(database_url, key=None) as closed:
        viewer = await _viewer_key(database_url)
        page = await closed.reporting.get("/", headers=BROWSER)
        assert page.status_code == 200 and "登录看板" in page.text and 'src="static/signin.js"' in page.text
        script = await closed.reporting.get("/static/signin.js")
        assert script.status_code == 200 and "sessionStorage" in script.text and "replaceState" in script.text

        # the page's own fetch with the viewer's key
        data = await closed.reporting.get("/v1/dashboard", headers={"Authorization": f"Bearer {viewer}"})
        assert data.status_code == 200 and data.json()["title"] == "政务信息工作考核"
        # called with the key, the page comes with its data inline
        page = await closed.reporting.get("/", headers={"Authorization": f"Bearer {viewer}"})
        assert not re.search(r'id="dashboard-data" type="application/json">null<', page.text)

        # a person: Chinese HTML with the same status; an API client: problem+json
        for path, status in (("/v1/dashboard", 401), ("/v1/bulletins/2026-Q1?format=html", 401), ("/nowhere", 404)):
            person = await closed.reporting.get(path, headers=BROWSER)
            assert person.status_code == status and person.headers["content-type"].startswith("text/html"), path
            assert '<html lang="zh-CN">' in person.text and ("需要登录" in person.text or "页面不存在" in person.text)
            client = await closed.reporting.get(path)
            assert client.status_code == status and client.headers["content-type"] == "application/problem+json"
        person = await closed.reporting.get("/", params={"period": "2026-13"}, headers=BROWSER)
        assert person.status_code == 422 and "请求参数有误" in person.text
        forbidden = await closed.reporting.get(
            "/v1/selection/2026", headers={**BROWSER, "Authorization": f"Bearer {viewer}"}
        )
        assert forbidden.status_code in (200, 403)
        if forbidden.status_code == 403:
            assert "无权访问" in forbidden.text
