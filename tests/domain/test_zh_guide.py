"""The Chinese guide's example events are valid bodies (an office copies them as they are)."""

import json
import re

from shared.domain.events import EVENT_MODELS, new_event_adapter
from shared.settings import REPO_ROOT
from tools.cli import build_parser

GUIDE = REPO_ROOT / "docs" / "zh" / "guide.md"


def test_every_example_event_in_the_guide_is_valid():
    bodies = [json.loads(body) for body in re.findall(r"post '(\{.*?\})'", GUIDE.read_text(), re.S)]
    assert len(bodies) >= 15
    placeholder = "0b7f3c7e-5d4a-4a53-9a50-7c1f1f2f8a11"
    checked = set()
    for body in bodies:
        if body["type"] not in EVENT_MODELS:  # api.md's types another part of the system adds
            continue
        text = json.dumps(body, ensure_ascii=False).replace("录错事件的 event_id", placeholder)
        new_event_adapter.validate_python(json.loads(text.replace("扣分事件的 event_id", placeholder)))
        checked.add(body["type"])
    assert {"unit.registered", "item.adopted", "period.month-closed", "unit.dispute-resolved"} <= checked


def test_the_guides_commands_parse():
    for line in re.findall(r"^kaohe (.+?)(?:\s{2,}#.*)?$", GUIDE.read_text(), re.M):
        build_parser().parse_args(line.split())
