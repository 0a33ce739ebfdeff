"""API Gateway usage plans: one API key per account, attached to its tier's plan (the edge throttle).

Regional quota: 10,000 API keys per AWS account and region (adjustable through Service Quotas).
Past it CreateApiKey fails with LimitExceededException; key creation then stops with
EdgeQuotaError and a clear message, because an account without an edge key would get 403 from
API Gateway (methods require a usage-plan key). Raise the quota, or deploy a second stack.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from types_boto3_apigateway.client import APIGatewayClient


# The tag naming the stack (usage-plan prefix) an API key belongs to: the IAM condition key
# aws:ResourceTag/sparkai:stack scopes the dashboard's key changes to this stack's keys.
STACK_TAG = "sparkai:stack"


class EdgeQuotaError(RuntimeError):
    """API Gateway refused to create another API key (the regional quota is reached)."""


class Edge(Protocol):
    def create_key(self, account_id: str, plan: str) -> tuple[str, str]: ...

    def delete_key(self, key_id: str) -> None: ...

    def move_key(self, key_id: str, old_plan: str, new_plan: str) -> None: ...

    def set_enabled(self, key_id: str, enabled: bool) -> None: ...


class NoEdge:
    """No API Gateway in front (local stack, or usage plans switched off): nothing to do."""

    def create_key(self, account_id: str, plan: str) -> tuple[str, str]:
        return "", ""

    def delete_key(self, key_id: str) -> None:
        return None

    def move_key(self, key_id: str, old_plan: str, new_plan: str) -> None:
        return None

    def set_enabled(self, key_id: str, enabled: bool) -> None:
        return None


class UsagePlanEdge:
    """Usage plans named '<prefix>-<plan>' (template.yaml names them '<stack>-starter' etc.)."""

    def __init__(self, client: APIGatewayClient, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._plan_ids: dict[str, str] = {}

    def plan_id(self, plan: str) -> str:
        if not self._plan_ids:
            for page in self._client.get_paginator("get_usage_plans").paginate():
                for item in page.get("items", []):
                    self._plan_ids[item["name"]] = item["id"]
        name = f"{self._prefix}-{plan}"
        if name not in self._plan_ids:
            raise LookupError(
                f"usage plan {name!r} not found; is SPARKAI_USAGE_PLAN_PREFIX the stack name?"
            )
        return self._plan_ids[name]

    def create_key(self, account_id: str, plan: str) -> tuple[str, str]:
        """A new API key for the account, attached to the plan, DISABLED; returns (id, value).

        Disabled until the caller has stored its id (then set_enabled): a key that no account
        record points to must never open the API, whatever fails between the two writes.
        Tagged with the stack (the prefix is the stack's name), so the dashboard's role may
        change and delete only this stack's keys (template.yaml, aws:ResourceTag)."""
        usage_plan_id = self.plan_id(plan)
        try:
            key = self._client.create_api_key(
                name=f"{self._prefix}-{account_id}",
                description=f"SparkAI Stream usage key of {account_id} (never given to clients)",
                enabled=False,
                value=secrets.token_urlsafe(30),
                tags={STACK_TAG: self._prefix, "sparkai:account": account_id},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "LimitExceededException":
                raise EdgeQuotaError(
                    "API Gateway's quota of API keys in this region is reached (10,000 by default). "
                    "Request an increase in Service Quotas, then create the key again."
                ) from exc
            raise
        self._client.create_usage_plan_key(
            usagePlanId=usage_plan_id, keyId=key["id"], keyType="API_KEY"
        )
        return key["id"], key["value"]

    def delete_key(self, key_id: str) -> None:
        """Delete an API key (its usage-plan attachments go with it); gone already is fine."""
        try:
            self._client.delete_api_key(apiKey=key_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NotFoundException":
                raise

    def move_key(self, key_id: str, old_plan: str, new_plan: str) -> None:
        if old_plan == new_plan:
            return
        self._client.create_usage_plan_key(
            usagePlanId=self.plan_id(new_plan), keyId=key_id, keyType="API_KEY"
        )
        try:
            self._client.delete_usage_plan_key(usagePlanId=self.plan_id(old_plan), keyId=key_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NotFoundException":
                raise

    def set_enabled(self, key_id: str, enabled: bool) -> None:
        self._client.update_api_key(
            apiKey=key_id,
            patchOperations=[{"op": "replace", "path": "/enabled", "value": str(enabled).lower()}],
        )
