"""Settings read lazily from the environment; the plans as documented."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sparkai.config import ChatSettings, endpoint_name_for, load_settings
from sparkai.errors import ConfigurationError
from sparkai.plans import PLANS, Limits, edge_throttle, resolve_limits


@dataclass(frozen=True)
class Example:
    table: str
    retries: int = 3
    timeout: float = 1.5
    enabled: bool = False
    optional: str | None = None


def test_settings_come_from_prefixed_variables_with_types() -> None:
    settings = load_settings(
        Example,
        {
            "SPARKAI_TABLE": "t",
            "SPARKAI_RETRIES": "5",
            "SPARKAI_TIMEOUT": "2",
            "SPARKAI_ENABLED": "yes",
        },
    )
    assert settings == Example("t", 5, 2.0, True, None)
    assert load_settings(Example, {"SPARKAI_TABLE": "t"}) == Example("t")


def test_missing_or_malformed_settings_name_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="SPARKAI_TABLE must be set"):
        load_settings(Example, {})
    with pytest.raises(ConfigurationError, match="SPARKAI_RETRIES='many' is not a valid int"):
        load_settings(Example, {"SPARKAI_TABLE": "t", "SPARKAI_RETRIES": "many"})
    with pytest.raises(ConfigurationError, match="SPARKAI_ENABLED"):
        load_settings(Example, {"SPARKAI_TABLE": "t", "SPARKAI_ENABLED": "maybe"})


def test_chat_defaults_fail_safe() -> None:
    assert (
        load_settings(ChatSettings, {}).auth_mode == "bearer"
    )  # checks keys itself unless told otherwise


def test_endpoint_names_default_to_the_model_id() -> None:
    assert endpoint_name_for("spark-turbo", {}) == "spark-turbo"
    assert (
        endpoint_name_for("spark-turbo", {"SPARKAI_ENDPOINT_SPARK_TURBO": "turbo-v2"}) == "turbo-v2"
    )


def test_plans_are_the_documented_ones() -> None:
    assert PLANS["starter"].limits == Limits(30, 15_000)
    assert PLANS["pro"].limits == Limits(90, 75_000)
    assert PLANS["enterprise"].limits is None
    assert resolve_limits("enterprise", Limits(1000, 10**6)) == Limits(1000, 10**6)
    with pytest.raises(ValueError, match="enterprise"):
        resolve_limits("enterprise")
    with pytest.raises(ValueError):
        Limits(0, 10)


def test_the_edge_throttle_never_refuses_what_the_exact_limit_allows() -> None:
    for plan in PLANS.values():
        if plan.limits is None:
            continue
        throttle = edge_throttle(plan.limits.requests_per_minute)
        assert throttle.burst_limit >= plan.limits.requests_per_minute  # a full minute's burst fits
        assert throttle.rate_limit * 60 >= plan.limits.requests_per_minute
