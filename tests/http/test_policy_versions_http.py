"""Two policy files in the policy directory, through the real services: ingest and the fold choose the
same version by the Beijing date, a channel added by the later file is refused before its date and
scored after, ledgers name the version of their period, and the projector never stops."""

from datetime import date

import yaml

from shared.domain.policy import parse_policy
from tests.domain.versions import BASE, later_policy
from tests.support import factories as f
from tests.support.harness import running_kaohe

JULY = later_policy(version="2026.2", effective_from=date(2026, 7, 1), points={"S4": 60}, state_council=True)


def _policy_dir(tmp_path):
    (tmp_path / "2026.yaml").write_text(yaml.safe_dump(BASE, allow_unicode=True), encoding="utf-8")
    document = JULY.document.model_dump(mode="json", exclude_none=True)
    (tmp_path / "2026-07.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return tmp_path


async def test_two_versions_side_by_side(database_url, tmp_path):
    async with running_kaohe(database_url, KAOHE_POLICY_DIR=str(_policy_dir(tmp_path))) as kaohe:
        await f.given(
            kaohe,
            f.unit_registered("U1"),
            *[f.item_submitted(f"I{n}", "U1", at="2026-06-20T10:00:00+08:00") for n in range(4)],
        )
        late_june = "2026-06-30T23:30:00+08:00"  # 15:30 UTC
        early_july = "2026-06-30T16:30:00+00:00"  # 00:30 on 1 July in Beijing
        problem = await f.refused(kaohe, f.item_adopted("I0", "state_council", at=late_june), 422, "unknown_channel")
        assert problem["errors"] == [{"loc": ["body", "data", "channel"], "msg": problem["detail"]}]
        await f.post(kaohe, f.item_adopted("I1", "city", at=late_june))
        await f.post(kaohe, f.item_adopted("I2", "city", at=early_july))
        await f.post(kaohe, f.item_adopted("I3", "state_council", at=early_july))
        await kaohe.settled()

        june = await kaohe.unit_ledger("U1", period="2026-Q2")
        july = await kaohe.unit_ledger("U1", period="2026-Q3")
        assert june["policy_version"] == "2026.1" and july["policy_version"] == "2026.2"
        assert [(e["clause"], e["points"], e["policy_version"]) for e in june["entries"]] == [("S4", 50, "2026.1")]
        assert [(e["clause"], e["points"], e["reward_yuan"]) for e in july["entries"]] == [
            ("S4", 60, "100.00"),
            ("S11", 200, "800.00"),
        ]
        ranking = await kaohe.ranking(period="2026-Q3")
        assert ranking["policy_version"] == "2026.2"
        assert ranking["rows"][0]["adopted_by_channel"]["state_council"] == 1
        assert "state_council" not in (await kaohe.ranking(period="2026-Q2"))["rows"][0]["adopted_by_channel"]

        status = (await kaohe.scoring.get("/v1/projections/status")).json()
        assert status["projector"] == "projecting" and status["lag_events"] == 0, status
        listed = (await kaohe.scoring.get("/v1/policies")).json()
        assert [p["version"] for p in listed] == ["2026.1", "2026.2"]


async def test_the_served_policy_document_is_the_file_format(kaohe):
    served = (await kaohe.scoring.get("/v1/policies/2026.1")).json()
    assert served == yaml.safe_load(yaml.safe_dump(served))
    again = parse_policy(served).document.model_dump(mode="json", exclude_none=True)
    assert again == served
    assert parse_policy(BASE).document.model_dump(mode="json", exclude_none=True) == served
