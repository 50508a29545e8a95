"""Reading the policy directory: every `*.yaml` a version of the rulebook (shared/domain/policy.py)."""

from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from shared.domain.policy import PolicyError, PolicySet, parse_policy


def load_policies(directory: Path, zone: ZoneInfo) -> PolicySet:
    """Load and validate every `*.yaml` in the directory; raise PolicyError naming the file and field."""
    policies = []
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise PolicyError(f"{path.name}: not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise PolicyError(f"{path.name}: the document must be a mapping")
        policies.append(parse_policy(raw, source=path.name))
    return PolicySet(policies, zone)
