"""Local tier, metering (issue 12): the stack as a user runs it. A key's chat calls (buffered and
streamed) show up in GET /v1/usage with that key, totals equal to the `usage` the calls returned,
exactly; `sparkai-admin --local usage` shows the same; a budget set with `sparkai-admin --local
account set-budget` refuses the next call with 429 insufficient_quota; a stream the client cuts is
charged for what it was sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import httpx

from tests.local.conftest import ROOT, RunningStack, stream_ended

PRICE = {"spark-1": Decimal("0.0003"), "spark-turbo": Decimal("0.0006")}


def admin_local(stack: RunningStack, *args: str) -> str:
    """`sparkai-admin --local --json ...` with nothing but the stack's state file to go on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SPARKAI_"))}
    env["SPARKAI_LOCAL_STATE"] = str(stack.state_file)
    result = subprocess.run(
        [sys.executable, "-m", "sparkai_admin.cli", "--local", "--json", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def streamed_usage(response: httpx.Response) -> dict[str, Any]:
    events = [
        json.loads(line.removeprefix("data: "))
        for line in response.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    return events[-1]["usage"]


def expected_totals(returned: list[tuple[str, dict[str, int]]]) -> dict[str, Any]:
    return {
        "requests": len(returned),
        "prompt_tokens": sum(u["prompt_tokens"] for _, u in returned),
        "completion_tokens": sum(u["completion_tokens"] for _, u in returned),
        "total_tokens": sum(u["total_tokens"] for _, u in returned),
        "cost_usd": sum(
            (PRICE[model] * u["total_tokens"] / 1000 for model, u in returned), Decimal(0)
        ),
    }


def as_decimal(totals: dict[str, Any]) -> dict[str, Any]:
    return {**totals, "cost_usd": Decimal(totals["cost_usd"])}


def test_usage_shows_buffered_and_streamed_calls_and_the_admin_cli_agrees(
    stack: RunningStack,
) -> None:
    # Given a fresh Pro account and key, made with the admin CLI against the running stack
    account_id = json.loads(admin_local(stack, "account", "create", "--plan", "pro"))["account_id"]
    created = json.loads(admin_local(stack, "key", "create", account_id))
    headers = {"Authorization": f"Bearer {created['key']}"}
    returned: list[tuple[str, dict[str, int]]] = []

    with httpx.Client(base_url=stack.url, headers=headers, timeout=60) as http:
        # When a buffered call is answered
        answer = http.post(
            "/v1/chat",
            json={"model": "spark-1", "messages": [{"role": "user", "content": "Hello!"}]},
        )
        assert answer.status_code == 200, answer.text
        returned.append(("spark-1", answer.json()["usage"]))

        # Then GET /v1/usage with the same key shows it at once (its settle, which the local
        # stack runs after the body, is waited for)
        usage = http.get("/v1/usage")
        assert usage.status_code == 200, usage.text
        body = usage.json()
        assert as_decimal(body["totals"]) == expected_totals(returned)
        (row,) = body["data"]
        assert (row["model"], row["key_id"]) == ("spark-1", created["key_id"])
        assert body["spend_limit_usd"] is None  # Pro: no default limit

        # When a streamed call on another model reaches its end
        streamed = http.post(
            "/v1/chat",
            json={
                "model": "spark-turbo",
                "messages": [{"role": "user", "content": "Hello again!"}],
                "stream": True,
            },
        )
        assert streamed.status_code == 200, streamed.text
        returned.append(("spark-turbo", streamed_usage(streamed)))

        # Then the usage has it too, exactly, at once: GET /v1/usage waits for the settles still
        # running after the answers' last bytes (sparkai.api.after_body), as docs/api.md promises
        body = http.get("/v1/usage").json()
        assert as_decimal(body["totals"]) == expected_totals(returned)
        assert sorted(r["model"] for r in body["data"]) == ["spark-1", "spark-turbo"]
        assert Decimal(body["month_to_date_usd"]) == expected_totals(returned)["cost_usd"]

    # And the operator's view of the month is the same rows and totals
    month = body["end"][:7]
    report = json.loads(admin_local(stack, "usage", account_id, "--month", month))
    assert report["data"] == body["data"]
    assert report["totals"] == body["totals"]


def test_a_budget_set_with_the_admin_cli_refuses_the_next_call(stack: RunningStack) -> None:
    account_id = json.loads(admin_local(stack, "account", "create", "--plan", "pro"))["account_id"]
    key = json.loads(admin_local(stack, "key", "create", account_id))["key"]
    budget = json.loads(
        admin_local(stack, "account", "set-budget", account_id, "--monthly-usd", "0.00001")
    )
    assert budget["spend_limit_usd"] == "0.00001"

    refused = httpx.post(
        f"{stack.url}/v1/chat",
        json={"model": "spark-1", "messages": [{"role": "user", "content": "Hello!"}]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )

    assert refused.status_code == 429, refused.text
    error = refused.json()["error"]
    assert error["code"] == "insufficient_quota" and error["type"] == "insufficient_quota"
    assert "$0.00001" in error["message"]
    assert "retry-after" not in refused.headers


def test_a_stream_the_client_cuts_is_in_the_usage_for_what_it_was_sent(stack: RunningStack) -> None:
    # Given a fresh account, and a model that sends two pieces and then waits (never released)
    account_id = json.loads(admin_local(stack, "account", "create", "--plan", "pro"))["account_id"]
    key = json.loads(admin_local(stack, "key", "create", account_id))["key"]
    headers = {"Authorization": f"Bearer {key}"}
    model = stack.sagemaker_url
    httpx.post(f"{model}/_local/reset").raise_for_status()
    httpx.put(f"{model}/_local/scripts/spark-1", json={"gate_after": 2}).raise_for_status()
    try:
        # When the client reads the role chunk and the two pieces, then hangs up
        with httpx.stream(
            "POST",
            f"{stack.url}/v1/chat",
            json={
                "model": "spark-1",
                "messages": [{"role": "user", "content": "Hi"}],
                "stream": True,
            },
            headers=headers,
            timeout=60,
        ) as response:
            assert response.status_code == 200
            lines = (line for line in response.iter_lines() if line.startswith("data: "))
            received = [json.loads(next(lines).removeprefix("data: ")) for _ in range(3)]
        assert (
            "".join(c["choices"][0]["delta"].get("content", "") for c in received) == "Hello! I'm"
        )
        # Then the model stopped at the two pieces (a blocking read of its record)...
        record = stream_ended(stack, 0)
        assert (record["closed_early"], record["chunks_emitted"]) == (True, 2)
    finally:
        httpx.post(f"{model}/_local/reset").raise_for_status()
    # ...and GET /v1/usage shows the one request, its prompt and the two tokens sent, priced exactly
    body = httpx.get(f"{stack.url}/v1/usage", headers=headers, timeout=60).json()
    (row,) = body["data"]
    assert (row["model"], row["requests"], row["completion_tokens"]) == ("spark-1", 1, 2)
    assert row["prompt_tokens"] > 0
    cost = PRICE["spark-1"] * row["total_tokens"] / 1000
    assert Decimal(row["cost_usd"]) == Decimal(body["month_to_date_usd"]) == cost
