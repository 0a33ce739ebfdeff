"""Sign-up is not free money (issue 25 §3), seen from the dashboard: a self-service account is a
trial and says so, keys only for a verified e-mail address, a cap on active keys, and a per-user
request budget on the dashboard's own routes. In process, against the local AWS endpoint (moto's
server: DynamoDB and Cognito with real sign-ins), as tests/functional/test_dashboard_api.py."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
from starlette.testclient import TestClient

from sparkai.api import dashboard as dashboard_routes
from sparkai.api.app import create_app
from sparkai.errors import DashboardRateLimitExceededError
from sparkai.limits.requests import RequestRateLimiter
from sparkai_local.cognito import LocalUserPool, sign_up_and_sign_in
from sparkai_local.dashboard_site import create_dashboard_app, spa_config
from sparkai_local.endpoint import LOCAL_TABLES, client
from tests.support.clock import T0
from tests.support.dashboard_world import World, session
from tests.support.function_credentials import signed_as_functions

PASSWORD = "correct-horse-42"
CHAT = {"model": "spark-1", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 16}


_users = iter(range(10**6))


def new_user(dashboard_pool: LocalUserPool, *, verified: bool = True) -> dict[str, str]:
    email = f"trial{next(_users)}-{time.monotonic_ns()}@example.com"
    tokens = sign_up_and_sign_in(dashboard_pool, email, PASSWORD, verify_email=verified)
    return session(tokens["IdToken"])


# -- a self-service account is a trial ------------------------------------------------------------


def test_a_new_account_is_a_trial_and_the_dashboard_says_what_is_left(
    dashboard_api: TestClient, dashboard_pool: LocalUserPool
) -> None:
    user = new_user(dashboard_pool)
    account = dashboard_api.get("/v1/dashboard/account", headers=user).json()
    assert account["trial"] == {"credit_usd": "5", "used_usd": "0", "remaining_usd": "5"}
    assert account["email_verified"] is True
    # A key of the account spends from the credit, and the page shows it.
    secret = dashboard_api.post("/v1/dashboard/keys", headers=user, json={"name": "t"}).json()[
        "secret"
    ]
    answer = dashboard_api.post(
        "/v1/chat", json=CHAT, headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status_code == 200, answer.text
    cost = Decimal("0.0003") * answer.json()["usage"]["total_tokens"] / 1000
    trial = dashboard_api.get("/v1/dashboard/account", headers=user).json()["trial"]
    assert Decimal(trial["used_usd"]) == cost
    assert Decimal(trial["remaining_usd"]) == Decimal(5) - cost


def test_the_trial_credit_is_the_operators_setting(
    dashboard_api: TestClient, dashboard_pool: LocalUserPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparkai import wiring

    monkeypatch.setenv("SPARKAI_TRIAL_CREDIT_USD", "none")  # no trial: the old Starter account
    wiring.reset()
    account = dashboard_api.get("/v1/dashboard/account", headers=new_user(dashboard_pool)).json()
    assert account["trial"] is None and account["spend_limit_usd"] == "100"


# -- keys only for a verified address -------------------------------------------------------------


def test_an_unverified_address_gets_no_keys(
    dashboard_api: TestClient, dashboard_pool: LocalUserPool
) -> None:
    user = new_user(dashboard_pool, verified=False)
    account = dashboard_api.get("/v1/dashboard/account", headers=user)
    assert account.status_code == 200 and account.json()["email_verified"] is False
    for path in ("/v1/dashboard/keys", "/v1/dashboard/keys/key_0000000000000000/rotate"):
        refused = dashboard_api.post(path, headers=user, json={"name": "x"})
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["code"] == "email_not_verified" and error["type"] == "invalid_request_error"
        assert "Verify your e-mail" in error["message"]
    assert dashboard_api.get("/v1/dashboard/keys", headers=user).json()["data"] == []


def _local_sign_up(pool: LocalUserPool, email: str) -> httpx.Response:
    """The browser's SignUp call through the local dashboard's sign-up route."""
    app = create_dashboard_app(spa_config(pool, "http://127.0.0.1:3000"))
    with TestClient(app) as site:
        return site.post(
            "/dashboard/local-sign-up",
            content=json.dumps(
                {
                    "ClientId": pool.client_id,
                    "Username": email,
                    "Password": PASSWORD,
                    "UserAttributes": [{"Name": "email", "Value": email}],
                }
            ),
            headers={"x-amz-target": "AWSCognitoIdentityProviderService.SignUp"},
        )


def test_the_local_sign_up_verifies_the_address_as_the_code_would(
    dashboard_pool: LocalUserPool,
) -> None:
    # The same user signed up through the local sign-up route (the browser's path) is verified.
    email = f"local{time.monotonic_ns()}@example.com"
    answer = _local_sign_up(dashboard_pool, email)
    assert answer.status_code == 200, answer.text
    user = client("cognito-idp", dashboard_pool.aws_url).admin_get_user(
        UserPoolId=dashboard_pool.pool_id, Username=email
    )
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert user["UserStatus"] == "CONFIRMED" and attributes["email_verified"] == "true"


def test_the_local_sign_up_refuses_a_disposable_address_as_the_trigger_does(
    dashboard_pool: LocalUserPool,
) -> None:
    email = f"x{time.monotonic_ns()}@mailinator.com"
    answer = _local_sign_up(dashboard_pool, email)
    assert answer.status_code == 400
    assert answer.json()["__type"] == "UserLambdaValidationException"
    assert answer.json()["message"].startswith("PreSignUp failed with error ")
    assert "mailinator.com" in answer.json()["message"]
    users = client("cognito-idp", dashboard_pool.aws_url).list_users(
        UserPoolId=dashboard_pool.pool_id, Filter=f'email = "{email}"'
    )["Users"]
    assert users == []  # no user was created


# -- a cap on active keys ---------------------------------------------------------------------------


def test_the_21st_active_key_is_refused_until_one_is_revoked(
    dashboard_api: TestClient, dashboard_pool: LocalUserPool
) -> None:
    user = new_user(dashboard_pool)
    keys = []
    for n in range(20):
        created = dashboard_api.post("/v1/dashboard/keys", headers=user, json={"name": f"k{n}"})
        assert created.status_code == 201, (n, created.text)
        keys.append(created.json()["key"]["id"])
    refused = dashboard_api.post("/v1/dashboard/keys", headers=user, json={"name": "k20"})
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "active_key_limit_reached" and error["type"] == "invalid_request_error"
    assert "20" in error["message"] and "Revoke" in error["message"]
    assert len(dashboard_api.get("/v1/dashboard/keys", headers=user).json()["data"]) == 20
    # Revoked keys do not count: revoking one makes room for one.
    assert (
        dashboard_api.post(f"/v1/dashboard/keys/{keys[0]}/revoke", headers=user).status_code == 200
    )
    assert (
        dashboard_api.post("/v1/dashboard/keys", headers=user, json={"name": "k20"}).status_code
        == 201
    )
    assert (
        dashboard_api.post("/v1/dashboard/keys", headers=user, json={"name": "k21"}).status_code
        == 409
    )


# -- the dashboard's own routes are rate-limited per user ---------------------------------------------


def test_a_user_over_the_dashboard_budget_gets_429_and_others_do_not(
    dashboard_api: TestClient, dashboard_pool: LocalUserPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparkai import aws as aws_clients
    from sparkai import wiring

    # Given 5 requests a minute per user and a frozen clock (nothing refills during the test)
    monkeypatch.setenv("SPARKAI_DASHBOARD_REQUESTS_PER_MINUTE", "5")
    wiring.reset()
    limiter = RequestRateLimiter(
        LOCAL_TABLES["RateLimitsTable"], aws_clients.dynamodb, clock=lambda: T0
    )
    monkeypatch.setattr(dashboard_routes, "get_dashboard_limiter", lambda: limiter)
    alice, bob = new_user(dashboard_pool), new_user(dashboard_pool)
    for _ in range(5):
        assert dashboard_api.get("/v1/dashboard/keys", headers=alice).status_code == 200
    # When Alice sends a sixth, on any dashboard route
    refused = dashboard_api.post("/v1/dashboard/keys", headers=alice, json={"name": "x"})
    # Then it is a 429 in the documented shape, saying when to retry, and nothing was done
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert refused.json()["error"]["type"] == "requests"
    assert "5" in refused.json()["error"]["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # And Bob's budget is his own
    assert dashboard_api.get("/v1/dashboard/keys", headers=bob).json()["data"] == []


def test_the_dashboard_budget_is_exact_under_concurrency(dashboard_aws: World) -> None:
    # 12 workers x 3 attempts at once against 20 a minute, frozen clock: exactly 20 pass.
    url, _, _ = dashboard_aws
    workers, attempts = 12, 3
    start = threading.Barrier(workers)

    def run(_: int) -> int:
        dynamodb = client("dynamodb", url)
        limiter = RequestRateLimiter(
            LOCAL_TABLES["RateLimitsTable"], lambda: dynamodb, clock=lambda: T0
        )
        start.wait()
        admitted = 0
        for _ in range(attempts):
            try:
                limiter.admit("dashboard#racer", 20)
                admitted += 1
            except DashboardRateLimitExceededError:
                pass
        return admitted

    with ThreadPoolExecutor(workers) as workers_pool:
        assert sum(workers_pool.map(run, range(workers))) == 20


def test_behind_api_gateway_the_claim_decides_too(
    dashboard_pool: LocalUserPool, dashboard_aws: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """API Gateway's Cognito authorizer passes every claim as a string: "true" is verified,
    "false" (or no claim) is not."""
    from mangum import Mangum

    from sparkai import wiring
    from tests.functional.test_dashboard_api import _gateway_event
    from tests.support.lambda_harness import LambdaContext

    monkeypatch.setenv("SPARKAI_DASHBOARD_AUTH", "authorizer")
    wiring.reset()
    with signed_as_functions(dashboard_aws[2], create_app()) as app:  # DashboardFunction's role
        handler = Mangum(app, lifespan="off")
        for verified, status in (("true", 201), ("false", 403), (None, 403)):
            claims = {
                "sub": f"gateway-{verified}-{time.monotonic_ns()}",
                "aud": dashboard_pool.client_id,
                "token_use": "id",
                "email": "gateway@example.com",
                "iss": dashboard_pool.issuer,
            }
            if verified is not None:
                claims["email_verified"] = verified
            event = _gateway_event("/v1/dashboard/keys", "POST", claims)
            event["body"] = json.dumps({"name": "gw"})
            answer = handler(event, LambdaContext("Dashboard"))
            assert answer["statusCode"] == status, (verified, answer["body"])
