"""Template tier: the SAM template checked offline with the SAM CLI's own tools (.venv-sam)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".venv-sam" / "bin"


def tools_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(
        {"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0"}
    )
    return env


def run_tool(
    *args: str, cwd: Path = ROOT, extra_path: str | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    env = tools_env()
    if extra_path:
        env["PATH"] = extra_path + os.pathsep + env["PATH"]
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="session")
def sam_tools() -> Path:
    assert (TOOLS / "sam").exists(), (
        "the SAM CLI is missing: run scripts/bootstrap.sh (make test does)"
    )
    return TOOLS


@pytest.fixture(scope="session")
def transformed(sam_tools: Path) -> dict[str, Any]:
    """template.yaml after the SAM transform (what CloudFormation deploys)."""
    result = run_tool(
        str(sam_tools / "python"),
        str(ROOT / "local" / "sam_transform.py"),  # shared with the local stack's IAM
        str(ROOT / "template.yaml"),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def transformed_path(transformed: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfn") / "transformed.json"
    path.write_text(json.dumps(transformed))
    return path
