"""Property: what-if folded from the projection's state as of just before the period's first possible
line (POST /v1/what-if) answers exactly what folding the whole log answers: same rows, points, ranks.

The logs are tests/http/test_fold_properties.py's random valid sequences (its Model and STEPS), plus
solicitations issued and closed (D7 falls in the deadline's month), posted through the real apps.
"""

import copy
import os

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from services.scoring.whatif import compare, proposed_policy, restore_point
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
