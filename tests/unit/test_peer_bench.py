"""The peer benchmark's guards: it refuses a LiteLLM environment that runs code at interpreter
start (a .pth file, how compromised LiteLLM releases shipped theirs), its interleaved rounds add
up to exactly the samples asked for, and a gateway's CPU time includes the processes it starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.peer import _share, check_no_pth, process_cpu_seconds


def _venv(tmp_path: Path, *pth: str) -> Path:
    site = tmp_path / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    for name in pth:
        (site / name).write_text("import os\n")
    return tmp_path


def test_a_venv_with_only_setuptools_own_pth_is_accepted(tmp_path: Path) -> None:
    check_no_pth(_venv(tmp_path, "distutils-precedence.pth"))


def test_any_other_pth_refuses_the_run_and_names_it(tmp_path: Path) -> None:
    venv = _venv(tmp_path, "distutils-precedence.pth", "litellm_init.pth")
    with pytest.raises(SystemExit) as refused:
        check_no_pth(venv)
    assert "litellm_init.pth" in str(refused.value)
    assert "distutils-precedence.pth" not in str(refused.value)


@pytest.mark.parametrize(("total", "rounds"), [(2000, 10), (300, 10), (7, 3), (2, 5), (0, 4)])
def test_rounds_share_the_samples_exactly(total: int, rounds: int) -> None:
    shares = [_share(total, rounds, i) for i in range(rounds)]
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1


# A worker that burns CPU, reports its own CPU time, and stays alive until its stdin closes.
_BURN = (
    "import sys, time\n"
    "x = 0\n"
    "for i in range(1_000_000): x += i\n"
    "print(time.process_time(), flush=True)\n"
    "sys.stdin.read()\n"
)
# A gateway-like parent: starts the worker, passes its report on, and waits.
_PARENT = (
    "import subprocess, sys\n"
    f"worker = subprocess.Popen([sys.executable, '-c', {_BURN!r}], stdin=subprocess.PIPE,"
    " stdout=subprocess.PIPE, text=True)\n"
    "print(worker.stdout.readline().strip(), flush=True)\n"
    "sys.stdin.read()\n"
    "worker.stdin.close()\n"
    "worker.wait()\n"
)


def test_a_gateways_cpu_time_counts_the_processes_it_started() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        worker_cpu = float(parent.stdout.readline())  # the worker is done burning, and alive
        counted = process_cpu_seconds(parent.pid)
        own = Path(f"/proc/{parent.pid}/stat").read_text().rsplit(")", 1)[1].split()
        parent_only = (int(own[11]) + int(own[12])) / os.sysconf("SC_CLK_TCK")
    finally:
        assert parent.stdin is not None
        parent.stdin.close()
        parent.wait(timeout=60)
    assert counted >= parent_only + worker_cpu - 0.05  # clock ticks round each process down
    assert process_cpu_seconds(None) == 0.0
