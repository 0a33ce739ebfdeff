"""`make test` never hangs: a test that kills its xdist worker (SIGILL from native code, SIGSEGV)
fails the run, which then ends, under exactly the pytest options the Makefile uses.

Replacing a crashed worker under `--dist loadgroup` deadlocks pytest-xdist 3.8: the dead worker's
finished groups go back on the queue as empty work units and the survivors wait for tests that
never come (pytest-dev/pytest-xdist#1323, #1378). `--max-worker-restart=0` stops the run instead.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Only so a regression fails this test instead of hanging the suite; never asserted on.
GUARD_SECONDS = 120

# The shape that hangs 3.8 when crashed workers are replaced: a file (scheduling unit) finishes on
# a worker that later dies in another one, so the finished unit is queued again, empty.
FIRST = """
def test_one(): pass
def test_two(): pass
"""
CRASHING = """
import os, signal
def test_before(): pass
def test_crash(): os.kill(os.getpid(), signal.{signal})
def test_after(): pass
"""
OTHERS = """
def test_a(): pass
def test_b(): pass
def test_c(): pass
"""


def makefile_pytest_options() -> list[str]:
    """The options of the `make test` line that runs tests/ (the README's test command)."""
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^test:.*\n(?:\t.*\n)*?\t\$\(PYTEST\) tests (.*)$", makefile, re.MULTILINE)
    assert match, "make test no longer runs $(PYTEST) tests ..."
    return shlex.split(match.group(1))


def test_make_test_does_not_replace_crashed_workers() -> None:
    options = makefile_pytest_options()
    assert "--max-worker-restart=0" in options


@pytest.mark.parametrize("sig", ["SIGILL", "SIGSEGV"])
def test_a_worker_killed_by_a_signal_fails_the_run_and_it_ends(tmp_path: Path, sig: str) -> None:
    (tmp_path / "test_first.py").write_text(FIRST)
    (tmp_path / "test_crashing.py").write_text(CRASHING.format(signal=sig))
    (tmp_path / "test_others.py").write_text(OTHERS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not this repository's settings

    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *makefile_pytest_options()],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the guard below can stop workers and all
    )
    try:
        output, _ = process.communicate(timeout=GUARD_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"the run with a crashed worker did not end:\n{output}")

    assert process.returncode not in (0, 5), output
    assert "crashed while running 'test_crashing.py::test_crash'" in output
    assert "restarting disabled" in output
    # The crashed test is reported failed (how many others the stopped run reports varies).
    assert re.search(r"=+ \d+ failed", output), output


# The hanging test fires the guard itself once it runs (SIGALRM is what `timeout` waits for), so
# the guard fires while a test is in progress whatever the machine's speed.
HANGING = """
import os, signal, threading
from pathlib import Path
# One file: --dist loadfile runs both on one worker, so test_quick ends before the hang starts.

def ancestor(name):
    pid = os.getpid()
    while pid > 1:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat[stat.index("(") + 1 : stat.rindex(")")] == name:
            return pid
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    raise LookupError(name)

def test_quick(): pass
def test_hangs_for_ever():
    os.kill(ancestor("timeout"), signal.SIGALRM)
    threading.Event().wait()
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds `timeout` through /proc")
def test_the_ci_time_guard_names_the_running_tests_and_fails(tmp_path: Path) -> None:
    # Given a `make test` that hangs in a test (a fake `make` first on PATH runs this folder)
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\n")
    (suite / "conftest.py").write_text('pytest_plugins = ["tests.support.inflight"]\n')
    (suite / "test_hang.py").write_text(HANGING)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    make = bin_dir / "make"
    make.write_text(
        f"#!/bin/sh\ncd {shlex.quote(str(suite))} && exec {shlex.quote(sys.executable)} -m pytest "
        f"-p no:cacheprovider -n 2 {' '.join(makefile_pytest_options()[2:])}\n"
    )
    make.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "CI_TIME_LIMIT": "1h",
    }

    result = subprocess.run(
        [str(ROOT / ".ci" / "run")],
        env=env,
        capture_output=True,
        text=True,
        timeout=GUARD_SECONDS,
    )

    assert result.returncode == 124, result.stdout + result.stderr
    assert "CI time guard: make test was still running after 1h" in result.stderr
    assert "test_hang.py::test_hangs_for_ever" in result.stderr
    assert "test_hang.py::test_quick" not in result.stderr
