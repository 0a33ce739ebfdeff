"""Names and clients for the local AWS endpoint, without the endpoint itself.

The API process needs the region and the usage-plan prefix, and the dashboard's user-pool setup
needs a client; neither needs moto. Importing them from `aws_server` loaded moto and its patches
into the API process (a third of its start-up imports) for two strings.
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
REGION = "us-east-1"


def client(service: str, url: str) -> Any:
    # boto3's stubs type client() per literal service name; callers here name any service.
    make: Any = boto3.client
    return make(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
    )
