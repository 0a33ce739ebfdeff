"""Local tier: the PHP SDK (sdk/php) against the running stack. Runs its PHPUnit "local" suite
(sdk/php/tests/Local) with the stack's URL and keys in the environment and asserts every test in
it passed. Skipped, with the reason, when PHP is not installed (`scripts/ensure-php.sh`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from tests.local.conftest import ROOT, RunningStack, admin_cli

pytestmark = [pytest.mark.local, pytest.mark.xdist_group("local-php")]

PHP_SDK = ROOT / "sdk" / "php"
RPM = 10  # see tests/local/test_clients.py: a burst of 10 leaves the next request a 429


def _php_missing() -> str | None:
    for tool in ("php", "phpunit"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed: run scripts/ensure-php.sh (as root) or `sudo apt-get install php-cli php-curl php-mbstring phpunit composer`"
    return None


def _exhausted_key(stack: RunningStack) -> str:
    account = json.loads(
        admin_cli(
            stack,
            "account",
            "create",
            "--plan",
            "enterprise",
            "--rpm",
            str(RPM),
            "--tpm",
            "1000000",
        )
    )
    key = json.loads(admin_cli(stack, "key", "create", account["account_id"]))["key"]
    for _ in range(RPM):
        response = httpx.post(
            f"{stack.url}/v1/chat",
            json={"model": "spark-1", "messages": [{"role": "user", "content": "Hi"}]},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200, response.text
    return key


def test_php_sdk_local_suite(stack: RunningStack, tmp_path: Path) -> None:
    missing = _php_missing()
    if missing:
        pytest.skip(missing)
    report = tmp_path / "junit.xml"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SPARKAI_")},
        "SPARKAI_BASE_URL": stack.url,
        "SPARKAI_API_KEY": stack.key,
        "SPARKAI_TEST_SAGEMAKER_URL": stack.sagemaker_url,
        "SPARKAI_TEST_EXHAUSTED_KEY": _exhausted_key(stack),
    }
    result = subprocess.run(
        ["phpunit", "--testsuite", "local", "--log-junit", str(report)],
        cwd=PHP_SDK,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    cases = {
        case.get("name"): [child.tag for child in case]
        for case in ET.parse(report).getroot().iter("testcase")  # noqa: S314 (our own file)
    }
    # Every test ran and passed: no failure, error, skip or incomplete hiding in a green exit.
    assert len(cases) >= 9, output
    assert {name: tags for name, tags in cases.items() if tags} == {}, output
    assert "testAStreamArrivesWhileTheModelIsStillGenerating" in cases
    assert "testUsage" in cases
