"""Settings, one frozen dataclass per concern, read from SPARKAI_* variables on first use.

Why not pydantic-settings: importing it costs ~90 ms (measured in benchmarks/), which alone would
break the authorizer's cold-import budget of 1.3x a bare `import boto3`. These are plain strings,
numbers and flags, so a dataclass and a thirty-line reader do the job at no import cost.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, fields
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from sparkai.errors import ConfigurationError

PREFIX = "SPARKAI_"


def _coerce(raw: str, annotation: str, env_name: str) -> object:
    kind = annotation.replace(" | None", "").strip()
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{env_name}={raw!r} is not a valid {kind}") from exc
    return raw


def load_settings[T](cls: type[T], environ: dict[str, str] | None = None) -> T:
    """Build `cls` from SPARKAI_<FIELD> variables; fields without a default are required."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        env_name = PREFIX + f.name.upper()
        raw = env.get(env_name)
        if raw is not None and raw != "":
            values[f.name] = _coerce(raw, str(f.type), env_name)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ConfigurationError(f"{env_name} must be set ({cls.__name__}.{f.name})")
    return cls(**values)


@dataclass(frozen=True)
class KeyStoreSettings:
    """Where API keys live (read by the authorizer and by the Function URL path)."""

    keys_table: str


@dataclass(frozen=True)
class AccountSettings:
    """Account records and the API Gateway usage plans they attach to (admin operations)."""

    accounts_table: str
    keys_table: str
    rate_limits_table: str  # each account's keys epoch lives on its limiter item (keys/epochs.py)
    # Usage plans are found by name: "<prefix>-starter", "<prefix>-pro", "<prefix>-enterprise".
    # Empty means "no API Gateway edge" (the local stack without it, or edge plans switched off).
    usage_plan_prefix: str = ""


DASHBOARD_AUTH_MODES = frozenset({"off", "authorizer", "verify"})


@dataclass(frozen=True)
class DashboardSettings:
    """The dashboard's account API (/v1/dashboard/...): who may call it, and which user pool."""

    # "off": the routes are not served, so 404 (the chat functions: they hold no key-lifecycle
    # permissions).
    # "authorizer": trust the claims of API Gateway's Cognito authorizer (the DashboardFunction).
    # "verify": check the ID token here against the pool's JWKS (the local stack; any path
    # without the Cognito authorizer in front).
    dashboard_auth: str = "off"
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    # Where the pool's signing keys are published; empty = Cognito's own URL for the pool. The
    # local stack points it at its moto server. The issuer is always Cognito's URL for the pool.
    cognito_jwks_url: str = ""
    # What a self-service account starts with: a one-off trial credit in USD, spent once (no
    # month refills it). "none": no trial, the Starter plan's monthly spend limit from the start.
    trial_credit_usd: str = "5"
    # Keys an account may have active at once (revoked and expired keys do not count).
    max_active_keys: int = 20
    # Requests per minute one signed-in user may send to the dashboard's routes.
    dashboard_requests_per_minute: int = 60

    @property
    def trial_credit(self) -> Decimal | None:
        """The trial credit as an amount (None: no trial); checked by get_dashboard_settings."""
        text = self.trial_credit_usd.strip().lower()
        return None if text == "none" else Decimal(text)


@dataclass(frozen=True)
class SignUpSettings:
    """The pre sign-up trigger's e-mail domain lists, beyond the disposable-mail list it ships."""

    blocked_email_domains: str = ""  # comma-separated; refused (with their subdomains)
    allowed_email_domains: str = ""  # comma-separated; accepted even if a list names them


@dataclass(frozen=True)
class LimiterSettings:
    """The per-account rate-limit state, and the usage ledger settled in the same transaction."""

    rate_limits_table: str
    # The UsageTable (daily aggregates per account, model and key). Empty only where no ledger is
    # deployed (a bare limiter in tests); the template sets it for every function that settles.
    usage_table: str = ""


@dataclass(frozen=True)
class UsageSettings:
    """What the usage API reads: the ledger, and the account's spend limit."""

    usage_table: str
    accounts_table: str


@dataclass(frozen=True)
class IdempotencySettings:
    """Where Idempotency-Key claims and stored answers live (read only when a request has one)."""

    idempotency_table: str
    # Seconds a claim may stay "running" before a retry may take it over (its run died).
    idempotency_lease_seconds: int = 900


@dataclass(frozen=True)
class ChatSettings:
    """The chat API: how callers are identified, request limits and model timeouts."""

    # "authorizer": trust the API Gateway Lambda authorizer's context (the buffered REST path).
    # "bearer": verify the Authorization header against the key store (Function URL, local stack).
    # "adapter": the same authorizer context, as the Lambda Web Adapter forwards API Gateway's
    # requestContext (x-amzn-request-context) to uvicorn: the streaming REST routes.
    auth_mode: str = "bearer"
    max_body_bytes: int = 1_048_576
    # Seconds to wait for the model. API Gateway cuts REST integrations at 29 s, so the
    # buffered function sets this lower to answer with its own 504 instead of a gateway one.
    model_timeout_seconds: float = 55.0
    model_connect_timeout_seconds: float = 2.0
    # How prompt tokens are counted before the call: "estimate", or "gguf:<path>" (exact).
    prompt_tokenizer: str = "estimate"
    # Every stream ends (one error event, settled and metered) before the function is killed.
    # Under Mangum the Lambda context's remaining time minus `stream_deadline_margin_seconds` is
    # used; under the Web Adapter there is no context object, so this budget from the request's
    # arrival (template: the function timeout minus a margin). 0 = no deadline.
    stream_deadline_seconds: float = 285.0
    stream_deadline_margin_seconds: float = 3.0


@lru_cache
def get_key_store_settings() -> KeyStoreSettings:
    return load_settings(KeyStoreSettings)


@lru_cache
def get_account_settings() -> AccountSettings:
    return load_settings(AccountSettings)


@lru_cache
def get_limiter_settings() -> LimiterSettings:
    return load_settings(LimiterSettings)


AUTH_MODES = frozenset({"authorizer", "adapter", "bearer"})


@lru_cache
def get_usage_settings() -> UsageSettings:
    return load_settings(UsageSettings)


@lru_cache
def get_idempotency_settings() -> IdempotencySettings:
    return load_settings(IdempotencySettings)


def dashboard_enabled() -> bool:
    """Whether this function serves the dashboard's routes (SPARKAI_DASHBOARD_AUTH not "off").
    Read when the app is built, so a chat function does not import (or route) the dashboard;
    the value itself is checked by get_dashboard_settings() when a dashboard route is used."""
    return load_settings(DashboardSettings).dashboard_auth != "off"


@lru_cache
def get_dashboard_settings() -> DashboardSettings:
    settings = load_settings(DashboardSettings)
    if settings.dashboard_auth not in DASHBOARD_AUTH_MODES:
        raise ConfigurationError("SPARKAI_DASHBOARD_AUTH must be 'off', 'authorizer' or 'verify'")
    if settings.dashboard_auth != "off" and not (
        settings.user_pool_id and settings.user_pool_client_id
    ):
        raise ConfigurationError(
            "SPARKAI_USER_POOL_ID and SPARKAI_USER_POOL_CLIENT_ID must be set for the dashboard"
        )
    try:
        credit = settings.trial_credit
    except InvalidOperation:
        credit = Decimal(-1)
    if credit is not None and not (credit.is_finite() and credit >= 0):
        raise ConfigurationError(
            f"SPARKAI_TRIAL_CREDIT_USD={settings.trial_credit_usd!r} is not an amount in USD or 'none'"
        )
    if settings.max_active_keys < 1 or settings.dashboard_requests_per_minute < 1:
        raise ConfigurationError(
            "SPARKAI_MAX_ACTIVE_KEYS and SPARKAI_DASHBOARD_REQUESTS_PER_MINUTE must be at least 1"
        )
    return settings


@lru_cache
def get_chat_settings() -> ChatSettings:
    settings = load_settings(ChatSettings)
    if settings.auth_mode not in AUTH_MODES:
        raise ConfigurationError("SPARKAI_AUTH_MODE must be 'authorizer', 'adapter' or 'bearer'")
    return settings


def endpoint_name_for(model_id: str, environ: dict[str, str] | None = None) -> str:
    """The SageMaker endpoint serving a spark model: SPARKAI_ENDPOINT_SPARK_1 etc., else the id."""
    env = os.environ if environ is None else environ
    return env.get(PREFIX + "ENDPOINT_" + model_id.upper().replace("-", "_")) or model_id


def clear_settings_cache() -> None:
    """Forget cached settings (tests change the environment between cases)."""
    for getter in (
        get_key_store_settings,
        get_account_settings,
        get_limiter_settings,
        get_idempotency_settings,
        get_usage_settings,
        get_dashboard_settings,
        get_chat_settings,
    ):
        getter.cache_clear()
