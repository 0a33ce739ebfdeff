"""Local tier: the PHP SDK (sdk/php) against the running stack. Runs its PHPUnit "local" suite
(sdk/php/tests/Local) with the stack's URL and keys in the environment and asserts every test in
it passed. Skipped, with the reason, when PHP is not installed (`scripts/ensure-php.sh`)."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.local.conftest import ROOT, RunningStack, sdk_suite_env

pytestmark = [pytest.mark.local]

PHP_SDK = ROOT / "sdk" / "php"
RPM = 2  # the exhausted key spends this many requests, then its refill is hours away (conftest)


def _php_missing() -> str | None:
    for tool in ("php", "phpunit"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed: run scripts/ensure-php.sh (as root) or `sudo apt-get install php-cli php-curl php-mbstring phpunit composer`"
    return None


def test_php_sdk_local_suite(stack: RunningStack, tmp_path: Path) -> None:
    missing = _php_missing()
    if missing:
        pytest.skip(missing)
    report = tmp_path / "junit.xml"
    env = sdk_suite_env(stack, rpm=RPM)
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
