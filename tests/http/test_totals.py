"""The running totals behind "now" rankings agree with the lines and facts they summarise."""

import pytest

from tools.demo import generate, load


@pytest.mark.parametrize("periods", [["2025", "2025-H1", "2025-H2", "2025-Q1", "2025-Q4", "2025-01", "2025-12"]])
async def test_rankings_from_totals_equal_rankings_recomputed_from_lines(kaohe, periods):
    summary = await load(kaohe.ingest, generate(units=12, officers=30, year=2025), batch=500)
    assert summary
    head = await kaohe.settled()
    for period in periods:
        for path in ("/v1/rankings/units", "/v1/rankings/officers"):
            now = (await kaohe.reporting.get(path, params={"period": period})).json()
            recomputed = (await kaohe.reporting.get(path, params={"period": period, "as_of_position": head})).json()
            assert now["position"] == recomputed["position"] == head
            assert now["rows"] == recomputed["rows"], (period, path)
            assert any(row["net_points"] for row in now["rows"])
