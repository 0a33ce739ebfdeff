"""Which test each pytest process is running right now, in a file per process, so a time guard
that stops the suite (`.ci/run`) can say what was running when it fired.

Active only when SPARKAI_INFLIGHT_DIR is set; each process (the controller, every xdist worker)
rewrites `<dir>/<worker id>.txt` at each test's start and empties it when the test ends.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

ENV = "SPARKAI_INFLIGHT_DIR"


_config: pytest.Config | None = None
_folder: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    # Read once: tests run with SPARKAI_* variables cleared (tests/conftest.py).
    global _config, _folder
    _config, _folder = config, os.environ.get(ENV)


def _record(text: str) -> None:
    folder = _folder
    if not folder or _config is None:
        return
    # The xdist controller hears every worker's test starts relayed; the workers' own files
    # already say who runs what, so only a worker (or a run without xdist) records.
    if _config.pluginmanager.hasplugin("dsession"):
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with contextlib.suppress(OSError):  # the guard's bookkeeping must never fail a test
        Path(folder, f"{worker}.txt").write_text(text)


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _record(f"{nodeid}\n")


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _record("")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    _record("")
