"""Contract tier: Schemathesis generates valid and invalid requests for every operation of the
local stack's own /openapi.json and checks every answer against it: no server errors, documented
statuses, content types, headers and bodies (SSE events included)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local.conftest import ROOT, RunningStack, enterprise_key, start_stack, stop_stack

pytestmark = [pytest.mark.contract, pytest.mark.local]
HERE = Path(__file__).parent
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
PUBLIC_OPERATIONS = [
    "POST /v1/chat",
    "POST /v1/chat/completions",
    "GET /v1/models",
    "GET /v1/models/{model_id}",
    "GET /v1/usage",
]


@pytest.fixture(scope="module")
def contract_stack() -> Iterator[RunningStack]:
    running = start_stack("--model", "scripted")
    yield running
    if running.process.poll() is None:
        stop_stack(running)


def big_enterprise_key(stack: RunningStack) -> str:
    """Limits far above what the run sends, so answers show validation, not the rate limiter."""
    return enterprise_key(stack, rpm=1_000_000, tpm=1_000_000_000)


def test_every_operation_conforms_to_the_openapi_contract(
    contract_stack: RunningStack, tmp_path: Path
) -> None:
    key = big_enterprise_key(contract_stack)
    report = tmp_path / "report.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SPARKAI_CONTRACT_KEY": key}
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(HERE / "schemathesis.toml"),
            "--no-color",
            "run",
            f"{contract_stack.url}/openapi.json",
            "--report",
            "json",
            "--report-json-path",
            str(report),
            "--seed",
            "16",  # reproducible: a failure here replays with the same cases
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    output = result.stdout + result.stderr
    summary = output[output.find("SUMMARY") :] if "SUMMARY" in output else output[-3000:]
    print(summary)
    assert result.returncode == 0, output[-20000:]
    assert key not in output
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    tested = re.search(r"Tested: (\d+)", output)
    assert selected and tested, output[-3000:]
    assert selected.group(1) == selected.group(2) == tested.group(1)  # every operation ran
    assert int(tested.group(1)) >= 5
    generated = re.search(r"(\d+) generated", output)
    assert generated and int(generated.group(1)) >= 100, summary
    # Valid requests really got through (not all refused by auth or the rate limiter).
    rates = json.loads(report.read_text())["valid_rates"]
    for operation in PUBLIC_OPERATIONS:
        accepted = sum(phase["accepted"] for phase in rates[operation].values())
        assert accepted > 0, f"{operation}: no valid request was accepted"
