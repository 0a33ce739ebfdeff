"""One "Lambda instance" of test_metering_concurrency, run in a spawned process: the API app with
the production composition (sparkai.wiring, nothing overridden), the process's clock frozen.

A module of its own, importing nothing of sparkai at the top: spawn imports only this file before
`run`, so the clock is frozen before any sparkai module binds `time.time` as a default `clock=`
(the limiter's, the chat service's, the key cache's): every one of them then reads the frozen
instant, with no override of the wiring. Not a test file (pytest does not collect it).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

BARRIER_TIMEOUT = 120  # only so a broken worker fails the test instead of hanging it
MESSAGES = [{"role": "user", "content": "Count the ledger, please."}]


def _sse_usage(text: str) -> dict[str, Any]:
    """The `usage` of a stream's last data event (what an SDK reports for a streamed call)."""
    events = [
        json.loads(line.removeprefix("data: "))
        for line in text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    assert not any("error" in e for e in events), text
    (usage,) = [e["usage"] for e in events if e.get("usage")]
    return usage


def run(
    env: dict[str, str],
    frozen_at: float,
    secret: str,
    calls: list[tuple[str, str, bool]],
    max_tokens: int,
    start: Any,
    results: Any,
) -> None:
    """Make `calls` through the app once every worker is ready; put what happened on `results`."""
    # No refill or month change can make a count depend on timing.
    time.time = lambda: frozen_at
    os.environ.update(env)
    outcome: dict[str, Any] = {"answers": [], "refusals": [], "errors": []}
    try:
        from fastapi.testclient import TestClient

        from sparkai.api.app import create_app

        # No dependency override: the chat service is wiring.get_chat_service's. (Had the freeze
        # not reached it, the ledger rows would land on today, not on the test's frozen day.)
        app = create_app()
        headers = {"Authorization": f"Bearer {secret}"}
        with TestClient(app, raise_server_exceptions=False) as http:
            http.get("/v1/models", headers=headers)  # warm: key cached, clients created
            start.wait(BARRIER_TIMEOUT)  # every process starts its calls together
            for route, model, streamed in calls:
                body: dict[str, Any] = {
                    "model": model,
                    "messages": MESSAGES,
                    "max_tokens": max_tokens,
                    "stream": streamed,
                }
                if streamed and route == "/v1/chat/completions":
                    body["stream_options"] = {"include_usage": True}
                response = http.post(route, json=body, headers=headers)
                if response.status_code == 200:
                    usage = _sse_usage(response.text) if streamed else response.json()["usage"]
                    outcome["answers"].append({"model": model, "usage": usage})
                elif response.status_code == 429:
                    outcome["refusals"].append(
                        {
                            "body": response.json(),
                            "retry_after": response.headers.get("retry-after"),
                        }
                    )
                else:
                    outcome["errors"].append(f"{response.status_code} {response.text[:300]}")
    except BaseException as exc:  # reported to the test instead of vanishing with the process
        outcome["errors"].append(f"{type(exc).__name__}: {exc}")
    results.put(outcome)
