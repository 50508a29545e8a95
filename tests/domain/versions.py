"""Two versions of the rulebook for the tests: the repository's 2026 file and a later one made from it."""

import copy
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from shared.domain.policy import Policy, PolicySet, parse_policy
from shared.settings import REPO_ROOT

SHANGHAI = ZoneInfo("Asia/Shanghai")
BASE: dict[str, Any] = yaml.safe_load((REPO_ROOT / "policies" / "2026.yaml").read_text(encoding="utf-8"))


def base_policy() -> Policy:
    return parse_policy(copy.deepcopy(BASE))


def later_policy(
    *, version: str, effective_from: date, points: dict[str, int] | None = None, state_council: bool = False
) -> Policy:
    """The 2026 rulebook with other points per clause, and optionally a 国务院办公厅 channel."""
    document = copy.deepcopy(BASE)
    document["version"], document["effective_from"] = version, effective_from.isoformat()
    for clause in document["clauses"]:
        if clause["id"] in (points or {}):
            clause["points"] = points[clause["id"]]  # type: ignore[index]
    if state_council:
        document["clauses"] += [
            {"id": "S11", "source": "新增", "points": 200, "text": "被国务院办公厅信息刊物采用单条计200分"},
            {"id": "R9", "source": "新增", "yuan": "800.00", "text": "被国务院办公厅信息刊物采用每条奖励800元"},
        ]
        document["channels"]["state_council"] = {
            "name": "国务院办公厅刊物",
            "short": "国办",
            "kinds": {"single": {"points": "S11", "reward": "R9"}},
        }
    return parse_policy(document)


def policy_set(*policies: Policy) -> PolicySet:
    return PolicySet(list(policies), SHANGHAI)
