"""The authorizer Lambda, invoked as `sam local invoke AuthorizerFunction -e events/authorizer/...`."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from sparkai import aws
from tests.conftest import JsonLogs, KeyFactory
from tests.support.events import EXAMPLE_KEY, EXAMPLE_REVOKED_KEY, load_event
from tests.support.lambda_harness import deployed, invoke


def test_valid_key_gets_an_allow_all_policy_with_context(moto: None, make_key: KeyFactory) -> None:
    created = make_key("starter", secret=EXAMPLE_KEY)

    result = invoke("AuthorizerFunction", load_event("authorizer/valid-key"))

    assert result["principalId"] == created.record.key_id
    statement = result["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    # One cached answer must serve every route and method of the stage.
    assert statement["Resource"] == [
        "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/live/*/*"
    ]
    assert result["context"] == {
        "account_id": created.record.account_id,
        "key_id": created.record.key_id,
        "key_hash": created.record.key_hash,
        "plan": "starter",
        "rpm": 30,
        "tpm": 15000,
        "key_prefix": "sk-spark-exam",  # for the access log: never more of the key
        "spend_limit_usd": "100",  # a new Starter account's default monthly limit
        "limits_epoch": 0,  # the account's limits were never changed
        "trial_credit_usd": "",  # not a trial (operators' accounts are paid unless told)
    }
    assert EXAMPLE_KEY not in str(result)


def test_lowercase_header_and_scheme_are_accepted(moto: None, make_key: KeyFactory) -> None:
    make_key(secret=EXAMPLE_KEY)
    result = invoke("AuthorizerFunction", load_event("authorizer/lowercase-header"))
    assert result["policyDocument"]["Statement"][0]["Effect"] == "Allow"


@pytest.mark.parametrize(
    "event_name",
    ["authorizer/missing-header", "authorizer/malformed-header", "authorizer/unknown-key"],
)
def test_unusable_keys_raise_unauthorized_for_a_401(
    moto: None, make_key: KeyFactory, event_name: str
) -> None:
    make_key(secret=EXAMPLE_KEY)
    # API Gateway turns exactly this exception message into the UNAUTHORIZED (401) response.
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        invoke("AuthorizerFunction", load_event(event_name))


def test_revoked_key_is_denied(moto: None, make_key: KeyFactory) -> None:
    created = make_key(secret=EXAMPLE_REVOKED_KEY)
    make_key.admin.revoke_key(created.record.key_id)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        invoke("AuthorizerFunction", load_event("authorizer/revoked-key"))


def test_expired_key_is_denied(moto: None, make_key: KeyFactory) -> None:
    created = make_key(secret=EXAMPLE_KEY)
    make_key.admin._keys.update(created.record.key_hash, expires_at=1_000_000)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        invoke("AuthorizerFunction", load_event("authorizer/valid-key"))


def test_unreadable_key_table_never_allows(moto: None) -> None:
    # Given DynamoDB failing for every call
    client = boto3.client("dynamodb", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error(
        "get_item", "ProvisionedThroughputExceededException", http_status_code=400
    )
    aws.set_client("dynamodb", client)
    # Then the authorizer fails (API Gateway answers AUTHORIZER_FAILURE, 503), never allows.
    with deployed("AuthorizerFunction") as call, stubber, pytest.raises(Exception) as raised:
        aws.set_client("dynamodb", client)  # the container's client, inside its environment
        call(load_event("authorizer/valid-key"))
    assert str(raised.value) != "Unauthorized"
    assert type(raised.value).__name__ == "AuthorizerUnavailable"


def test_key_never_appears_in_logs(moto: None, make_key: KeyFactory, json_logs: JsonLogs) -> None:
    make_key(secret=EXAMPLE_KEY)
    invoke("AuthorizerFunction", load_event("authorizer/valid-key"))
    with pytest.raises(Exception, match="Unauthorized"):
        invoke("AuthorizerFunction", load_event("authorizer/unknown-key"))
    messages = [r["message"] for r in json_logs.records()]
    assert messages == ["auth.allowed", "auth.denied"]  # the logger did write, as JSON
    assert EXAMPLE_KEY not in json_logs.text
    assert "example-unknown-key" not in json_logs.text
