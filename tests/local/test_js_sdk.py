"""The JavaScript SDK (sdk/js) against the local stack: pytest starts the stack as a user would
and runs the SDK's own local-tier file with Node's test runner (node --test)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.local.conftest import ROOT, RunningStack, sdk_suite_env

pytestmark = [
    pytest.mark.local,
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
]
JS = ROOT / "sdk" / "js"
LOCAL_SUITE = JS / "test" / "local" / "stack.test.mjs"


def built_js_sdk() -> None:
    """`make test` installs and builds sdk/js first; this keeps `pytest tests/local` standalone."""
    if not (JS / "node_modules" / "typescript").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, check=True)
    if not (JS / "dist" / "esm" / "index.js").is_file():
        subprocess.run(["node", "scripts/build.mjs"], cwd=JS, check=True)


def test_js_sdk_local_tier(stack: RunningStack) -> None:
    built_js_sdk()
    env = sdk_suite_env(stack, rpm=3)
    result = subprocess.run(
        ["node", "--test", "--test-reporter=tap", str(LOCAL_SUITE.relative_to(JS))],
        cwd=JS,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    report = result.stdout + result.stderr
    print(
        "\n".join(line for line in report.splitlines() if line.startswith(("ok", "not ok", "# ")))
    )
    assert result.returncode == 0, report
    declared = len(re.findall(r"^test\(", LOCAL_SUITE.read_text(), re.MULTILINE))
    # Every test declared ran and passed: no failure, skip, todo or cancellation hiding in a green exit.
    counts = dict(re.findall(r"^# (tests|pass|fail|skipped|todo|cancelled) (\d+)$", report, re.M))
    assert counts == {
        "tests": str(declared),
        "pass": str(declared),
        "fail": "0",
        "skipped": "0",
        "todo": "0",
        "cancelled": "0",
    }, report
