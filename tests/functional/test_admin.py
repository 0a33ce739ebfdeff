"""Account and key lifecycle (AccountAdmin and sparkai-admin) against moto, API Gateway included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from sparkai.accounts.edge import EdgeQuotaError, UsagePlanEdge
from sparkai.accounts.service import AccountAdmin, AdminError
from sparkai.accounts.store import AccountStore
from sparkai.auth.authenticator import Authenticator
from sparkai.errors import InvalidApiKeyError
from sparkai.keys.epochs import KeyEpochs
from sparkai.keys.store import KeyStore
from sparkai.plans import Limits
from tests.conftest import REGION, TABLES
from tests.support.admin_cli import run_cli
from tests.support.clock import Clock
from tests.support.usage_plans import usage_plans_api

PREFIX = "sparkai-test"


@pytest.fixture
def apigateway(moto: None) -> Any:
    return usage_plans_api(PREFIX)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(moto: None) -> KeyStore:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    return KeyStore(TABLES["ApiKeysTable"], lambda: dynamodb)


@pytest.fixture
def lifecycle(store: KeyStore, apigateway: Any, clock: Clock) -> AccountAdmin:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    return AccountAdmin(
        accounts=AccountStore(TABLES["AccountsTable"], lambda: dynamodb),
        keys=store,
        epochs=KeyEpochs(TABLES["RateLimitsTable"], lambda: dynamodb),
        edge=UsagePlanEdge(apigateway, PREFIX),
        clock=clock,
    )


@pytest.fixture
def authenticator(store: KeyStore, clock: Clock) -> Authenticator:
    return Authenticator(store, clock=clock)


def plan_of_usage_key(apigateway: Any, key_id: str) -> list[str]:
    names = []
    for plan in apigateway.get_usage_plans()["items"]:
        keys = apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]
        if any(k["id"] == key_id for k in keys):
            names.append(plan["name"].removeprefix(PREFIX + "-"))
    return names


def test_a_key_is_shown_once_and_stored_only_as_a_digest(lifecycle: AccountAdmin) -> None:
    account = lifecycle.create_account("starter", name="Acme")
    created = lifecycle.create_key(account.account_id, name="ci")
    assert created.secret.startswith("sk-spark-") and len(created.secret) >= len("sk-spark-") + 43
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=TABLES["ApiKeysTable"])[
        "Items"
    ]
    assert len(items) == 1
    assert created.secret not in json.dumps(items)
    assert created.secret.removeprefix("sk-spark-")[:12] not in json.dumps(items)
    (listed,) = lifecycle.list_keys(account.account_id)
    assert (
        listed.prefix == created.secret[:13] and listed.name == "ci" and listed.status == "active"
    )


def test_keys_are_random(lifecycle: AccountAdmin) -> None:
    account = lifecycle.create_account("pro")
    secrets = {lifecycle.create_key(account.account_id).secret for _ in range(20)}
    assert len(secrets) == 20


def test_plans_and_enterprise_limits(lifecycle: AccountAdmin, authenticator: Authenticator) -> None:
    enterprise = lifecycle.create_account("enterprise", limits=Limits(600, 1_000_000))
    key = lifecycle.create_key(enterprise.account_id)
    assert authenticator.authenticate(f"Bearer {key.secret}").limits == Limits(600, 1_000_000)
    with pytest.raises(AdminError, match="enterprise plan needs"):
        lifecycle.create_account("enterprise")
    with pytest.raises(AdminError, match="fixed limits"):
        lifecycle.create_account("starter", limits=Limits(1000, 1000))
    with pytest.raises(AdminError, match="unknown plan"):
        lifecycle.create_account("gold")


def test_the_account_gets_an_api_gateway_key_on_its_tier_plan(
    lifecycle: AccountAdmin, apigateway: Any, authenticator: Authenticator
) -> None:
    account = lifecycle.create_account("starter")
    key = lifecycle.create_key(account.account_id)
    account = lifecycle.get_account(account.account_id)
    assert plan_of_usage_key(apigateway, account.usage_key_id) == ["starter"]
    # The authorizer hands API Gateway this value as usageIdentifierKey.
    assert authenticator.authenticate(f"Bearer {key.secret}").usage_key == account.usage_key
    edge_key = apigateway.get_api_key(apiKey=account.usage_key_id, includeValue=True)
    assert edge_key["value"] == account.usage_key
    assert edge_key["enabled"] is True  # created disabled, enabled once recorded
    assert edge_key["tags"] == {"sparkai:stack": PREFIX, "sparkai:account": account.account_id}
    # A second key shares the account's API Gateway key.
    lifecycle.create_key(account.account_id)
    assert len(apigateway.get_api_keys()["items"]) == 1


class StoreDown(Exception):
    """The accounts table failing (throttled, unreachable) after CreateApiKey succeeded."""


class FailingClaims(AccountStore):
    def claim_usage_key(self, account_id: str, key_id: str, value: str) -> bool:
        raise StoreDown


class UndeletableKeys(UsagePlanEdge):
    def delete_key(self, key_id: str) -> None:
        raise StoreDown  # API Gateway failing too: the key cannot be cleaned up


@pytest.mark.parametrize("edge_cls", [UsagePlanEdge, UndeletableKeys])
def test_a_failing_store_leaves_no_enabled_api_gateway_key(
    store: KeyStore, apigateway: Any, edge_cls: type[UsagePlanEdge]
) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    admin = AccountAdmin(
        accounts=FailingClaims(TABLES["AccountsTable"], lambda: dynamodb),
        keys=store,
        epochs=KeyEpochs(TABLES["RateLimitsTable"], lambda: dynamodb),
        edge=edge_cls(apigateway, PREFIX),
    )
    account = admin.create_account("starter")
    for _ in range(3):  # the client retrying a failed first key creation
        with pytest.raises(StoreDown):
            admin.create_key(account.account_id)
    left = apigateway.get_api_keys()["items"]
    if edge_cls is UsagePlanEdge:
        assert left == []  # each request deleted the key it created
    else:
        assert len(left) == 3 and not any(key["enabled"] for key in left)
    assert admin.list_keys(account.account_id) == []
    assert admin.get_account(account.account_id).usage_key_id == ""


def test_changing_plan_moves_the_usage_key_and_every_key_limit(
    lifecycle: AccountAdmin, apigateway: Any, authenticator: Authenticator
) -> None:
    account = lifecycle.create_account("starter")
    keys = [lifecycle.create_key(account.account_id) for _ in range(2)]
    lifecycle.change_plan(account.account_id, "pro")
    usage_key_id = lifecycle.get_account(account.account_id).usage_key_id
    assert plan_of_usage_key(apigateway, usage_key_id) == ["pro"]
    for key in keys:  # immediately visible to the Function URL path's key check
        principal = authenticator.authenticate(f"Bearer {key.secret}")
        assert principal.plan == "pro" and principal.limits == Limits(90, 75_000)


def test_revocation_is_immediate_and_the_last_revocation_disables_the_usage_key(
    lifecycle: AccountAdmin, apigateway: Any, authenticator: Authenticator
) -> None:
    account = lifecycle.create_account("pro")
    first, second = (
        lifecycle.create_key(account.account_id),
        lifecycle.create_key(account.account_id),
    )
    usage_key_id = lifecycle.get_account(account.account_id).usage_key_id

    lifecycle.revoke_key(first.record.key_id)
    with pytest.raises(InvalidApiKeyError, match="revoked"):
        authenticator.authenticate(f"Bearer {first.secret}")
    assert apigateway.get_api_key(apiKey=usage_key_id)["enabled"] is True  # one key still active

    lifecycle.revoke_key(second.record.key_id)
    assert apigateway.get_api_key(apiKey=usage_key_id)["enabled"] is False

    third = lifecycle.create_key(account.account_id)  # a new key re-enables it
    assert apigateway.get_api_key(apiKey=usage_key_id)["enabled"] is True
    assert authenticator.authenticate(f"Bearer {third.secret}").account_id == account.account_id


def test_rotation_keeps_the_old_key_for_the_grace_period(
    lifecycle: AccountAdmin, authenticator: Authenticator, clock: Clock
) -> None:
    account = lifecycle.create_account("pro")
    old = lifecycle.create_key(account.account_id, name="server")
    new = lifecycle.rotate_key(old.record.key_id)  # default grace: 24 h
    assert new.secret != old.secret and new.record.name == "server"
    authenticator.authenticate(f"Bearer {old.secret}")
    authenticator.authenticate(f"Bearer {new.secret}")
    clock.now += 24 * 3600 + 1
    with pytest.raises(InvalidApiKeyError, match="expired"):
        authenticator.authenticate(f"Bearer {old.secret}")
    authenticator.authenticate(f"Bearer {new.secret}")


def test_rotation_without_grace_revokes_at_once(
    lifecycle: AccountAdmin, authenticator: Authenticator
) -> None:
    account = lifecycle.create_account("pro")
    old = lifecycle.create_key(account.account_id)
    lifecycle.rotate_key(old.record.key_id, grace_seconds=0)
    with pytest.raises(InvalidApiKeyError, match="revoked"):
        authenticator.authenticate(f"Bearer {old.secret}")


def test_key_expiry(lifecycle: AccountAdmin, authenticator: Authenticator, clock: Clock) -> None:
    account = lifecycle.create_account("pro")
    key = lifecycle.create_key(account.account_id, expires_in=3600)
    authenticator.authenticate(f"Bearer {key.secret}")
    clock.now += 3600
    with pytest.raises(InvalidApiKeyError, match="expired"):
        authenticator.authenticate(f"Bearer {key.secret}")


def test_the_regional_api_key_quota_stops_key_creation_clearly(
    store: KeyStore, apigateway: Any
) -> None:
    stubber = Stubber(apigateway)
    stubber.add_response("get_usage_plans", {"items": [{"id": "p1", "name": f"{PREFIX}-pro"}]})
    stubber.add_client_error("create_api_key", "LimitExceededException")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    admin = AccountAdmin(
        accounts=AccountStore(TABLES["AccountsTable"], lambda: dynamodb),
        keys=store,
        epochs=KeyEpochs(TABLES["RateLimitsTable"], lambda: dynamodb),
        edge=UsagePlanEdge(apigateway, PREFIX),
    )
    account = admin.create_account("pro")
    with stubber, pytest.raises(EdgeQuotaError, match="10,000"):
        admin.create_key(account.account_id)
    assert admin.list_keys(account.account_id) == []  # nothing half-created


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, apigateway: Any) -> Iterator[None]:
    monkeypatch.setenv("SPARKAI_USAGE_PLAN_PREFIX", PREFIX)
    yield


def test_cli_round_trip(cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "--json", "account", "create", "--plan", "starter", "--name", "Acme"
    )
    assert code == 0
    account_id = json.loads(out)["account_id"]

    code, out, _ = run_cli(
        capsys, "key", "create", account_id, "--name", "laptop", "--expires-in", "90d"
    )
    assert code == 0
    secret = out.splitlines()[0]
    assert secret.startswith("sk-spark-")
    assert "only time the key is shown" in out

    code, out, _ = run_cli(capsys, "key", "list", account_id)
    assert (
        code == 0
        and secret[:13] in out
        and secret not in out
        and "laptop" in out
        and "active" in out
    )

    code, out, _ = run_cli(capsys, "--json", "key", "list", account_id)
    key_id = json.loads(out)[0]["key_id"]
    code, out, _ = run_cli(capsys, "key", "revoke", key_id)
    assert code == 0 and "revoked" in out

    code, out, _ = run_cli(capsys, "account", "set-plan", account_id, "--plan", "pro")
    assert code == 0 and "plan=pro" in out and "90 requests/min" in out

    code, _, err = run_cli(capsys, "key", "revoke", "key_doesnotexist")
    assert code == 1 and "no key" in err
