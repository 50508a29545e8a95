"""Property: what-if folded from the projection's state as of just before the period's first possible
line (POST /v1/what-if) answers exactly what folding the whole log answers: same rows, points, ranks.

The logs are tests/http/test_fold_properties.py's random valid sequences (its Model and STEPS), plus
solicitations issued and closed (D7 falls in the deadline's month), posted through the real apps.
"""

import copy
import os

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from services.scoring.log_reader import stream_log
from services.scoring.whatif import NEEDED, bounds, compare, proposed_policy, restore_point
from shared.db import connect_raw
from shared.domain.periods import parse_period
from tests.http.test_fold_properties import POLICIES, STEPS, TIMES, ZONE, Model
from tests.http.test_whatif import current_document
from tests.support import factories as f
from tests.support.database import create_database, drop_database, with_database
from tests.support.harness import running_kaohe

PERIODS = ("2026-Q1", "2026-03", "2026", "2026-Q2", "2025")


class SolicitingModel(Model):
    """The fold-property model, also issuing solicitations (to every unit) and closing them at their deadline."""

    open: list[tuple[str, str]]  # (solicitation, deadline) issued, not closed
    issued: int

    def _solicit(self, deadline: str) -> list[dict]:
        self.issued += 1
        sid = f"S{self.issued}"
        self.open.append((sid, deadline))
        body = f.event(
            "solicitation.issued", {"solicitation_id": sid, "title": "约稿", "deadline": deadline}, at=TIMES[0]
        )
        return [body]

    def _close(self, i: int) -> list[dict]:
        if not self.open:
            return []
        sid, deadline = self.open.pop(i % len(self.open))
        return [f.event("solicitation.closed", {"solicitation_id": sid}, at=deadline)]


SOLICITING = st.one_of(
    STEPS,
    st.tuples(st.just("solicit"), st.sampled_from(TIMES[1:])),
    st.tuples(st.just("close"), st.integers(min_value=0, max_value=5)),
)


def changed_numbers(document: dict) -> dict:
    """The current rulebook with different points: every clause's points doubled (some signs kept)."""
    proposed = copy.deepcopy(document)
    proposed["version"] = "2027.0-draft"
    for clause in proposed["clauses"]:
        if isinstance(clause.get("points"), int):
            clause["points"] = clause["points"] * 2 + (1 if clause["points"] > 0 else -1 if clause["points"] < 0 else 0)
    return proposed


@settings(
    max_examples=int(os.environ.get("KAOHE_PROPERTY_EXAMPLES", 20)),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(steps=st.lists(SOLICITING, min_size=10, max_size=40))
async def test_the_checkpointed_what_if_equals_the_whole_log_what_if(pg_server, template_database, steps):
    model = SolicitingModel()
    model.open, model.issued = [], 0
    setup = model.register() + model.register() + model.register()
    name = await create_database(pg_server, template=template_database)
    url = with_database(pg_server, name)
    try:
        async with running_kaohe(url, KAOHE_PROJECTOR_BATCH=3, KAOHE_FOLD_CACHE=1) as kaohe:
            await f.given(kaohe, *setup)
            for step in steps:
                if step[0] in ("batch", "restart"):
                    continue
                for body in model.event_for(step):
                    await f.post(kaohe, body)
            await kaohe.settled()
            document = changed_numbers(await current_document(kaohe))
            proposed = proposed_policy(document)
            conn = await connect_raw(url)  # the services' codecs (jsonb as dicts)
            try:
                head = await conn.fetchval("SELECT coalesce(max(global_position), 0) FROM eventlog.events")
                for label in PERIODS:
                    period = parse_period(label)
                    response = await kaohe.scoring.post("/v1/what-if", json={"policy": document, "period": label})
                    assert response.status_code == 200, response.text
                    checkpointed = response.json()
                    whole = await compare(
                        conn, policies=POLICIES, proposed=proposed, period=period, zone=ZONE, checkpointed=False
                    )
                    assert checkpointed == whole, label
                    as_of = await restore_point(conn, period=period, head=head, zone=ZONE)
                    changed = sum(row["change"] != 0 for row in whole["rows"])
                    event(
                        f"{label}: restored from {as_of * 4 // max(head, 1)}/4 of the log, units changed: {changed > 0}"
                    )
            finally:
                await conn.close()
    finally:
        await drop_database(pg_server, name)


async def test_late_records_reopens_assessments_and_revocations_after_the_period(kaohe, database_url):
    """The shortcut on a log made to need it: after February's events come events dated outside
    February (left out of the fold) and events that still change February's lines: an adoption
    recorded late of an item submitted (and dated) later, a late submission that changes February's
    counts after its close, a reopen and a second close, assessments, a dispute upheld by revocation,
    revocations of an in-period and of a left-out adoption."""
    register = [f.unit_registered(u, at="2026-01-02T10:00:00+08:00") for u in ("U0", "U1", "U2")]
    targets = [f.target_set(u, submissions=1, adoptions=1) for u in ("U0", "U1", "U2")]
    feb_adoption = f.item_adopted("I1", "city", at="2026-02-10T10:00:00+08:00")
    april_adoption = f.item_adopted("I2", "city", at="2026-04-10T10:00:00+08:00")
    criticized = f.criticized("U2", at="2026-02-20T10:00:00+08:00")
    log = [
        *register,
        *targets,
        f.item_submitted("I0", "U0", at="2026-01-10T10:00:00+08:00"),
        f.item_submitted("I1", "U1", at="2026-02-05T10:00:00+08:00"),
        feb_adoption,
        criticized,
        f.month_closed(2026, 1),
        f.month_closed(2026, 2),
        # after the period
        f.item_submitted("I2", "U2", at="2026-04-02T10:00:00+08:00"),
        april_adoption,
        f.item_endorsed("I2", "city", at="2026-04-12T10:00:00+08:00"),
        f.item_submitted("I3", "U0", at="2026-05-02T10:00:00+08:00"),
        f.item_adopted("I3", "province", contributors=[{"unit_id": "U1"}], at="2026-02-25T10:00:00+08:00"),
        f.item_submitted("I4", "U2", at="2026-02-26T10:00:00+08:00"),
        f.month_reopened(2026, 2, at="2026-05-03T10:00:00+08:00"),
        f.month_closed(2026, 2, at="2026-05-04T10:00:00+08:00"),
        f.assessed("U1", "adequate", year=2026, at="2026-06-01T10:00:00+08:00"),
        f.assessed("U2", "inadequate", year=2025, at="2026-01-20T10:00:00+08:00"),
        f.deduction_disputed("U2", criticized["event_id"], at="2026-05-05T10:00:00+08:00"),
        f.dispute_resolved("U2", criticized["event_id"], "revoked", at="2026-05-06T10:00:00+08:00"),
        f.revoked(feb_adoption["event_id"], at="2026-05-07T10:00:00+08:00"),
        f.revoked(april_adoption["event_id"], at="2026-05-08T10:00:00+08:00"),
    ]
    for body in log:
        await f.post(kaohe, body)
    await kaohe.settled()
    document = changed_numbers(await current_document(kaohe))
    proposed = proposed_policy(document)
    conn = await connect_raw(database_url)
    try:
        head = await conn.fetchval("SELECT max(global_position) FROM eventlog.events")
        for label in ("2026-02", "2026-Q1", "2026", "2025"):
            period = parse_period(label)
            response = await kaohe.scoring.post("/v1/what-if", json={"policy": document, "period": label})
            assert response.status_code == 200, response.text
            whole = await compare(
                conn, policies=POLICIES, proposed=proposed, period=period, zone=ZONE, checkpointed=False
            )
            assert response.json() == whole, label
            assert any(row["change"] for row in whole["rows"]), label
        # the shortcut was taken: of the events after February's restore point, some were left out
        february = parse_period("2026-02")
        after = await restore_point(conn, period=february, head=head, zone=ZONE)
        reading = stream_log(conn, zone=ZONE, after=after, until=head, where=NEEDED, args=bounds(february, ZONE))
        folded = sum([len(events) async for events in reading])
        assert 0 < folded < head - after
    finally:
        await conn.close()
