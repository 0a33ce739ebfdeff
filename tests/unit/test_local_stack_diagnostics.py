"""What the local stack's supervisor tells a user when a child dies, the state file that lets
`sparkai-admin --local` find a running stack, and the admin CLI's one-sentence configuration
errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from sparkai.errors import ConfigurationError
from sparkai_admin.cli import main as admin_main
from sparkai_admin.local_stack import LocalStackState, read_state, remove_state, write_state
from sparkai_local.supervisor import Child, ChildDied, describe_exit, fix_for


def test_a_signal_is_named_not_numbered() -> None:
    assert describe_exit(-signal.SIGILL) == "killed by SIGILL (Illegal instruction)"
    assert describe_exit(-signal.SIGSEGV) == "killed by SIGSEGV (Segmentation fault)"
    assert describe_exit(3) == "exited with code 3"


def run_child(tmp_path: Path, name: str, code: str) -> Child:
    child = Child(name, ["-c", code], dict(os.environ), tmp_path)
    child.process.wait(timeout=30)
    return child


def test_a_native_crash_in_the_model_server_says_to_rebuild_the_wheel(tmp_path: Path) -> None:
    child = run_child(
        tmp_path,
        "local SageMaker",
        "import os, signal; print('loading', flush=True); os.kill(os.getpid(), signal.SIGILL)",
    )

    died = ChildDied(child, "during startup")

    assert died.summary == "local SageMaker killed by SIGILL (Illegal instruction) during startup."
    assert "  | loading" in str(died)
    assert died.fix.startswith("rm -rf ")
    assert died.fix.endswith(" .venv/.bootstrapped && make run")
    assert (tmp_path / "local-sagemaker.log").read_text() == "loading\n"


def test_the_childs_own_fix_line_wins(tmp_path: Path) -> None:
    child = run_child(
        tmp_path, "local SageMaker", "import sys; print('Fix: do this one thing'); sys.exit(3)"
    )

    assert fix_for(child, 3, child.last_lines()) == "do this one thing"
    assert "To fix it, run:\n  do this one thing" in str(ChildDied(child, "during startup"))


def test_other_deaths_point_at_the_verbose_logs(tmp_path: Path) -> None:
    child = run_child(tmp_path, "API", "import sys; sys.exit(1)")

    died = ChildDied(child, "while the stack was serving")

    assert died.summary == "API exited with code 1 while the stack was serving."
    assert "(it wrote nothing)" in str(died)
    assert died.fix.startswith('make run ARGS="--verbose"')


def state(pid: int) -> LocalStackState:
    return LocalStackState(
        pid=pid,
        api_url="http://127.0.0.1:3000",
        aws_url="http://127.0.0.1:8000",
        sagemaker_url="http://127.0.0.1:8081",
        region="us-east-1",
        keys_table="keys",
        accounts_table="accounts",
        rate_limits_table="limits",
        usage_plan_prefix="sparkai-local",
    )


def test_the_state_file_round_trips_and_is_removed_only_by_its_writer(tmp_path: Path) -> None:
    path = tmp_path / "local-stack.json"
    write_state(state(os.getpid()), path)

    assert read_state(path) == state(os.getpid())
    remove_state(os.getpid() + 1, path)  # another stack's exit leaves ours alone
    assert path.exists()
    remove_state(os.getpid(), path)
    assert not path.exists()


def test_a_dead_stacks_state_file_is_refused_in_one_sentence(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    path = tmp_path / "local-stack.json"
    path.write_text(json.dumps(state(gone.pid).__dict__))

    with pytest.raises(ConfigurationError, match="is no longer running; start it again"):
        read_state(path)
    with pytest.raises(ConfigurationError, match="No local stack is running"):
        read_state(tmp_path / "missing.json")


def test_a_missing_setting_is_one_sentence_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SPARKAI_ACCOUNTS_TABLE")

    code = admin_main(["key", "list", "acct_x"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("sparkai-admin: SPARKAI_ACCOUNTS_TABLE must be set: pass --stack NAME")
    assert "--local" in err
    assert len(err.strip().splitlines()) == 1


def test_a_second_stack_leaves_the_running_stacks_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "local-stack.json"
    parent = os.getppid()  # a live process other than this one
    write_state(state(parent), path)

    assert write_state(state(os.getpid()), path) is None
    assert read_state(path).pid == parent


def test_a_busy_api_port_fails_at_once_in_one_sentence(tmp_path: Path) -> None:
    """The stack binds the API's port before starting anything: held by someone else, `make run`
    says so and which flag to use, with no banner and no child process started."""
    import socket
    import sys

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sparkai_local", "--port", str(port), "--model", "scripted"],
            capture_output=True,
            text=True,
            timeout=120,  # a deadlock guard: it exits before starting any child
            cwd=Path(__file__).resolve().parents[2],
        )
    finally:
        holder.close()
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert f"--port {port + 1}" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Ctrl-C stops everything" not in done.stdout
    assert "local AWS" not in done.stdout + done.stderr
