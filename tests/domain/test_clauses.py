"""Every clause of the rulebook with the seed's numbers, on the pure domain (rules.md tables)."""

import pytest

from shared.domain.decide import Refusal
from tests.domain.harness import Domain
from tests.support import factories as f

AUTHORS = ("O1", "O2", "O3")
SPLIT_OVER_3 = {
    "10.00": ("3.34", "3.33", "3.33"),
    "20.00": ("6.68", "6.66", "6.66"),
    "100.00": ("33.34", "33.33", "33.33"),
    "200.00": ("66.68", "66.66", "66.66"),
    "300.00": ("100.00", "100.00", "100.00"),
    "500.00": ("166.68", "166.66", "166.66"),
}
ADOPTIONS = [  # channel, kind, clause, points, yuan
    ("district_zhengwu", "single", "S3", 10, "20.00"),
    ("district_zhengwu", "brief", "S3b", 5, "10.00"),
    ("district_daily", "single", "S3c", 10, "20.00"),
    ("district_daily", "brief", "S3c", 10, "20.00"),
    ("city", "single", "S4", 50, "100.00"),
    ("city", "research", "S4b", 100, "300.00"),
    ("province", "single", "S5", 100, "200.00"),
    ("province", "research", "S5b", 300, "500.00"),
    ("website_today", "single", "S7", 5, "10.00"),
    ("website_today", "brief", "S7", 5, "10.00"),
    ("district_bulletin", "research", "R3", 0, "100.00"),
]
ENDORSEMENTS = [("district", "S8", 20, "100.00"), ("city", "S9", 40, "300.00"), ("province", "S10", 80, "500.00")]
LATE = [  # level, kind, clause, points
    ("province", "late", "D4", -100),
    ("province", "missed", "D4b", -200),
    ("province", "concealed", "D4b", -200),
    ("city", "late", "D5", -50),
    ("city", "missed", "D5b", -100),
    ("city", "concealed", "D5b", -100),
    ("district", "late", "D6", -30),
    ("district", "missed", "D6b", -60),
    ("district", "concealed", "D6b", -60),
]


def world(kind: str = "single") -> Domain:
    domain = Domain()
    domain.given(
        f.unit_registered("U1"),
        f.unit_registered("U2"),
        *(f.officer_registered(o, "U1") for o in AUTHORS),
        f.item_submitted("I1", "U1", kind=kind, authors=list(AUTHORS)),
    )
    return domain


@pytest.mark.parametrize("channel,kind,clause,points,yuan", ADOPTIONS)
def test_s3_to_s7_and_r1_to_r5_an_adoption_scores_for_the_unit_and_each_author(channel, kind, clause, points, yuan):
    domain = world(kind)
    domain.post(f.item_adopted("I1", channel))
    assert domain.ledger(unit_id="U1") == [(clause, points, yuan, AUTHORS, False)]
    for officer, share in zip(AUTHORS, SPLIT_OVER_3[yuan]):
        assert domain.ledger(officer_id=officer) == [(clause, points, share, AUTHORS, False)]


@pytest.mark.parametrize("level,clause,points,yuan", ENDORSEMENTS)
def test_s8_to_s10_and_r6_to_r8_each_endorsement_scores(level, clause, points, yuan):
    domain = world()
    domain.given(f.item_endorsed("I1", level), f.item_endorsed("I1", level))
    assert domain.ledger(unit_id="U1") == [(clause, points, yuan, AUTHORS, False)] * 2


def test_s1_and_d1_assessment():
    domain = world()
    domain.given(f.assessed("U1", "adequate"), f.assessed("U2", "inadequate"))
    assert domain.ledger(unit_id="U1") == [("S1", 20, "0.00", (), False)]
    assert domain.ledger(unit_id="U2") == [("D1", -20, "0.00", (), False)]
    with pytest.raises(Refusal) as refused:
        domain.post(f.assessed("U1", "inadequate"))
    assert (refused.value.status, refused.value.code) == (409, "already_assessed")


def test_s6_each_contributor_gets_10_plus_its_extra_and_no_money():
    domain = world()
    domain.post(f.item_adopted("I1", "city", contributors=[{"unit_id": "U2", "extra_points": 15}]))
    assert domain.ledger(unit_id="U2") == [("S6", 25, "0.00", (), False)]
    with pytest.raises(Refusal) as refused:
        domain.post(f.item_adopted("I1", "province", contributors=[{"unit_id": "U1"}]))
    assert refused.value.code == "contributor_is_owner"


def test_an_unaccepted_kind_is_refused_naming_what_the_channel_accepts():
    domain = world("brief")
    with pytest.raises(Refusal) as refused:
        domain.post(f.item_adopted("I1", "province"))
    assert (refused.value.status, refused.value.code) == (422, "kind_not_accepted_by_channel")
    assert "single, research" in refused.value.detail


def test_the_same_channel_and_issue_twice_is_a_duplicate():
    domain = world()
    domain.post(f.item_adopted("I1", "city", issue="5"))
    with pytest.raises(Refusal) as refused:
        domain.post(f.item_adopted("I1", "city", issue="5"))
    assert (refused.value.status, refused.value.code) == (409, "duplicate_adoption")
    domain.post(f.item_adopted("I1", "city", issue="6"))
    assert [line[0] for line in domain.ledger(unit_id="U1")] == ["S4", "S4"]


@pytest.mark.parametrize("points", [50, 75, 100])
def test_d3_false_information_deducts_what_the_office_sets(points):
    domain = world()
    domain.post(f.false_information("U1", points, responsible=["O1"]))
    assert domain.ledger(unit_id="U1") == [("D3", -points, "0.00", ("O1",), False)]
    assert domain.ledger(officer_id="O1") == [("D3", -points, "0.00", ("O1",), False)]


@pytest.mark.parametrize("points", [49, 101])
def test_d3_outside_50_to_100_is_refused(points):
    with pytest.raises(Refusal) as refused:
        world().post(f.false_information("U1", points))
    assert (refused.value.code, refused.value.loc) == ("points_out_of_range", ("data", "points"))


@pytest.mark.parametrize("level,kind,clause,points", LATE)
def test_d4_to_d6_late_missed_concealed_by_level(level, kind, clause, points):
    domain = world()
    domain.post(f.late_reported("U1", level, kind))
    assert domain.ledger(unit_id="U1") == [(clause, points, "0.00", (), False)]


def test_d7_and_d8():
    domain = world()
    domain.given(f.solicitation_missed("U1"), f.criticized("U2"))
    assert domain.ledger(unit_id="U1") == [("D7", -50, "0.00", (), False)]
    assert domain.ledger(unit_id="U2") == [("D8", -100, "0.00", (), False)]


def test_s2_d2_and_the_zero_line_at_a_month_close():
    domain = world()
    domain.given(
        f.target_set("U1", submissions=1, adoptions=1),
        f.target_set("U2", submissions=2, adoptions=0),
        f.unit_registered("U3"),
        f.target_set("U3", submissions=1, adoptions=1),
        f.item_adopted("I1", "city"),
        f.item_submitted("I3", "U3"),
        f.month_closed(2026, 3),
    )
    assert domain.ledger(unit_id="U1", period="2026-03")[-1][:2] == ("S2", 20)
    assert domain.ledger(unit_id="U2", period="2026-03") == [("D2", -30, "0.00", (), False)]
    assert domain.ledger(unit_id="U3", period="2026-03") == [("S2", 0, "0.00", (), False)]


def test_a_revocation_stops_a_line_counting_and_a_dispute_can_revoke_a_deduction():
    domain = world()
    adoption = f.item_adopted("I1", "city")
    deduction = f.criticized("U1")
    domain.given(adoption, deduction, f.revoked(adoption["event_id"]))
    domain.given(
        f.deduction_disputed("U1", deduction["event_id"]), f.dispute_resolved("U1", deduction["event_id"], "revoked")
    )
    assert [line[-1] for line in domain.ledger(unit_id="U1")] == [True, True]
    assert domain.totals("U1") == (0, 0, 0)
