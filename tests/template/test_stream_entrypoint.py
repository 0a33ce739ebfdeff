"""The streaming function's entry point as Lambda runs it: the Web Adapter execs run.sh with the
layer in /opt/python and the function code in LAMBDA_TASK_ROOT. Here a private mount namespace
puts a natively installed copy of the layer at /opt/python, and a bare Python 3.12 (no project
packages) runs run.sh; the app must come up and answer from layer code alone."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sparkai_local.stack import free_port
from tests.template.conftest import ROOT

pytestmark = pytest.mark.template


def _bare_python() -> Path:
    base = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", "import sys; print(sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Path(base) / "bin" / "python3.12"


@pytest.fixture(scope="module")
def native_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `sam build` puts in the layer, installed for this machine's architecture."""
    layer = tmp_path_factory.mktemp("layer") / "python"
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(layer),
            "-r",
            str(ROOT / "layers" / "sparkai" / "requirements.txt"),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    shutil.copytree(ROOT / "layers" / "sparkai" / "sparkai", layer / "sparkai")
    return layer


def _get(url: str, data: bytes | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.skipif(
    shutil.which("unshare") is None, reason="needs util-linux unshare for a private /opt"
)
def test_run_sh_serves_the_app_from_opt_python(native_layer: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"  # Lambda's runtime has `python` on PATH, nothing else of ours
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(_bare_python())
    port = free_port()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "LAMBDA_TASK_ROOT": str(ROOT / "functions" / "chat_stream"),
        "PORT": str(port),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SPARKAI_AUTH_MODE": "bearer",
        "SPARKAI_KEYS_TABLE": "unused",
        "SPARKAI_RATE_LIMITS_TABLE": "unused",
    }
    script = (
        "set -e; mount -t tmpfs tmpfs /opt; mkdir /opt/python; "
        f"mount --bind {native_layer} /opt/python; exec {ROOT / 'functions' / 'chat_stream' / 'run.sh'}"
    )
    process = subprocess.Popen(
        ["unshare", "--mount", "--map-root-user", "sh", "-c", script],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "run.sh did not start the app"
                time.sleep(0.2)
        assert (status, body) == (200, {"status": "ok"})

        status, body = _get(f"http://127.0.0.1:{port}/v1/chat", data=b'{"model": "spark-1"}')
        assert status == 401
        assert body["error"]["code"] == "invalid_api_key"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
