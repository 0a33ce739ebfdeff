"""`make run` proves the model runs before it prints the banner, and when a process of the stack
dies it says which one, how (the signal's name), its last log lines and the command that fixes it,
and exits non-zero; `sparkai-admin --local` finds the running stack with no setup."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sparkai_local.stack import free_port
from tests.local.conftest import ROOT, RunningStack, stack_env, start_stack, stop_stack

pytestmark = [pytest.mark.local]
BANNER_END = "Ctrl-C stops everything."
GUARD_SECONDS = 180  # only so a regression cannot hang the suite; never asserted on


def run_until_exit(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`python -m sparkai_local ARGS` as `make run` runs it, to the end: (exit code, output)."""
    state = Path(tempfile.mkdtemp(prefix="sparkai-local-test-")) / "local-stack.json"
    result = subprocess.run(
        [sys.executable, "-m", "sparkai_local", "--port", str(free_port()), *args],
        cwd=ROOT,
        env={**stack_env(state), **(env or {})},
        capture_output=True,
        text=True,
        timeout=GUARD_SECONDS,
    )
    return result.returncode, result.stdout + result.stderr


def test_a_missing_gguf_stops_the_stack_before_the_banner() -> None:
    code, output = run_until_exit("--gguf", "spark-pro=/nonexistent/model.gguf")

    assert code != 0
    assert BANNER_END not in output  # no promise of a working API
    assert "local SageMaker exited with code 3 during startup." in output
    assert "the GGUF file for spark-pro does not exist: /nonexistent/model.gguf" in output
    assert 'To fix it, run:\n  make run ARGS="--gguf spark-pro=<an existing .gguf file>"' in output
    assert "Traceback" not in output


def test_a_model_library_killed_by_sigill_is_named_with_its_fix(tmp_path: Path) -> None:
    # Given a llama.cpp that dies as a build for a missing CPU feature does: SIGILL when loaded
    fake = tmp_path / "llama_cpp"
    fake.mkdir()
    (fake / "__init__.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGILL)\n")

    code, output = run_until_exit(env={"PYTHONPATH": str(tmp_path)})

    assert code != 0
    assert BANNER_END not in output
    assert "local SageMaker killed by SIGILL (Illegal instruction) during startup." in output
    assert "Fatal Python error: Illegal instruction" in output  # its own log, last lines
    assert "warm_up" in output  # ... with the Python stack that called the native code
    assert "To fix it, run:\n  rm -rf " in output
    assert ".venv/.bootstrapped && make run" in output


def _child_pid(parent: int, module: str) -> int:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and module.encode() in cmdline:
            return int(entry.name)
    raise AssertionError(f"no child running {module}")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the child through /proc")
def test_a_child_that_dies_while_serving_is_named_and_the_stack_exits_non_zero() -> None:
    stack = start_stack("--model", "scripted")
    try:
        os.kill(_child_pid(stack.process.pid, "sparkai_local.sagemaker"), signal.SIGSEGV)
        code = stack.process.wait(timeout=GUARD_SECONDS)
        output = "".join(stack.output) + stack.process.stdout.read()  # type: ignore[union-attr]
    finally:
        if stack.process.poll() is None:
            stack.process.kill()

    assert code == 1
    assert (
        "local SageMaker killed by SIGSEGV (Segmentation fault) while the stack was serving."
        in output
    )
    assert "Last lines of its log (" in output
    assert "Stopped." in output
    assert not stack.state_file.exists()  # sparkai-admin --local no longer finds a dead stack


def admin_local(state_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`sparkai-admin --local ...` from a shell with no AWS or SparkAI variables at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SPARKAI_"))}
    env["SPARKAI_LOCAL_STATE"] = str(state_file)
    return subprocess.run(
        [str(Path(sys.executable).parent / "sparkai-admin"), "--local", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_sparkai_admin_local_finds_the_running_stack(stack: RunningStack) -> None:
    banner = "".join(stack.output)
    assert "sparkai-admin --local key list acct_" in banner

    created = admin_local(stack.state_file, "--json", "account", "create", "--plan", "starter")
    assert created.returncode == 0, created.stderr
    account = json.loads(created.stdout)
    shown = admin_local(stack.state_file, "account", "show", account["account_id"])

    assert shown.returncode == 0, shown.stderr
    assert account["account_id"] in shown.stdout and "plan=starter" in shown.stdout
    assert json.loads(stack.state_file.read_text())["aws_url"] == stack.aws_url


def test_sparkai_admin_local_without_a_stack_is_one_sentence(tmp_path: Path) -> None:
    result = admin_local(tmp_path / "nothing-here.json", "key", "list", "acct_x")

    assert result.returncode != 0
    assert result.stderr.startswith("sparkai-admin: No local stack is running")
    assert "make run" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_stopped_stack_removes_its_state_file() -> None:
    running = start_stack("--model", "scripted")
    assert json.loads(running.state_file.read_text())["api_url"] == running.url
    assert stop_stack(running) == 0
    assert not running.state_file.exists()
