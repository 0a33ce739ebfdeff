"""Wiring: the production object graph, built once per process on first use. Tests replace these
through FastAPI's `app.dependency_overrides`, or point the same graph at moto / the local stack."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sparkai import aws
from sparkai.admin.edge import UsagePlanEdge
from sparkai.admin.service import AccountAdmin
from sparkai.auth.authenticator import Authenticator, default_authenticator
from sparkai.catalog import MODELS
from sparkai.chat.service import ChatService
from sparkai.chat.tokens import token_counter_from_setting
from sparkai.chat.usage import LogUsageRecorder
from sparkai.config import (
    endpoint_name_for,
    get_account_settings,
    get_chat_settings,
    get_dashboard_settings,
    get_idempotency_settings,
    get_key_store_settings,
    get_limiter_settings,
    get_usage_settings,
)
from sparkai.dashboard.service import DashboardService
from sparkai.dashboard.tokens import CognitoTokenVerifier
from sparkai.endpoints.port import ModelEndpoint
from sparkai.endpoints.sagemaker import SageMakerEndpoint
from sparkai.idempotency.dynamodb import DynamoDBIdempotencyStore
from sparkai.keys.store import KeyStore
from sparkai.limits.limiter import DynamoDBRateLimiter
from sparkai.usage.reporter import UsageReporter


def get_authenticator() -> Authenticator:
    return default_authenticator()


def _dynamodb() -> Any:
    return aws.client("dynamodb")


@lru_cache
def _endpoints() -> dict[str, ModelEndpoint]:
    chat = get_chat_settings()
    # No retries inside botocore: a retried generation doubles the wait and the cost, and the
    # client (or our SDK) retries 503s with backoff anyway.
    config = {
        "connect_timeout": chat.model_connect_timeout_seconds,
        "read_timeout": chat.model_timeout_seconds,
        "retries": {"mode": "standard", "total_max_attempts": 1},
    }
    return {
        model_id: SageMakerEndpoint(
            endpoint_name_for(model_id), lambda: aws.client("sagemaker-runtime", **config)
        )
        for model_id in MODELS
    }


@lru_cache
def get_chat_service() -> ChatService:
    chat = get_chat_settings()
    endpoints = _endpoints()
    return ChatService(
        endpoint_for=endpoints.__getitem__,
        limiter=DynamoDBRateLimiter(
            get_limiter_settings().rate_limits_table,
            _dynamodb,
            usage_table=get_limiter_settings().usage_table,
        ),
        tokens=token_counter_from_setting(chat.prompt_tokenizer),
        usage=LogUsageRecorder(KeyStore(get_key_store_settings().keys_table, _dynamodb)),
    )


@lru_cache
def get_usage_reporter() -> UsageReporter:
    """The usage ledger's reports (GET /v1/usage, the dashboard): settings read on first use."""
    settings = get_usage_settings()
    return UsageReporter(settings.usage_table, settings.accounts_table, _dynamodb)


@lru_cache
def get_idempotency_store() -> DynamoDBIdempotencyStore:
    """Claims and stored answers for Idempotency-Key (settings read on the first keyed request)."""
    settings = get_idempotency_settings()
    return DynamoDBIdempotencyStore(
        settings.idempotency_table, _dynamodb, lease_seconds=settings.idempotency_lease_seconds
    )


@lru_cache
def get_dashboard_service() -> DashboardService:
    """The dashboard's account operations: AccountAdmin over the same tables and usage plans the
    operators' CLI uses."""
    settings = get_account_settings()
    keys = KeyStore(settings.keys_table, _dynamodb)
    edge = (
        UsagePlanEdge(aws.client("apigateway"), settings.usage_plan_prefix)
        if settings.usage_plan_prefix
        else None
    )
    admin = AccountAdmin(
        accounts_table=settings.accounts_table, keys=keys, dynamodb=_dynamodb, edge=edge
    )
    return DashboardService(admin, keys, accounts_table=settings.accounts_table, dynamodb=_dynamodb)


@lru_cache
def get_token_verifier() -> CognitoTokenVerifier:
    """Verifies dashboard ID tokens against the user pool's JWKS (fetched on first use, cached)."""
    settings = get_dashboard_settings()
    return CognitoTokenVerifier(
        user_pool_id=settings.user_pool_id,
        client_id=settings.user_pool_client_id,
        jwks_url=settings.cognito_jwks_url,
    )


def reset() -> None:
    """Forget the wiring (tests that change settings between cases)."""
    _endpoints.cache_clear()
    get_chat_service.cache_clear()
    get_idempotency_store.cache_clear()
    get_usage_reporter.cache_clear()
    get_dashboard_service.cache_clear()
    get_token_verifier.cache_clear()
    default_authenticator.cache_clear()
