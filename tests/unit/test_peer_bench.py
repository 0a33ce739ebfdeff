"""The peer benchmark's two guards: it refuses a LiteLLM environment that runs code at interpreter
start (a .pth file, how compromised LiteLLM releases shipped theirs), and its interleaved rounds
add up to exactly the samples asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.peer import _share, check_no_pth


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
