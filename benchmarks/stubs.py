"""In-memory stand-ins for the AWS clients, so benchmarks time our code and nothing else."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KEY_ITEM = json.loads((ROOT / "benchmarks" / "key_item.json").read_text())
COMPLETION = json.dumps(
    {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "underlying",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello! How can I help?"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20},
    }
).encode()


class FakeDynamoDB:
    def __init__(self) -> None:
        self.calls = 0

    def get_item(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        return {"Item": KEY_ITEM}

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        now = time.time() * 1000
        return {"Attributes": {"req_tat": {"N": str(now + 700)}, "tok_tat": {"N": str(now + 900)}}}

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        return {}


class FakeSageMakerRuntime:
    def invoke_endpoint(self, **_: Any) -> dict[str, Any]:
        return {"Body": io.BytesIO(COMPLETION), "ContentType": "application/json"}
