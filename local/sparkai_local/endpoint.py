"""Names and clients for the local AWS endpoint, without the endpoint itself.

The API process needs the region and the usage-plan prefix, the dashboard's user-pool setup needs
a client, and whatever points the app or the admin CLI at the local tables needs their names and
settings variables; none of it needs moto. Importing them from `aws_server` loaded moto and its
patches into the API process (a third of its start-up imports) for two strings.
"""

from __future__ import annotations

from typing import Any

import boto3

LOCAL_TABLES = {
    "ApiKeysTable": "sparkai-local-api-keys",
    "AccountsTable": "sparkai-local-accounts",
    "RateLimitsTable": "sparkai-local-rate-limits",
    "UsageTable": "sparkai-local-usage",
    "IdempotencyTable": "sparkai-local-idempotency",
}
LOCAL_USAGE_PLAN_PREFIX = "sparkai-local"
# The settings variable naming each table (sparkai/config.py), by the template's logical id.
TABLE_SETTINGS = {
    "ApiKeysTable": "SPARKAI_KEYS_TABLE",
    "AccountsTable": "SPARKAI_ACCOUNTS_TABLE",
    "RateLimitsTable": "SPARKAI_RATE_LIMITS_TABLE",
    "UsageTable": "SPARKAI_USAGE_TABLE",
    "IdempotencyTable": "SPARKAI_IDEMPOTENCY_TABLE",
}
REGION = "us-east-1"


def table_environment(tables: dict[str, str] = LOCAL_TABLES) -> dict[str, str]:
    """The SPARKAI_*_TABLE variables that point the app at these tables."""
    return {TABLE_SETTINGS[logical]: name for logical, name in tables.items()}


def client(service: str, url: str) -> Any:
    # boto3's stubs type client() per literal service name; callers here name any service.
    make: Any = boto3.client
    return make(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - the local operator key (iam_enforcer.OPERATOR_KEY)
    )
