"""SDK tests: no environment leaks in, and nothing sleeps for real."""

from __future__ import annotations

import os

import pytest

from sparkaistream import _retry


def _no_real_sleep(seconds: float) -> None:
    raise AssertionError(f"a test tried to sleep for real ({seconds}s); inject sleep=")


async def _no_real_async_sleep(seconds: float) -> None:
    raise AssertionError(f"a test tried to sleep for real ({seconds}s); inject sleep=")


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SPARKAI_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(_retry, "default_sleep", _no_real_sleep)
    monkeypatch.setattr(_retry, "default_async_sleep", _no_real_async_sleep)
