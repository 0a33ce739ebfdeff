"""events/*.json: the same files `sam local invoke -e` uses."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[2] / "events"

# The key every sample event carries. Obviously fake; tests seed it with AccountAdmin(secret=...).
EXAMPLE_KEY = "sk-spark-example-key-for-local-tests-0000000000"
EXAMPLE_REVOKED_KEY = "sk-spark-example-revoked-key-for-local-tests-000"


def load_event(name: str) -> dict[str, Any]:
    """load_event('chat/post-chat') -> a fresh copy of events/chat/post-chat.json."""
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))
