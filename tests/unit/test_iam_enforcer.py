"""The local AWS process's IAM decisions (sparkai_local.iam_enforcer) on requests as botocore
sends them: what each needs, and how a statement's conditions decide."""

from __future__ import annotations

from typing import Any

from moto.iam.access_control import PermissionResult

from sparkai_local.iam_enforcer import (
    Need,
    apigateway_needs,
    condition_holds,
    decide,
    dynamodb_attributes,
    dynamodb_needs,
)

LIMITS = "arn:aws:dynamodb:us-east-1:123456789012:table/limits"


def test_attributes_are_the_top_level_names_a_write_touches() -> None:
    request = {
        "Key": {"account_id": {"S": "a"}},
        "UpdateExpression": "ADD #ke :one SET #e = :exp, spend.month = :m",
        "ConditionExpression": "attribute_not_exists(#ke) OR size(tags[0]) > :z",
        "ExpressionAttributeNames": {"#ke": "keys_epoch", "#e": "expires_at"},
    }
    assert dynamodb_attributes("UpdateItem", request) == [
        "account_id",
        "expires_at",
        "keys_epoch",
        "spend",
        "tags",
    ]
    # A read naming no attributes reads the whole item: the key is left out (as in AWS).
    assert dynamodb_attributes("GetItem", {"Key": {"account_id": {"S": "a"}}}) is None


def test_a_transaction_needs_each_item_as_its_own_action_on_its_table() -> None:
    request: dict[str, Any] = {
        "TransactItems": [
            {"Update": {"TableName": "limits", "Key": {"account_id": {"S": "a"}}}},
            {"Put": {"TableName": "usage", "Item": {"pk": {"S": "a"}, "sk": {"S": "s"}}}},
        ]
    }
    needs = dynamodb_needs("TransactWriteItems", request, "us-east-1")
    assert [(n.action, n.resource.rsplit("/", 1)[1]) for n in needs] == [
        ("dynamodb:UpdateItem", "limits"),
        ("dynamodb:PutItem", "usage"),
    ]
    assert all(n.context["dynamodb:EnclosingOperation"] == ["TransactWriteItems"] for n in needs)


def test_creating_a_tagged_api_key_needs_post_and_put_with_its_request_tags() -> None:
    body = b'{"name": "k", "tags": {"sparkai:stack": "s"}}'
    needs = apigateway_needs("POST", "/apikeys", body, "us-east-1", lambda path: {})
    assert [n.action for n in needs] == ["apigateway:POST", "apigateway:PUT"]
    assert needs[0].resource == "arn:aws:apigateway:us-east-1::/apikeys"
    assert needs[1].resource.startswith("arn:aws:apigateway:us-east-1::/tags/")
    assert needs[0].context["aws:RequestTag/sparkai:stack"] == ["s"]


def only(attributes: list[str]) -> dict[str, Any]:
    return {"ForAllValues:StringEquals": {"dynamodb:Attributes": attributes}}


def test_for_all_values_holds_for_a_subset_and_for_a_missing_key() -> None:
    condition = only(["account_id", "keys_epoch", "expires_at"])
    assert condition_holds(condition, {"dynamodb:Attributes": ["account_id", "keys_epoch"]})
    assert not condition_holds(condition, {"dynamodb:Attributes": ["account_id", "spend_usd"]})
    assert condition_holds(condition, {})  # AWS: ForAllValues over no values holds


def test_a_condition_on_a_key_not_computed_here_never_holds() -> None:
    assert not condition_holds(
        {"ForAllValues:StringEquals": {"dynamodb:Select": ["a"]}}, {"x": ["a"]}
    )


def test_single_valued_and_tag_conditions() -> None:
    condition = {"StringEquals": {"aws:ResourceTag/sparkai:stack": "prod"}}
    assert condition_holds(condition, {"aws:ResourceTag/sparkai:stack": ["prod"]})
    assert not condition_holds(condition, {"aws:ResourceTag/sparkai:stack": ["dev"]})
    assert not condition_holds(condition, {})  # an untagged key is not this stack's


def test_deny_wins_and_a_failed_condition_only_skips_its_statement() -> None:
    allow_epoch = {
        "Effect": "Allow",
        "Action": "dynamodb:UpdateItem",
        "Resource": LIMITS,
        "Condition": only(["account_id", "keys_epoch"]),
    }
    spend = Need("dynamodb:UpdateItem", LIMITS, {"dynamodb:Attributes": ["account_id", "spend"]})
    epoch = Need("dynamodb:UpdateItem", LIMITS, {"dynamodb:Attributes": ["account_id"]})
    assert decide([allow_epoch], epoch) == PermissionResult.PERMITTED
    assert decide([allow_epoch], spend) == PermissionResult.NEUTRAL  # implicitly denied
    deny = {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}
    assert decide([allow_epoch, deny], epoch) == PermissionResult.DENIED
    other_table = Need("dynamodb:UpdateItem", LIMITS + "-2", {"dynamodb:Attributes": []})
    assert decide([allow_epoch], other_table) == PermissionResult.NEUTRAL


def test_leading_keys_are_the_items_key_so_a_budget_statement_reaches_only_its_items() -> None:
    """The dashboard's per-user budget may write its own items, never an account's limiter item
    (template.yaml DashboardRequestBudget)."""
    from moto.iam.access_control import PermissionResult

    from sparkai_local.iam_enforcer import decide, dynamodb_needs

    budget = {
        "Effect": "Allow",
        "Action": "dynamodb:UpdateItem",
        "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/limits",
        "Condition": {
            "ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["dashboard#*"]},
            "ForAllValues:StringEquals": {
                "dynamodb:Attributes": ["account_id", "req_tat", "expires_at"]
            },
        },
    }

    def update(key: str) -> PermissionResult:
        (need,) = dynamodb_needs(
            "UpdateItem",
            {
                "TableName": "limits",
                "Key": {"account_id": {"S": key}},
                "UpdateExpression": "SET #r = :n, #e = :x",
                "ExpressionAttributeNames": {"#r": "req_tat", "#e": "expires_at"},
            },
            "us-east-1",
        )
        assert need.context["dynamodb:LeadingKeys"] == [key]
        return decide([budget], need)

    assert update("dashboard#user-1") == PermissionResult.PERMITTED
    assert update("acct_0123456789abcdef") == PermissionResult.NEUTRAL
