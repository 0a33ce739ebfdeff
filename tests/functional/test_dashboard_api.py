"""The dashboard's account API (/v1/dashboard/...) in process, against the local AWS endpoint
(moto's server over HTTP: DynamoDB, API Gateway usage plans, and Cognito with its JWKS), with ID
tokens from real Cognito sign-ins, and forged ones."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mangum import Mangum
from moto.utilities.utils import load_resource
from starlette.testclient import TestClient

from sparkai.api import dependencies
from sparkai.api.app import create_app
from sparkai.dashboard.tokens import CognitoTokenVerifier
from sparkai_local.cognito import LocalUserPool, sign_up_and_sign_in
from tests.support.dashboard_world import World, session
from tests.support.dynamodb_calls import DynamoDBCalls
from tests.support.function_credentials import signed_as_functions
from tests.support.lambda_harness import LambdaContext

PASSWORD = "correct-horse-42"
CHAT = {"model": "spark-1", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 16}


_users = iter(range(10**6))


def new_user(dashboard_pool: LocalUserPool) -> dict[str, str]:
    """Sign up (confirmed, as locally) and sign in: the dashboard's Authorization header."""
    email = f"user{next(_users)}-{time.monotonic_ns()}@example.com"
    tokens = sign_up_and_sign_in(dashboard_pool, email, PASSWORD)
    return session(tokens["IdToken"])


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def assert_invalid_session(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "invalid_session"
    assert response.json()["error"]["type"] == "invalid_request_error"


# -- the account and its keys ----------------------------------------------------------------------


def test_a_new_user_gets_a_starter_account(
    dashboard_api: TestClient, dashboard_pool: LocalUserPool
) -> None:
    user = new_user(dashboard_pool)
    first = dashboard_api.get("/v1/dashboard/account", headers=user)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["plan"] == "starter"
    assert body["limits"] == {"requests_per_minute": 30, "tokens_per_minute": 15000}
    assert body["month_to_date_usd"] == "0"
    assert body["email"].endswith("@example.com")
    assert first.headers["cache-control"] == "no-store"
    # The same user on a later call is the same account, not a new one.
    assert dashboard_api.get("/v1/dashboard/account", headers=user).json()["id"] == body["id"]


def test_key_lifecycle_create_list_rotate_revoke(
    dashboard_api: TestClient, dashboard_pool: LocalUserPool
) -> None:
    user = new_user(dashboard_pool)
    created = dashboard_api.post(
        "/v1/dashboard/keys", headers=user, json={"name": "ci", "expires_in_days": 30}
    )
    assert created.status_code == 201, created.text
    secret, key = created.json()["secret"], created.json()["key"]
    assert secret.startswith("sk-spark-") and key["prefix"] == secret[:13]
    assert key["status"] == "active" and key["name"] == "ci"
    assert key["expires_at"] - key["created_at"] == 30 * 86400

    listed = dashboard_api.get("/v1/dashboard/keys", headers=user)
    assert [k["id"] for k in listed.json()["data"]] == [key["id"]]
    assert secret not in listed.text  # the secret is shown once, at creation only

    rotated = dashboard_api.post(
        f"/v1/dashboard/keys/{key['id']}/rotate", headers=user, json={"grace_hours": 2}
    )
    assert rotated.status_code == 201, rotated.text
    assert rotated.json()["secret"] != secret
    previous = rotated.json()["previous"]
    assert previous["status"] == "active"  # still working during the grace period
    assert previous["expires_at"] <= time.time() + 2 * 3600 + 5

    revoked = dashboard_api.post(f"/v1/dashboard/keys/{key['id']}/revoke", headers=user)
    assert revoked.status_code == 200
    assert revoked.json()["key"]["status"] == "revoked"
    states = {
        k["id"]: k["status"]
        for k in dashboard_api.get("/v1/dashboard/keys", headers=user).json()["data"]
    }
    assert states == {key["id"]: "revoked", rotated.json()["key"]["id"]: "active"}


def test_revoking_and_rotating_look_the_key_up_once(
    dashboard_api: TestClient, dashboard_pool: LocalUserPool
) -> None:
    """The ownership check's read is the one the revocation (or rotation) works from, and the
    revoked record comes back from the write itself: one by-key-id lookup per action."""
    from sparkai import aws

    user = new_user(dashboard_pool)
    first = dashboard_api.post("/v1/dashboard/keys", headers=user, json={"name": "a"}).json()["key"]
    second = dashboard_api.post("/v1/dashboard/keys", headers=user, json={"name": "b"}).json()[
        "key"
    ]
    with DynamoDBCalls(aws.dynamodb()) as calls:
        revoked = dashboard_api.post(f"/v1/dashboard/keys/{first['id']}/revoke", headers=user)
        rotated = dashboard_api.post(
            f"/v1/dashboard/keys/{second['id']}/rotate", headers=user, json={}
        )
    lookups = [
        params["ExpressionAttributeValues"][":k"]["S"]
        for operation, params in calls.calls
        if operation == "Query" and params.get("IndexName") == "by_key_id"
    ]
    assert revoked.status_code == 200 and revoked.json()["key"]["status"] == "revoked"
    assert revoked.json()["key"]["id"] == first["id"]
    assert rotated.status_code == 201 and rotated.json()["previous"]["id"] == second["id"]
    # revoke: the ownership check only; rotate: that check and the answer's fresh "previous"
    assert lookups == [first["id"], second["id"], second["id"]]


def test_two_users_never_see_or_change_each_others_keys(
    dashboard_api: TestClient, dashboard_pool: LocalUserPool
) -> None:
    alice, mallory = new_user(dashboard_pool), new_user(dashboard_pool)
    alices_key = dashboard_api.post("/v1/dashboard/keys", headers=alice, json={"name": "a"}).json()[
        "key"
    ]
    dashboard_api.post("/v1/dashboard/keys", headers=mallory, json={"name": "m"})

    assert [
        k["name"] for k in dashboard_api.get("/v1/dashboard/keys", headers=mallory).json()["data"]
    ] == ["m"]
    for action in ("revoke", "rotate"):
        answer = dashboard_api.post(
            f"/v1/dashboard/keys/{alices_key['id']}/{action}", headers=mallory
        )
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "key_not_found"
    # ... and Alice's key is untouched.
    (still,) = dashboard_api.get("/v1/dashboard/keys", headers=alice).json()["data"]
    assert still["status"] == "active"
    assert (
        dashboard_api.post(
            "/v1/dashboard/keys/key_doesnotexist0000/revoke", headers=alice
        ).status_code
        == 404
    )


def test_bad_input_is_a_400_naming_the_parameter(
    dashboard_api: TestClient, dashboard_pool: LocalUserPool
) -> None:
    user = new_user(dashboard_pool)
    cases = [
        ("post", "/v1/dashboard/keys", {"name": "x" * 65}, "name"),
        ("post", "/v1/dashboard/keys", {"expires_in_days": 0}, "expires_in_days"),
        ("post", "/v1/dashboard/keys", {"expires_in_days": "30"}, "expires_in_days"),
        ("get", "/v1/dashboard/usage?start=2026-13-01", None, "start"),
        ("get", "/v1/dashboard/usage?start=2026-01-01&end=2026-12-31", None, "end"),
    ]
    for method, path, body, param in cases:
        answer = dashboard_api.request(method, path, headers=user, json=body)
        assert answer.status_code == 400, (path, body, answer.text)
        assert answer.json()["error"]["param"] == param
    bad_json = dashboard_api.post(
        "/v1/dashboard/keys", headers={**user, "content-type": "application/json"}, content=b"{"
    )
    assert bad_json.status_code == 400
    key = dashboard_api.post("/v1/dashboard/keys", headers=user, json={}).json()["key"]
    dashboard_api.post(f"/v1/dashboard/keys/{key['id']}/revoke", headers=user)
    # A revoked key cannot be rotated: a clear 400, not a 500.
    answer = dashboard_api.post(f"/v1/dashboard/keys/{key['id']}/rotate", headers=user)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "key_id"


# -- credentials: each opens only its own door ---------------------------------------------------------


def test_api_keys_never_open_the_dashboard_and_id_tokens_never_call_the_model(
    dashboard_api: TestClient, dashboard_pool: LocalUserPool
) -> None:
    user = new_user(dashboard_pool)
    secret = dashboard_api.post("/v1/dashboard/keys", headers=user, json={}).json()["secret"]
    assert dashboard_api.post("/v1/chat", headers=bearer(secret), json=CHAT).status_code == 200

    assert_invalid_session(dashboard_api.get("/v1/dashboard/keys", headers=bearer(secret)))
    assert_invalid_session(
        dashboard_api.post("/v1/dashboard/keys", headers=bearer(secret), json={})
    )
    for path in ("/v1/chat", "/v1/chat/completions"):
        answer = dashboard_api.post(path, headers=user, json=CHAT)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "invalid_api_key"
    assert dashboard_api.get("/v1/models", headers=user).status_code == 401


def test_revoking_in_the_dashboard_is_immediate_on_the_function_url_path(
    dashboard_api: TestClient, dashboard_pool: LocalUserPool
) -> None:
    user = new_user(dashboard_pool)
    created = dashboard_api.post(
        "/v1/dashboard/keys", headers=user, json={"name": "soon revoked"}
    ).json()
    for _ in range(2):  # the second call may use the process's recent-key guess: still checked
        assert (
            dashboard_api.post("/v1/chat", headers=bearer(created["secret"]), json=CHAT).status_code
            == 200
        )
    dashboard_api.post(f"/v1/dashboard/keys/{created['key']['id']}/revoke", headers=user)
    refused = dashboard_api.post("/v1/chat", headers=bearer(created["secret"]), json=CHAT)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "This API key has been revoked."


def test_dashboard_usage_is_exactly_the_usage_api_answer(
    dashboard_api: TestClient, dashboard_pool: LocalUserPool
) -> None:
    user = new_user(dashboard_pool)
    secret = dashboard_api.post("/v1/dashboard/keys", headers=user, json={}).json()["secret"]
    answer = dashboard_api.post("/v1/chat", headers=bearer(secret), json=CHAT).json()
    from_dashboard = dashboard_api.get("/v1/dashboard/usage", headers=user)
    assert from_dashboard.status_code == 200, from_dashboard.text
    assert from_dashboard.json() == dashboard_api.get("/v1/usage", headers=bearer(secret)).json()
    assert from_dashboard.json()["totals"]["total_tokens"] == answer["usage"]["total_tokens"]
    month = dashboard_api.get("/v1/dashboard/account", headers=user).json()
    assert month["month_to_date_usd"] == from_dashboard.json()["month_to_date_usd"] != "0"


# -- forged, expired and misdirected tokens ---------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())


def _pool_private_key() -> Any:
    """The key moto signs its pools' tokens with (it ships in moto: local use only)."""
    return jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key


def _claims(dashboard_pool: LocalUserPool, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": dashboard_pool.issuer,
        "sub": "00000000-0000-0000-0000-000000000001",
        "aud": dashboard_pool.client_id,
        "token_use": "id",
        "email": "forger@example.com",
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def forged_tokens(dashboard_pool: LocalUserPool) -> dict[str, str]:
    pool_key = _pool_private_key()
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header = {"kid": "dummy", "alg": "RS256", "typ": "JWT"}
    public_pem = pool_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_signing_input = _unsigned({"kid": "dummy", "alg": "HS256"}, _claims(dashboard_pool))
    hs256 = (
        hs_signing_input
        + "."
        + _b64(hmac.new(public_pem, hs_signing_input.encode(), hashlib.sha256).digest())
    )
    return {
        # Control: the same construction with the right key and claims is accepted (below).
        "valid": jwt.encode(_claims(dashboard_pool), pool_key, algorithm="RS256", headers=header),
        "wrong signature": jwt.encode(
            _claims(dashboard_pool), other_key, algorithm="RS256", headers=header
        ),
        "wrong audience": jwt.encode(
            _claims(dashboard_pool, aud="another-app-client"),
            pool_key,
            algorithm="RS256",
            headers=header,
        ),
        "wrong issuer": jwt.encode(
            _claims(
                dashboard_pool, iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"
            ),
            pool_key,
            algorithm="RS256",
            headers=header,
        ),
        "expired": jwt.encode(
            _claims(dashboard_pool, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
            pool_key,
            algorithm="RS256",
            headers=header,
        ),
        "access token": jwt.encode(
            _claims(dashboard_pool, token_use="access"), pool_key, algorithm="RS256", headers=header
        ),
        "no expiry": jwt.encode(
            _claims(dashboard_pool, exp=None), pool_key, algorithm="RS256", headers=header
        ),
        "alg none": _unsigned({"kid": "dummy", "alg": "none"}, _claims(dashboard_pool)) + ".",
        "HS256 with the public key": hs256,
        "unknown kid": jwt.encode(
            _claims(dashboard_pool),
            pool_key,
            algorithm="RS256",
            headers={**header, "kid": "rotated-away"},
        ),
        "garbage": "not.a.jwt",
    }


FORGERIES = [
    "wrong signature",
    "wrong audience",
    "wrong issuer",
    "expired",
    "access token",
    "no expiry",
    "alg none",
    "HS256 with the public key",
    "unknown kid",
    "garbage",
]


@pytest.mark.parametrize("forgery", FORGERIES)
def test_forged_expired_and_misdirected_tokens_get_401(
    dashboard_api: TestClient, dashboard_pool: LocalUserPool, forgery: str
) -> None:
    tokens = forged_tokens(dashboard_pool)
    control = dashboard_api.get("/v1/dashboard/keys", headers=session(tokens["valid"]))
    assert control.status_code == 200, control.text  # the forgery alone makes the difference
    assert_invalid_session(
        dashboard_api.get("/v1/dashboard/keys", headers=session(tokens[forgery]))
    )


def test_missing_token_gets_401_with_a_www_authenticate(
    dashboard_api: TestClient, dashboard_pool: LocalUserPool
) -> None:
    answer = dashboard_api.get("/v1/dashboard/account")
    assert_invalid_session(answer)
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_the_token_goes_alone_as_api_gateways_cognito_authorizer_takes_it(
    dashboard_api: TestClient, dashboard_pool: LocalUserPool
) -> None:
    # API Gateway's COGNITO_USER_POOLS authorizer reads the whole header as the token; a
    # "Bearer " scheme in front is not part of what it documents, so the local stack refuses it.
    headers = new_user(dashboard_pool)
    assert dashboard_api.get("/v1/dashboard/account", headers=headers).status_code == 200
    prefixed = {"Authorization": "Bearer " + headers["Authorization"]}
    assert_invalid_session(dashboard_api.get("/v1/dashboard/account", headers=prefixed))


def test_a_real_token_expires_with_the_clock(dashboard_pool: LocalUserPool) -> None:
    token = sign_up_and_sign_in(
        dashboard_pool, f"clock-{time.monotonic_ns()}@example.com", PASSWORD
    )["IdToken"]
    now = CognitoTokenVerifier(
        user_pool_id=dashboard_pool.pool_id,
        client_id=dashboard_pool.client_id,
        jwks_url=dashboard_pool.jwks_url,
    )
    assert now.verify(token).email.startswith("clock-")
    later = CognitoTokenVerifier(
        user_pool_id=dashboard_pool.pool_id,
        client_id=dashboard_pool.client_id,
        jwks_url=dashboard_pool.jwks_url,
        clock=lambda: time.time() + 3601,  # moto's ID tokens last an hour, as Cognito's do
    )
    from sparkai.errors import InvalidSessionError

    with pytest.raises(InvalidSessionError):
        later.verify(token)


# -- where the dashboard is off, and behind API Gateway's Cognito authorizer ----------------------------


def test_dashboard_routes_are_404_where_the_dashboard_is_off(
    dashboard_pool: LocalUserPool, dashboard_aws: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARKAI_DASHBOARD_AUTH", "off")
    with signed_as_functions(dashboard_aws[2], create_app()) as app, TestClient(app) as client:
        answer = client.get("/v1/dashboard/keys", headers=new_user(dashboard_pool))
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def _gateway_event(path: str, method: str, claims: dict[str, Any] | None) -> dict[str, Any]:
    """A REST API proxy event as API Gateway sends it after its Cognito authorizer allowed it."""
    event = json.loads(
        (Path(__file__).resolve().parents[2] / "events" / "chat" / "get-models.json").read_text()
    )
    event.update(path=path, resource=path, httpMethod=method, body=None)
    event["requestContext"].update(resourcePath=path, httpMethod=method)
    event["requestContext"]["authorizer"] = {} if claims is None else {"claims": claims}
    # The Authorization header is irrelevant here: API Gateway already checked it.
    event["headers"]["Authorization"] = event["multiValueHeaders"]["Authorization"][0] = "Bearer x"
    return event


def test_behind_api_gateway_the_cognito_authorizers_claims_identify_the_user(
    dashboard_pool: LocalUserPool, dashboard_aws: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARKAI_DASHBOARD_AUTH", "authorizer")
    dependencies.reset()
    with signed_as_functions(dashboard_aws[2], create_app()) as app:  # DashboardFunction's role
        handler = Mangum(app, lifespan="off")
        claims = {
            "sub": "11111111-2222-3333-4444-555555555555",
            "aud": dashboard_pool.client_id,
            "token_use": "id",
            "email": "gateway@example.com",
            "iss": dashboard_pool.issuer,
        }
        answer = handler(
            _gateway_event("/v1/dashboard/account", "GET", claims), LambdaContext("Dashboard")
        )
        assert answer["statusCode"] == 200, answer["body"]
        assert json.loads(answer["body"])["email"] == "gateway@example.com"

        for broken in (
            None,
            {**claims, "aud": "another-client"},
            {**claims, "token_use": "access"},
        ):
            answer = handler(
                _gateway_event("/v1/dashboard/account", "GET", broken), LambdaContext("Dashboard")
            )
            assert answer["statusCode"] == 401, broken
            assert json.loads(answer["body"])["error"]["code"] == "invalid_session"
