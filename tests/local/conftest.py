"""Local tier: the stack started as a user starts it (`python -m sparkai_local`, what `make run`
runs), real processes on real ports, talked to over HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from sparkai_local.endpoint import (
    LOCAL_TABLES,
    LOCAL_USAGE_PLAN_PREFIX,
    client,
    table_environment,
)
from sparkai_local.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
DEMO_KEY = "sk-spark-local-tier-demo-key-00000000000000000000"


@dataclass
class RunningStack:
    url: str
    key: str
    aws_url: str
    sagemaker_url: str
    process: subprocess.Popen[str]
    output: list[str]
    state_file: Path  # where this stack tells `sparkai-admin --local` how to reach it

    def ports(self) -> list[int]:
        return [int(u.rsplit(":", 1)[1]) for u in (self.url, self.aws_url, self.sagemaker_url)]


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stack_env(state_file: Path) -> dict[str, str]:
    """A user's environment: no AWS or SparkAI settings, and (unlike a user) a state file of the
    stack's own, so tests never touch a developer's running `make run`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SPARKAI_"))}
    env["SPARKAI_DEMO_KEY"] = DEMO_KEY
    env["SPARKAI_LOCAL_STATE"] = str(state_file)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_stack(*args: str, timeout: float = 180) -> RunningStack:
    port = free_port()
    state_file = Path(tempfile.mkdtemp(prefix="sparkai-local-test-")) / "local-stack.json"
    env = stack_env(state_file)
    process = subprocess.Popen(
        [sys.executable, "-m", "sparkai_local", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while "Ctrl-C stops everything." not in "".join(output):
        line = process.stdout.readline()
        if not line:
            raise AssertionError("the stack exited during startup:\n" + "".join(output))
        output.append(line)
        assert time.monotonic() < deadline, "the stack did not start:\n" + "".join(output)
    text = "".join(output)
    aws, sagemaker = re.search(r"local AWS\s+(\S+)\s+local SageMaker\s+(\S+)", text).groups()  # type: ignore[union-attr]
    key = re.search(r"demo key\s+(\S+)", text).group(1)  # type: ignore[union-attr]
    return RunningStack(
        f"http://127.0.0.1:{port}", key, aws, sagemaker, process, output, state_file
    )


def stop_stack(stack: RunningStack) -> int:
    stack.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    try:
        code = stack.process.wait(timeout=30)
    finally:
        if stack.process.poll() is None:
            stack.process.kill()
    return code


def admin_cli(stack: RunningStack, *args: str) -> str:
    """`sparkai-admin --endpoint-url <local AWS> --json ...` as an operator would run it."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        **table_environment(),
        "SPARKAI_USAGE_PLAN_PREFIX": LOCAL_USAGE_PLAN_PREFIX,
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sparkai_admin.cli",
            "--endpoint-url",
            stack.aws_url,
            "--json",
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return result.stdout


def enterprise_account(stack: RunningStack, rpm: int, tpm: int = 1_000_000) -> tuple[str, str]:
    """(account id, key) of a new Enterprise account with these per-minute limits (the CLI's)."""
    account = json.loads(
        admin_cli(
            stack, "account", "create", "--plan", "enterprise", "--rpm", str(rpm), "--tpm", str(tpm)
        )
    )
    key = json.loads(admin_cli(stack, "key", "create", account["account_id"]))["key"]
    return str(account["account_id"]), str(key)


def enterprise_key(stack: RunningStack, rpm: int, tpm: int = 1_000_000) -> str:
    """A new key of a new Enterprise account with these per-minute limits (made with the CLI)."""
    return enterprise_account(stack, rpm, tpm)[1]


REFILL_HOURS_AWAY = 3


def exhausted_key(stack: RunningStack, rpm: int) -> str:
    """A key whose account has spent its request budget, refilled hours from now: exhausted_account."""
    return exhausted_account(stack, rpm)[1]


def exhausted_account(stack: RunningStack, rpm: int) -> tuple[str, str]:
    """(account id, key) of an account whose account (rpm requests/min) has spent its request budget, and whose budget
    refills hours from now: the next request is a 429 (retry-after 60, the most the limiter says)
    however long the test takes to send it.

    The budget is spent by real requests; then the limiter item's request arrival time (req_tat,
    see sparkai.limits.gcra) is moved hours ahead in the local table. A real minute-long window
    would refill while a slow machine starts phpunit or node, and the 429 test would get a 200.
    """
    account_id, key = enterprise_account(stack, rpm)
    for _ in range(rpm):
        response = httpx.post(
            f"{stack.url}/v1/chat",
            json={"model": "spark-1", "messages": [{"role": "user", "content": "Hi"}]},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200, response.text
    far = Decimal(repr(time.time())) * 1000 + REFILL_HOURS_AWAY * 3_600_000
    client("dynamodb", stack.aws_url).update_item(
        TableName=LOCAL_TABLES["RateLimitsTable"],
        Key={"account_id": {"S": account_id}},
        UpdateExpression="SET req_tat = :far",
        ConditionExpression="attribute_exists(req_tat)",  # the requests above were counted
        ExpressionAttributeValues={":far": {"N": str(far)}},
    )
    return account_id, key


def refill(stack: RunningStack, account_id: str) -> None:
    """The account's request budget back at once, as if its hours had passed: the limiter item's
    request arrival time removed. The API process's remembered state is then stale, which its
    reservation finds out from the item (one conditional write, as after another container's
    settle)."""
    client("dynamodb", stack.aws_url).update_item(
        TableName=LOCAL_TABLES["RateLimitsTable"],
        Key={"account_id": {"S": account_id}},
        UpdateExpression="REMOVE req_tat",
        ConditionExpression="attribute_exists(req_tat)",
    )


def stream_ended(stack: RunningStack, index: int) -> dict[str, Any]:
    """The model's record of its `index`-th stream since the last reset, read once it has ended
    (a blocking read of the local SageMaker: no polling)."""
    response = httpx.get(f"{stack.sagemaker_url}/_local/streams/{index}/ended", timeout=60)
    assert response.status_code == 200, response.text
    return dict(response.json())


def sdk_suite_env(stack: RunningStack, rpm: int) -> dict[str, str]:
    """The environment an SDK's own local suite (JS, PHP) runs with against this stack."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("SPARKAI_")},
        "SPARKAI_BASE_URL": stack.url,
        "SPARKAI_API_KEY": stack.key,
        "SPARKAI_TEST_SAGEMAKER_URL": stack.sagemaker_url,
        "SPARKAI_TEST_EXHAUSTED_KEY": exhausted_key(stack, rpm),
    }


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    running = start_stack("--model", "scripted")
    yield running
    if running.process.poll() is None:
        stop_stack(running)
