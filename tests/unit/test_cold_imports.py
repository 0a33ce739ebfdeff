"""What a chat function's cold start imports: not the dashboard (its own function serves it) and
not pydantic.v1 (FastAPI imports it to vet the first parameter or response model it builds a
field for; our routes declare none). benchmarks/cold_imports.py measures the time; this checks the
set, in a fresh interpreter per handler, as Lambda starts one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NEVER_IN_A_CHAT_FUNCTION = ("sparkai.api.dashboard", "pydantic.v1")


def _imported_after(code_dir: str, statement: str, **env: str) -> set[str]:
    script = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
        env={
            **os.environ,
            "PYTHONPATH": f"{ROOT / code_dir}:{ROOT / 'layers/sparkai'}",
            "AWS_DEFAULT_REGION": "us-east-1",
            "SPARKAI_DASHBOARD_AUTH": "off",
            **env,
        },
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("code_dir", "statement"),
    [
        ("functions/chat", "import app"),  # ChatFunction (Mangum)
        ("functions/chat_stream", "import sparkai.api.app"),  # what run.sh hands uvicorn
    ],
)
def test_a_chat_function_imports_neither_the_dashboard_nor_pydantic_v1(
    code_dir: str, statement: str
) -> None:
    loaded = _imported_after(code_dir, statement)
    assert "fastapi" in loaded  # the app really was built
    assert loaded.isdisjoint(NEVER_IN_A_CHAT_FUNCTION), loaded & set(NEVER_IN_A_CHAT_FUNCTION)


def test_the_dashboard_function_does_route_the_dashboard() -> None:
    statement = (  # a route that exists answers an unsupported method with 405, not 404
        "import app\n"
        "from starlette.testclient import TestClient\n"
        "status = TestClient(app.app).patch('/v1/dashboard/keys').status_code\n"
        "assert status == 405, status"
    )
    loaded = _imported_after(
        "functions/chat",
        statement,
        SPARKAI_DASHBOARD_AUTH="authorizer",
        SPARKAI_USER_POOL_ID="us-east-1_example",
        SPARKAI_USER_POOL_CLIENT_ID="example",
    )
    assert "sparkai.api.dashboard" in loaded


def test_the_local_api_process_loads_no_moto() -> None:
    """The local stack's API process runs the functions' code; the local AWS endpoint (moto and
    the patches that speed it up) belongs to its own process."""
    loaded = _imported_after("local", "import sparkai_local.dashboard_site")
    assert "sparkai.api.app" in loaded
    assert not {name for name in loaded if name == "moto" or name.startswith("moto.")}
    assert "sparkai_local.aws_server" not in loaded
