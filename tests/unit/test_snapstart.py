"""SnapStart hooks: nothing happens outside SnapStart; under it the warm-up runs before the
snapshot and the restore hook gives each environment its own random state and AWS clients."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from sparkai import aws, snapstart


def test_outside_snapstart_nothing_is_warmed_or_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_INITIALIZATION_TYPE", raising=False)
    calls: list[str] = []
    applied = snapstart.prepare(warm=lambda: calls.append("warm"), register=calls.append)
    assert applied is False and calls == []


def test_under_snapstart_the_warm_up_runs_and_the_restore_hook_is_registered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    calls: list[object] = []
    hooks: list[Callable[[], None]] = []
    applied = snapstart.prepare(warm=lambda: calls.append("warm"), register=hooks.append)
    assert applied is True and calls == ["warm"]
    assert hooks == [snapstart.after_restore]


def test_after_restore_reseeds_random_and_drops_cached_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    snapshotted = object()
    aws.set_client("dynamodb", snapshotted)
    random.seed(1234)  # every environment restored from one snapshot would share this state
    shared = [random.random() for _ in range(4)]
    random.seed(1234)
    try:
        snapstart.after_restore()
        assert [random.random() for _ in range(4)] != shared
        assert aws.client("dynamodb") is not snapshotted
    finally:
        aws.reset_clients()
