"""The rulebook as data: every clause of rules.md with its number, validated at start-up."""

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from services.scoring.app import create_app as create_scoring
from shared.domain.policy import PolicyError
from shared.policy_files import load_policies
from shared.settings import Settings
from tests.support.harness import settings_for

ZONE = Settings().zone

POLICY_DIR = Settings().policy_dir

# rules.md, the three tables: clause → points (signed) or yuan.
RULEBOOK_POINTS = {
    "S1": 20,
    "S2": 20,
    "S3": 10,
    "S3b": 5,
    "S3c": 10,
    "S4": 50,
    "S4b": 100,
    "S5": 100,
    "S5b": 300,
    "S6": 10,
    "S7": 5,
    "S8": 20,
    "S9": 40,
    "S10": 80,
    "D1": -20,
    "D2": -30,
    "D4": -100,
    "D4b": -200,
    "D5": -50,
    "D5b": -100,
    "D6": -30,
    "D6b": -60,
    "D7": -50,
    "D8": -100,
}
RULEBOOK_YUAN = {
    "R1": "20",
    "R1b": "10",
    "R1c": "20",
    "R2": "10",
    "R3": "100",
    "R4": "100",
    "R4b": "300",
    "R5": "200",
    "R5b": "500",
    "R6": "100",
    "R7": "300",
    "R8": "500",
}


def test_the_policy_file_holds_every_clause_with_the_rulebooks_numbers():
    policy = load_policies(POLICY_DIR, ZONE).current
    for clause_id, points in RULEBOOK_POINTS.items():
        assert policy.clauses[clause_id].points == points, clause_id
        assert policy.clauses[clause_id].text, clause_id
    for clause_id, yuan in RULEBOOK_YUAN.items():
        assert policy.clauses[clause_id].yuan == Decimal(yuan), clause_id
    assert policy.false_information_range == (50, 100)
    assert policy.document.thresholds.exclusion == 100 and policy.document.thresholds.criticism == 200
    assert policy.accepted_kinds["province"] == ("single", "research")
    assert policy.accepted_kinds["district_bulletin"] == ("research",)
    assert policy.adoption[("district_bulletin", "research")].points == 0


def _broken_copy(tmp_path: Path, mutate) -> Path:
    document = yaml.safe_load((POLICY_DIR / "2026.yaml").read_text(encoding="utf-8"))
    mutate(document)
    (tmp_path / "2026.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d["channels"]["city"]["kinds"]["single"].update(points="S99"), "channels.city.kinds.single.points"),
        (lambda d: d["clauses"][3].update(points="many"), "clauses.3.points"),
        (lambda d: d.pop("thresholds"), "thresholds"),
        (lambda d: d["late_reported"]["city"].pop("missed"), "late_reported.city"),
    ],
)
def test_a_bad_policy_file_is_refused_naming_the_field(tmp_path, mutate, field):
    with pytest.raises(PolicyError, match=field.replace(".", r"\.")):
        load_policies(_broken_copy(tmp_path, mutate), ZONE)


async def test_a_bad_policy_file_stops_the_service(tmp_path, database_url):
    directory = _broken_copy(tmp_path, lambda d: d["endorsements"]["city"].update(points="S99"))
    app = create_scoring(settings_for(database_url, KAOHE_POLICY_DIR=str(directory)))
    with pytest.raises(PolicyError, match="endorsements"):
        async with app.router.lifespan_context(app):
            pass


async def test_policies_are_served_as_data(kaohe):
    listing = (await kaohe.scoring.get("/v1/policies")).json()
    assert [p["version"] for p in listing] == ["2026.1"] and listing[0]["current"] is True
    document = (await kaohe.scoring.get("/v1/policies/2026.1")).json()
    s4 = next(c for c in document["clauses"] if c["id"] == "S4")
    assert s4["points"] == 50 and "市政府办公厅" in s4["text"]
    r5b = next(c for c in document["clauses"] if c["id"] == "R5b")
    assert r5b["yuan"] == "500.00"
    missing = await kaohe.scoring.get("/v1/policies/1999.1")
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_policy"
