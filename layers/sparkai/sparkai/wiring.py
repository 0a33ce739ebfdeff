"""The composition root: every client and service this process uses, built on first use, and one
reset() that forgets them all (tests changing settings; SnapStart restores call reset_clients()).

FastAPI-free, and pydantic-free at import: the authorizer imports this module (its cold import is
budgeted), so providers of services that pull in pydantic (chat, dashboard) import them inside.
`sparkai.api.dependencies` is the thin FastAPI-facing layer over these providers.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sparkai import aws, config
from sparkai.auth.authenticator import Authenticator
from sparkai.keys.store import KeyStore

if TYPE_CHECKING:
    from sparkai.accounts.service import AccountAdmin
    from sparkai.chat.service import ChatService
    from sparkai.dashboard.service import DashboardService
    from sparkai.dashboard.tokens import CognitoTokenVerifier
    from sparkai.endpoints.port import ModelEndpoint
    from sparkai.idempotency.dynamodb import DynamoDBIdempotencyStore
    from sparkai.limits.limiter import DynamoDBRateLimiter
    from sparkai.limits.requests import RequestRateLimiter
    from sparkai.usage.reporter import UsageReporter


@lru_cache
def get_authenticator() -> Authenticator:
    """The one key check (authorizer and Function URL) over the configured keys table."""
    return Authenticator(KeyStore(config.get_key_store_settings().keys_table, aws.dynamodb))


@lru_cache
def model_endpoints() -> dict[str, ModelEndpoint]:
    """One SageMaker adapter per spark model."""
    from sparkai.catalog import MODELS
    from sparkai.endpoints.sagemaker import SageMakerEndpoint

    chat = config.get_chat_settings()
    # No retries inside botocore: a retried generation doubles the wait and the cost, and the
    # client (or our SDK) retries 503s with backoff anyway.
    options: dict[str, Any] = {
        "connect_timeout": chat.model_connect_timeout_seconds,
        "read_timeout": chat.model_timeout_seconds,
        "retries": {"mode": "standard", "total_max_attempts": 1},
    }
    return {
        model_id: SageMakerEndpoint(
            config.endpoint_name_for(model_id), lambda: aws.sagemaker_runtime(**options)
        )
        for model_id in MODELS
    }


@lru_cache
def get_rate_limiter() -> DynamoDBRateLimiter:
    """The per-account limiter, settling into the usage ledger."""
    from sparkai.limits.limiter import DynamoDBRateLimiter

    settings = config.get_limiter_settings()
    return DynamoDBRateLimiter(
        settings.rate_limits_table, aws.dynamodb, usage_table=settings.usage_table
    )


@lru_cache
def get_chat_service() -> ChatService:
    from sparkai.chat.service import ChatService
    from sparkai.chat.tokens import token_counter_from_setting
    from sparkai.chat.usage import LogUsageRecorder

    endpoints = model_endpoints()
    return ChatService(
        endpoint_for=endpoints.__getitem__,
        limiter=get_rate_limiter(),
        tokens=token_counter_from_setting(config.get_chat_settings().prompt_tokenizer),
        usage=LogUsageRecorder(KeyStore(config.get_key_store_settings().keys_table, aws.dynamodb)),
    )


@lru_cache
def get_idempotency_store() -> DynamoDBIdempotencyStore:
    """Claims and stored answers for Idempotency-Key (settings read on the first keyed request)."""
    from sparkai.idempotency.dynamodb import DynamoDBIdempotencyStore

    settings = config.get_idempotency_settings()
    return DynamoDBIdempotencyStore(
        settings.idempotency_table, aws.dynamodb, lease_seconds=settings.idempotency_lease_seconds
    )


@lru_cache
def get_usage_reporter() -> UsageReporter:
    """The usage ledger's reports (GET /v1/usage, the dashboard): settings read on first use."""
    from sparkai.usage.reporter import UsageReporter

    settings = config.get_usage_settings()
    return UsageReporter(settings.usage_table, settings.accounts_table, aws.dynamodb)


@lru_cache
def get_account_admin() -> AccountAdmin:
    """Account and key lifecycle over the same tables and usage plans the operators' CLI uses."""
    from sparkai.accounts.edge import UsagePlanEdge
    from sparkai.accounts.service import AccountAdmin
    from sparkai.accounts.store import AccountStore
    from sparkai.keys.epochs import KeyEpochs
    from sparkai.limits.trial import TrialCounter

    settings = config.get_account_settings()
    edge = (
        UsagePlanEdge(aws.apigateway(), settings.usage_plan_prefix)
        if settings.usage_plan_prefix
        else None
    )
    return AccountAdmin(
        accounts=AccountStore(settings.accounts_table, aws.dynamodb),
        keys=KeyStore(settings.keys_table, aws.dynamodb),
        epochs=KeyEpochs(settings.rate_limits_table, aws.dynamodb),
        edge=edge,
        trials=TrialCounter(settings.rate_limits_table, aws.dynamodb),
    )


@lru_cache
def get_dashboard_service() -> DashboardService:
    """The dashboard's account operations: the account lifecycle, for one user's own account."""
    from sparkai.accounts.store import AccountStore
    from sparkai.dashboard.service import DashboardService

    settings = config.get_account_settings()
    dashboard = config.get_dashboard_settings()
    return DashboardService(
        get_account_admin(),
        KeyStore(settings.keys_table, aws.dynamodb),
        accounts=AccountStore(settings.accounts_table, aws.dynamodb),
        trial_credit_usd=dashboard.trial_credit,
        max_active_keys=dashboard.max_active_keys,
    )


@lru_cache
def get_dashboard_limiter() -> RequestRateLimiter:
    """The dashboard's per-user requests/min budget, in the rate-limits table."""
    from sparkai.limits.requests import RequestRateLimiter

    return RequestRateLimiter(config.get_account_settings().rate_limits_table, aws.dynamodb)


@lru_cache
def get_token_verifier() -> CognitoTokenVerifier:
    """Verifies dashboard ID tokens against the user pool's JWKS (fetched on first use, cached)."""
    from sparkai.dashboard.tokens import CognitoTokenVerifier

    settings = config.get_dashboard_settings()
    return CognitoTokenVerifier(
        user_pool_id=settings.user_pool_id,
        client_id=settings.user_pool_client_id,
        jwks_url=settings.cognito_jwks_url,
    )


_PROVIDERS = (
    get_authenticator,
    model_endpoints,
    get_rate_limiter,
    get_chat_service,
    get_idempotency_store,
    get_usage_reporter,
    get_account_admin,
    get_dashboard_service,
    get_dashboard_limiter,
    get_token_verifier,
)


def reset_clients() -> None:
    """Drop every AWS client (and pooled connection), and the services that hold one rather than
    a factory (the usage-plan edge). SnapStart's restore hook calls this."""
    aws.reset_clients()
    get_account_admin.cache_clear()
    get_dashboard_service.cache_clear()


def reset() -> None:
    """Forget everything: settings, clients and services (tests that change the environment)."""
    config.clear_settings_cache()
    for provider in _PROVIDERS:
        provider.cache_clear()
    reset_clients()
