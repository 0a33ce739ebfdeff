"""`sparkai-admin` run in-process, as the functional tests drive it: its exit code and what it
printed, without what the test's own setup logged before it."""

from __future__ import annotations

import pytest

from sparkai_admin.cli import main as admin_main


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `sparkai-admin *args`."""
    capsys.readouterr()  # what the service logged before is not the command's output
    code = admin_main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err
